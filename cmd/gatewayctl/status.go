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

	"github.com/gatewayd/gatewayd/gateway/control"
)

const defaultStatusAddr = "127.0.0.1:9265"

// statusFlags defines `gatewayctl status`: a short human summary of the
// daemon's health and counters, from its control socket, or from its
// /healthz and /metrics (metrics.listen) when -addr is given. An unhealthy
// daemon is shown, then reported by exit status 1.
func statusFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	socketPath := socketFlag(fs)
	addr := fs.String("addr", defaultStatusAddr, "read the metrics endpoint at `HOST:PORT` (metrics.listen) instead of the control socket")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on the daemon after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		if !flagSet(fs, "addr") {
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			st, err := control.NewClient(socketPath()).Status(ctx)
			if err != nil {
				return err
			}
			writeStatus(std.out, fromControl(socketPath(), st))
			if !st.Healthy {
				return errReported
			}
			return nil
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
		writeStatus(std.out, fromMetrics(*addr, health, metrics(fams)))
		if !health.ok {
			return errReported
		}
		return nil
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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

// summary is what status prints, each figure already a string: "n/a"
// for one the daemon does not report.
type summary struct {
	version, commit, goVersion     string // version "" when unknown
	at                             string
	health                         health
	clients, accepted, rejected    string
	msgsIn, msgsOut                string
	bytesIn, bytesOut              string
	ledChanges, ledCoalesced, gpio string
	broker                         string // "" without a bridge
}

// fromMetrics summarises the metrics endpoint's figures.
func fromMetrics(addr string, h health, m metrics) summary {
	num := func(name string, labels ...string) string {
		v, ok := m.value(name, labels...)
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v)
	}
	s := summary{
		version:   m.label("gatewayd_build_info", "version"),
		commit:    m.label("gatewayd_build_info", "commit"),
		goVersion: m.label("gatewayd_build_info", "goversion"),
		at:        addr, health: h,
		clients:    num("gatewayd_clients"),
		accepted:   num("gatewayd_connections_accepted_total"),
		rejected:   "n/a rejected",
		msgsIn:     num("gatewayd_messages_total", "direction", "in"),
		msgsOut:    num("gatewayd_messages_total", "direction", "out"),
		bytesIn:    num("gatewayd_bytes_total", "direction", "in"),
		bytesOut:   num("gatewayd_bytes_total", "direction", "out"),
		ledChanges: num("gatewayd_led_changes_total"), ledCoalesced: num("gatewayd_led_events_coalesced_total"),
		gpio: num("gatewayd_gpio_errors_total"),
	}
	if f := m["gatewayd_mqtt_connected"]; f != nil {
		connected, _ := m.value("gatewayd_mqtt_connected")
		s.broker = brokerLine(m.label("gatewayd_mqtt_connected", "broker"), connected == 1,
			num("gatewayd_mqtt_queue_messages"), num("gatewayd_mqtt_queue_bytes"))
	}
	if m["gatewayd_connections_rejected_total"] != nil {
		by := map[string]uint64{}
		for r, n := range m.byLabel("gatewayd_connections_rejected_total", "reason") {
			by[r] = uint64(n)
		}
		s.rejected = rejected(by)
	}
	return s
}

// fromControl summarises the control socket's status.
func fromControl(socket string, st control.Status) summary {
	n := func(v uint64) string { return fmt.Sprint(v) }
	broker := ""
	if b := st.MQTT; b != nil {
		broker = brokerLine(b.Broker, b.Connected, fmt.Sprint(b.QueueMessages), fmt.Sprint(b.QueueBytes))
	}
	return summary{
		broker:  broker,
		version: st.Version, commit: st.Commit, goVersion: st.GoVersion,
		at: socket, health: health{ok: st.Healthy, reason: st.Health},
		clients: fmt.Sprint(st.Clients), accepted: n(st.Accepted), rejected: rejected(st.Rejected),
		msgsIn: n(st.MessagesIn), msgsOut: n(st.MessagesOut),
		bytesIn: n(st.BytesIn), bytesOut: n(st.BytesOut),
		ledChanges: n(st.LEDChanges), ledCoalesced: n(st.LEDCoalesced), gpio: n(st.GPIOErrors),
	}
}

// writeStatus prints the summary.
func writeStatus(w io.Writer, s summary) {
	if s.version != "" {
		fmt.Fprintf(w, "gatewayd %s (commit %s, %s) at %s\n", s.version, s.commit, s.goVersion, s.at)
	} else {
		fmt.Fprintf(w, "gatewayd at %s\n", s.at)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if s.health.ok {
		fmt.Fprintf(tw, "health\t%s\n", s.health.reason)
	} else {
		fmt.Fprintf(tw, "health\tUNHEALTHY: %s\n", s.health.reason)
	}
	fmt.Fprintf(tw, "clients\t%s connected\n", s.clients)
	fmt.Fprintf(tw, "connections\t%s accepted, %s\n", s.accepted, s.rejected)
	fmt.Fprintf(tw, "messages\t%s in, %s out\n", s.msgsIn, s.msgsOut)
	fmt.Fprintf(tw, "bytes\t%s in, %s out\n", s.bytesIn, s.bytesOut)
	fmt.Fprintf(tw, "LEDs\t%s changes, %s events coalesced\n", s.ledChanges, s.ledCoalesced)
	fmt.Fprintf(tw, "GPIO errors\t%s\n", s.gpio)
	if s.broker != "" {
		fmt.Fprintf(tw, "broker\t%s\n", s.broker)
	}
	tw.Flush()
}

// brokerLine says where the MQTT bridge publishes, whether it is
// connected and what its on-disk queue holds.
func brokerLine(addr string, connected bool, msgs, bytes string) string {
	state := "connected"
	if !connected {
		state = "UNREACHABLE"
	}
	return fmt.Sprintf("%s %s, %s queued (%s bytes)", addr, state, msgs, bytes)
}

// rejected says how many connections were refused, and why.
func rejected(by map[string]uint64) string {
	var total uint64
	var parts []string
	for r, n := range by {
		total += n
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	sort.Strings(parts)
	s := fmt.Sprintf("%d rejected", total)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}
