package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	_, gw := startGatewayd(t, "")
	servers := []struct{ name, addr string }{
		{"gatewayd", gw},
		{"echobaseline", startBaseline(t)},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			r := ctl(t, nil, "bench", "-json", "-addr", s.addr, "-c", "50", "-d", "1s")
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			var got benchJSON
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
			}
			if got.Conns != 50 || got.ConnectErrors != 0 || got.Mismatches != 0 || got.Errors != 0 {
				t.Errorf("conns %d, connect errors %d, mismatches %d, errors %d; want 50, 0, 0, 0 (%+v)",
					got.Conns, got.ConnectErrors, got.Mismatches, got.Errors, got)
			}
			if got.Messages == 0 || got.Bytes != 64*got.Messages || got.MsgsPerSec <= 0 || got.LatencyMicros.P50 <= 0 ||
				got.LatencyMicros.P99 < got.LatencyMicros.P50 || got.LatencyMicros.Max < got.LatencyMicros.P999 {
				t.Errorf("implausible figures: %+v", got)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q: no progress expected when stderr is not a terminal", r.stderr)
			}
		})
	}
}

func TestBenchReport(t *testing.T) {
	_, gw := startGatewayd(t, "")
	r := ctl(t, nil, "bench", "-addr", gw, "-c", "3", "-n", "20", "-size", "1000")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{"connections  3 (0 failed)", "messages     60 in ", "latency      p50 ", "p99.9 ", "mismatches   0", "errors       0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report %q lacks %q", r.stdout, want)
		}
	}
}

func TestBenchCatchesCorruption(t *testing.T) {
	// Flips the first byte of everything it echoes.
	addr := startTCP(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			buf[0] ^= 1
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
	r := ctl(t, nil, "bench", "-json", "-addr", addr, "-c", "2", "-n", "10")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	var got benchJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
	}
	if got.Mismatches < 20 {
		t.Errorf("mismatches %d, want at least 20", got.Mismatches)
	}
	oneLine(t, "stderr", r.stderr, "echoed bytes differed")
}

func TestBenchNoServer(t *testing.T) {
	addr := closedAddr(t)
	r := ctl(t, nil, "bench", "-addr", addr, "-c", "5", "-d", "1s")
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	oneLine(t, "stderr", r.stderr, "cannot connect to "+addr, "connection refused")
}

func TestBenchLinesAgainstLineFraming(t *testing.T) {
	_, gw := startGatewayd(t, "framing: line\n")
	r := ctl(t, nil, "bench", "-json", "-lines", "-addr", gw, "-c", "5", "-n", "50", "-size", "100")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got benchJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
	}
	if got.Messages != 250 || got.Mismatches != 0 || got.Errors != 0 {
		t.Errorf("messages %d, mismatches %d, errors %d; want 250, 0, 0", got.Messages, got.Mismatches, got.Errors)
	}
}

// A board session answers a line that starts with "!" as a control line,
// not with its echo, so bench -hello must never send one: it once did,
// about one message in 256, and that connection then waited out the run.
func TestBenchHelloSessions(t *testing.T) {
	_, gw := startGatewayd(t, "framing: line\n")
	r := ctl(t, nil, "bench", "-addr", gw, "-hello", "b", "-c", "4", "-n", "3000", "-d", "30s") // -hello implies -lines
	if r.code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"connections  4 (0 failed)", "messages     12000 in ", "mismatches   0", "errors       0"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report %q lacks %q", r.stdout, want)
		}
	}
}
