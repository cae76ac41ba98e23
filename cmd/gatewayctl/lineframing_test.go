package main

import (
	"strings"
	"testing"
)

// Against a real gatewayd with framing: line, bench and send without
// -lines send no LF, so nothing is echoed: each says so and what to do,
// and exits 1; none hangs. With -lines both work.
func TestLineFramingTraps(t *testing.T) {
	_, gw := startGatewayd(t, "framing: line\n")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"bench -d", []string{"bench", "-addr", gw, "-c", "2", "-d", "1s"}, 1,
			"no message came back from " + gw + ": a gateway with framing: line echoes only whole lines; use -lines"},
		{"bench -n never hangs", []string{"bench", "-addr", gw, "-c", "2", "-n", "10", "-echo-timeout", "1s"}, 1,
			"no message came back from " + gw + " (no echo within 1s): a gateway with framing: line echoes only whole lines; use -lines"},
		{"bench -json too", []string{"bench", "-json", "-addr", gw, "-c", "1", "-d", "1s"}, 1, "use -lines"},
		{"send", []string{"send", "-addr", gw, "-timeout", "1s", "hello"}, 1,
			"no echo from " + gw + " within 1s: 0 of 5 bytes of the echo of \"hello\" came back; a gateway with framing: line echoes a message only once its LF has come: use -lines"},
		{"bench -lines", []string{"bench", "-lines", "-addr", gw, "-c", "2", "-n", "10"}, 0, ""},
		{"send -lines", []string{"send", "-lines", "-addr", gw, "hello", "world"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ctl(t, nil, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %q\nstderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
			}
		})
	}
	if r := ctl(t, nil, "send", "-lines", "-addr", gw, "hello"); r.stdout != "Received from server: hello\n" {
		t.Errorf("send -lines printed %q", r.stdout)
	}
}
