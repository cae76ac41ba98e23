package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const defaultStatusAddr = "127.0.0.1:9265"

// statusFlags defines `gatewayctl status`: a short human summary of the
// daemon's /healthz and /metrics (metrics.listen in its configuration).
// An unhealthy daemon is shown, then reported by exit status 1.
func statusFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	addr := fs.String("addr", defaultStatusAddr, "the daemon's metrics endpoint, `HOST:PORT` (metrics.listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on the endpoint after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		client := &http.Client{Timeout: *timeout}
		health, err := fetchHealth(ctx, client, *addr)
		if err != nil {
			return err
		}
		fams, err := fetchMetrics(ctx, client, *addr)
		if err != nil {
			return err
		}
		writeStatus(std.out, *addr, health, metrics(fams))
		if !health.ok {
			return errReported
		}
		return nil
	}
}

type health struct {
	ok     bool
	reason string // the body of /healthz: "ok", or why not
}

// get fetches http://addr/path and returns its status and up to 1 MiB of body.
func get(ctx context.Context, client *http.Client, addr, path, accept string) (int, []byte, error) {
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("status endpoint %s: %w", addr, err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("cannot reach the status endpoint at %s: %s (is metrics.listen set in the config?)", addr, reason(err, client.Timeout))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %s", url, reason(err, client.Timeout))
	}
	return resp.StatusCode, body, nil
}

func fetchHealth(ctx context.Context, client *http.Client, addr string) (health, error) {
	code, body, err := get(ctx, client, addr, "/healthz", "")
	if err != nil {
		return health{}, err
	}
	text := strings.TrimSpace(string(body))
	switch code {
	case http.StatusOK:
		return health{ok: true, reason: text}, nil
	case http.StatusServiceUnavailable:
		if text == "" {
			text = "no reason given"
		}
		return health{reason: text}, nil
	}
	return health{}, fmt.Errorf("http://%s/healthz answered %d %s: is this gatewayd's metrics endpoint?", addr, code, http.StatusText(code))
}

func fetchMetrics(ctx context.Context, client *http.Client, addr string) (map[string]*dto.MetricFamily, error) {
	code, body, err := get(ctx, client, addr, "/metrics", "text/plain;version=0.0.4")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("http://%s/metrics answered %d %s", addr, code, http.StatusText(code))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http://%s/metrics: %w", addr, err)
	}
	return fams, nil
}

// metrics looks up samples in parsed metric families.
type metrics map[string]*dto.MetricFamily

// value returns the sample of family name whose labels include all of
// labels (name, value pairs), and whether there is one.
func (m metrics) value(name string, labels ...string) (float64, bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	for _, s := range f.GetMetric() {
		if hasLabels(s, labels) {
			return sampleValue(s), true
		}
	}
	return 0, false
}

// byLabel returns family name's samples keyed by the value of label.
func (m metrics) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name].GetMetric() {
		for _, lp := range s.GetLabel() {
			if lp.GetName() == label {
				out[lp.GetValue()] += sampleValue(s)
			}
		}
	}
	return out
}

// label returns the value of label on family name's first sample.
func (m metrics) label(name, label string) string {
	for _, s := range m[name].GetMetric() {
		for _, lp := range s.GetLabel() {
			if lp.GetName() == label {
				return lp.GetValue()
			}
		}
	}
	return ""
}

func hasLabels(s *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range s.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func sampleValue(s *dto.Metric) float64 {
	switch {
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Untyped != nil:
		return s.GetUntyped().GetValue()
	}
	return 0
}

// writeStatus prints the summary; a metric the daemon does not export
// shows as "n/a".
func writeStatus(w io.Writer, addr string, h health, m metrics) {
	num := func(name string, labels ...string) string {
		v, ok := m.value(name, labels...)
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v)
	}
	if v := m.label("gatewayd_build_info", "version"); v != "" {
		fmt.Fprintf(w, "gatewayd %s (commit %s, %s) at %s\n", v, m.label("gatewayd_build_info", "commit"), m.label("gatewayd_build_info", "goversion"), addr)
	} else {
		fmt.Fprintf(w, "gatewayd at %s\n", addr)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if h.ok {
		fmt.Fprintf(tw, "health\t%s\n", h.reason)
	} else {
		fmt.Fprintf(tw, "health\tUNHEALTHY: %s\n", h.reason)
	}
	fmt.Fprintf(tw, "clients\t%s connected\n", num("gatewayd_clients"))
	fmt.Fprintf(tw, "connections\t%s accepted, %s\n", num("gatewayd_connections_accepted_total"), rejected(m))
	fmt.Fprintf(tw, "messages\t%s in, %s out\n", num("gatewayd_messages_total", "direction", "in"), num("gatewayd_messages_total", "direction", "out"))
	fmt.Fprintf(tw, "bytes\t%s in, %s out\n", num("gatewayd_bytes_total", "direction", "in"), num("gatewayd_bytes_total", "direction", "out"))
	fmt.Fprintf(tw, "LEDs\t%s changes, %s events coalesced\n", num("gatewayd_led_changes_total"), num("gatewayd_led_events_coalesced_total"))
	fmt.Fprintf(tw, "GPIO errors\t%s\n", num("gatewayd_gpio_errors_total"))
	tw.Flush()
}

// rejected says how many connections were refused, and why.
func rejected(m metrics) string {
	if m["gatewayd_connections_rejected_total"] == nil {
		return "n/a rejected"
	}
	by := m.byLabel("gatewayd_connections_rejected_total", "reason")
	var total float64
	var parts []string
	for r, n := range by {
		total += n
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", r, n))
		}
	}
	sort.Strings(parts)
	s := fmt.Sprintf("%.0f rejected", total)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}
