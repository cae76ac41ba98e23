package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

const defaultStatusAddr = "127.0.0.1:9265"

// statusFlags defines `gatewayctl status`: a short human summary of the
// daemon's snapshot (control.Status), from its control socket, or from
// GET /v1/status on its metrics listener (metrics.listen) when -addr is
// given. Both carry the daemon's one health verdict; an unhealthy daemon
// is shown, then reported by exit status 1.
func statusFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	socketPath := socketFlag(fs)
	addr := fs.String("addr", defaultStatusAddr, "read GET /v1/status at `HOST:PORT` (metrics.listen) instead of the control socket")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on the daemon after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		var st control.Status
		var at string
		var err error
		if flagSet(fs, "addr") {
			at = *addr
			st, err = fetchStatus(ctx, &http.Client{Timeout: *timeout}, *addr)
		} else {
			at = socketPath()
			st, err = control.NewClient(at).Status(ctx)
		}
		if err != nil {
			return err
		}
		writeStatus(std.out, at, st)
		if !st.Healthy {
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

// get fetches http://addr/path and returns its status and up to 1 MiB of body.
func get(ctx context.Context, client *http.Client, addr, path string) (int, []byte, error) {
	url := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("status endpoint %s: %w", addr, err)
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

// fetchStatus reads the snapshot at http://addr/v1/status.
func fetchStatus(ctx context.Context, client *http.Client, addr string) (control.Status, error) {
	var st control.Status
	code, body, err := get(ctx, client, addr, "/v1/status")
	if err != nil {
		return st, err
	}
	if code != http.StatusOK {
		return st, fmt.Errorf("http://%s/v1/status answered %d %s: is this gatewayd's metrics endpoint?", addr, code, http.StatusText(code))
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Health == "" {
		return st, fmt.Errorf("http://%s/v1/status: not gatewayd's status (is this gatewayd's metrics endpoint?)", addr)
	}
	return st, nil
}

// writeStatus prints the snapshot of the daemon at at.
func writeStatus(w io.Writer, at string, s control.Status) {
	if s.Version != "" {
		fmt.Fprintf(w, "gatewayd %s (commit %s, %s) at %s\n", s.Version, s.Commit, s.GoVersion, at)
	} else {
		fmt.Fprintf(w, "gatewayd at %s\n", at)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if s.Healthy {
		fmt.Fprintf(tw, "health\t%s\n", s.Health)
	} else {
		fmt.Fprintf(tw, "health\tUNHEALTHY: %s\n", s.Health)
	}
	fmt.Fprintf(tw, "clients\t%d connected\n", s.Clients)
	fmt.Fprintf(tw, "connections\t%d accepted, %s\n", s.Accepted, rejected(s.Rejected))
	fmt.Fprintf(tw, "messages\t%d in, %d out\n", s.MessagesIn, s.MessagesOut)
	fmt.Fprintf(tw, "bytes\t%d in, %d out\n", s.BytesIn, s.BytesOut)
	fmt.Fprintf(tw, "LEDs\t%d changes, %d events coalesced\n", s.LEDChanges, s.LEDCoalesced)
	fmt.Fprintf(tw, "GPIO errors\t%d\n", s.GPIOErrors)
	if b := s.MQTT; b != nil {
		state := "connected"
		if !b.Connected {
			state = "UNREACHABLE"
		}
		fmt.Fprintf(tw, "broker\t%s %s, %d queued (%d bytes)", b.Broker, state, b.QueueMessages, b.QueueBytes)
		if b.DeadLetters > 0 {
			// Shown only when there are any: see `gatewayctl queue dead`.
			fmt.Fprintf(tw, ", %d DEAD LETTERS (gatewayctl queue dead)", b.DeadLetters)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
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
