package main

import (
	"io"
	"net"
	"strings"
	"testing"
)

// The seed lab's multi-message client, against the real daemon.
func TestSendPrintsTheLabsLines(t *testing.T) {
	_, addr := startGatewayd(t, "")
	r := ctl(t, nil, "send", "-addr", addr, "Hello", "How are you?", "Goodbye")
	want := "Received from server: Hello\nReceived from server: How are you?\nReceived from server: Goodbye\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("send: exit %d, stdout %q, stderr %q; want exit 0, stdout %q, no stderr", r.code, r.stdout, r.stderr, want)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name   string
		addr   string
		args   []string
		stderr []string // all in one line
	}{
		{"closed port", closedAddr(t), nil, []string{"cannot connect to 127.0.0.1:", "connection refused", "is gatewayd running?"}},
		{"server hangs up", startTCP(t, func(c net.Conn) {
			var b [1]byte
			_, _ = c.Read(b[:])
		}), nil, []string{"closed the connection", `0 of 5 bytes of the echo of "Hello"`}},
		{"server echoes half", startTCP(t, func(c net.Conn) {
			b := make([]byte, 5)
			_, _ = io.ReadFull(c, b)
			_, _ = c.Write(b[:2])
		}), nil, []string{"closed the connection", "2 of 5 bytes"}},
		{"server never answers", startTCP(t, hold), []string{"-timeout", "300ms"}, []string{"no echo from", "within 300ms"}},
		{"no such host", "host.invalid:65432", nil, []string{"cannot connect to host.invalid:65432", "not found"}},
		{"address without port", "127.0.0.1", nil, []string{"cannot connect to 127.0.0.1: missing port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"send", "-addr", tt.addr}, tt.args...)
			r := ctl(t, nil, append(args, "Hello")...)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			if strings.Contains(r.stdout, "Received") {
				t.Errorf("stdout %q: nothing should be printed as received", r.stdout)
			}
			oneLine(t, "stderr", r.stderr, append(tt.stderr, "gatewayctl: ")...)
		})
	}
}

func TestSendReportsAWrongEcho(t *testing.T) {
	addr := startTCP(t, func(c net.Conn) {
		b := make([]byte, 5)
		_, _ = io.ReadFull(c, b)
		_, _ = c.Write([]byte("Jello"))
	})
	r := ctl(t, nil, "send", "-addr", addr, "Hello")
	if r.code != 1 || r.stdout != "Received from server: Jello\n" {
		t.Errorf("exit %d, stdout %q; want 1 and the echo as received", r.code, r.stdout)
	}
	oneLine(t, "stderr", r.stderr, "differs", `"Hello"`)
}

// After -hello the gateway speaks the line protocol: a message without its
// LF is sent as a line (and printed without it), so it is echoed rather
// than waiting for the rest of the line.
func TestSendHelloAddsTheLF(t *testing.T) {
	_, addr := startGatewayd(t, "framing: line\n")
	tests := []struct {
		name string
		msgs []string
		want string
	}{
		{"without LF", []string{"temp=21.5", "temp=21.6"}, "Received from server: temp=21.5\nReceived from server: temp=21.6\n"},
		{"with LF", []string{"temp=21.5\n"}, "Received from server: temp=21.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ctl(t, nil, append([]string{"send", "-addr", addr, "-timeout", "10s", "-hello", "b1"}, tt.msgs...)...)
			if r.code != 0 || r.stdout != tt.want || r.stderr != "" {
				t.Errorf("send -hello b1 %q: exit %d, stdout %q, stderr %q; want exit 0, stdout %q", tt.msgs, r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}
