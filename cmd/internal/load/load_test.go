package load

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

func TestRunCountsEveryEcho(t *testing.T) {
	srv := startServer(t, echo)
	tests := []struct {
		name                 string
		conns, size, perConn int
		lines                bool
	}{
		{"one byte", 1, 1, 50, false},
		{"many connections", 50, 64, 40, false},
		{"1 KiB", 8, 1024, 20, false},
		{"larger than the socket buffers", 2, 4 << 20, 3, false},
		{"lines", 4, 200, 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{
				Addr: srv.addr(), Conns: tt.conns, Size: tt.size, Messages: tt.perConn, Lines: tt.lines,
			})
			if err != nil {
				t.Fatal(err)
			}
			wantMsgs := uint64(tt.conns * tt.perConn)
			if res.Conns != tt.conns || res.ConnectErrors != 0 {
				t.Errorf("conns, connect errors = %d, %d; want %d, 0", res.Conns, res.ConnectErrors, tt.conns)
			}
			if res.Messages != wantMsgs || res.Bytes != wantMsgs*uint64(tt.size) {
				t.Errorf("messages, bytes = %d, %d; want %d, %d", res.Messages, res.Bytes, wantMsgs, wantMsgs*uint64(tt.size))
			}
			if res.Mismatches != 0 || res.Errors != 0 {
				t.Errorf("mismatches, errors = %d, %d (%s); want 0, 0", res.Mismatches, res.Errors, res.FirstError)
			}
			l := res.Latency
			if l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
				t.Errorf("latency percentiles %+v: want 0 < p50 <= p90 <= p99 <= p99.9 <= max", l)
			}
			if res.MsgsPerSec <= 0 || res.MBPerSec <= 0 || res.Elapsed <= 0 {
				t.Errorf("rates %v msg/s, %v MB/s over %v: want positive", res.MsgsPerSec, res.MBPerSec, res.Elapsed)
			}
		})
	}
}

func TestRunDetectsBadEchoes(t *testing.T) {
	const size, perConn = 64, 10
	for _, tt := range []struct {
		name           string
		srv            *testServer
		wantMismatches uint64 // at least
	}{
		{"last byte of each read flipped", startServer(t, corrupt), 2 * perConn},
		{"stale echo of the first message", startServer(t, replay(size)), 2 * (perConn - 1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Addr: tt.srv.addr(), Conns: 2, Size: size, Messages: perConn})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mismatches < tt.wantMismatches {
				t.Errorf("mismatches = %d, want at least %d", res.Mismatches, tt.wantMismatches)
			}
			if res.Messages != 2*perConn {
				t.Errorf("messages = %d, want %d", res.Messages, 2*perConn)
			}
		})
	}
}

func TestRunDuration(t *testing.T) {
	srv := startServer(t, echo)
	const d = 300 * time.Millisecond
	res, err := Run(context.Background(), Config{Addr: srv.addr(), Conns: 10, Size: 32, Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages == 0 {
		t.Error("no messages in the timed run")
	}
	if res.Errors != 0 || res.Mismatches != 0 {
		t.Errorf("errors, mismatches = %d, %d (%s): the end of the run must not count as an error", res.Errors, res.Mismatches, res.FirstError)
	}
	if res.Elapsed < d {
		t.Errorf("elapsed %v, want at least %v", res.Elapsed, d)
	}
}

func TestRunRateLimit(t *testing.T) {
	srv := startServer(t, echo)
	const conns, rate, d = 3, 20.0, 500 * time.Millisecond
	res, err := Run(context.Background(), Config{Addr: srv.addr(), Conns: conns, Size: 16, Duration: d, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	// Each connection may send at most one message per 50ms of the run,
	// plus the one due at its start.
	most := uint64(conns * (int(rate*d.Seconds()) + 1))
	if res.Messages == 0 || res.Messages > most {
		t.Errorf("messages = %d, want between 1 and %d", res.Messages, most)
	}
}

func TestRunCancel(t *testing.T) {
	srv := startServer(t, echo)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{Addr: srv.addr(), Conns: 4, Size: 16, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Run took %v after its context ended", took)
	}
	if res.Messages == 0 || res.Errors != 0 {
		t.Errorf("messages, errors = %d, %d: want some messages and no errors", res.Messages, res.Errors)
	}
}

func TestRunNoServer(t *testing.T) {
	addr := closedAddr(t)
	res, err := Run(context.Background(), Config{Addr: addr, Conns: 3, Size: 8, Messages: 1})
	if !errors.Is(err, ErrNoConnection) {
		t.Fatalf("err = %v, want ErrNoConnection", err)
	}
	if !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), addr) {
		t.Errorf("err = %q, want the address and the reason", err)
	}
	if res.ConnectErrors != 3 || res.Conns != 0 {
		t.Errorf("connect errors, conns = %d, %d; want 3, 0", res.ConnectErrors, res.Conns)
	}
}

func TestRunServerHangsUp(t *testing.T) {
	srv := startServer(t, hangUp)
	res, err := Run(context.Background(), Config{Addr: srv.addr(), Conns: 5, Size: 8, Messages: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 5 || res.Messages != 0 || res.FirstError == "" {
		t.Errorf("errors, messages, first error = %d, %d, %q; want 5, 0, the reason", res.Errors, res.Messages, res.FirstError)
	}
}

func TestRunSourceAddrs(t *testing.T) {
	a1 := netip.MustParseAddr("127.0.0.1")
	a2 := netip.MustParseAddr("127.0.0.2")
	a3 := netip.MustParseAddr("127.0.0.3")
	tests := []struct {
		name string
		cfg  Config
		want map[netip.Addr]int
	}{
		{"explicit", Config{Conns: 4, SourceAddrs: []netip.Addr{a2, a3}}, map[netip.Addr]int{a2: 2, a3: 2}},
		{"spread automatically", Config{Conns: 5, PerSource: 2}, map[netip.Addr]int{a1: 2, a2: 2, a3: 1}},
		{"one source below the limit", Config{Conns: 3, PerSource: 3}, map[netip.Addr]int{a1: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, echo)
			cfg := tt.cfg
			cfg.Addr, cfg.Size, cfg.Messages = srv.addr(), 8, 2
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Messages != uint64(2*cfg.Conns) {
				t.Errorf("messages = %d, want %d", res.Messages, 2*cfg.Conns)
			}
			got := srv.remoteAddrs()
			if len(got) != len(tt.want) {
				t.Fatalf("connections per source = %v, want %v", got, tt.want)
			}
			for a, n := range tt.want {
				if got[a] != n {
					t.Errorf("connections from %v = %d, want %d (all: %v)", a, got[a], n, got)
				}
			}
		})
	}
}

func TestSourceAddrsAuto(t *testing.T) {
	tests := []struct {
		addr  string
		conns int
		want  int // source addresses; 0 is the kernel's choice
	}{
		{"127.0.0.1:65432", 100, 0},
		{"127.0.0.1:65432", 20000, 0},
		{"127.0.0.1:65432", 20001, 2},
		{"127.0.0.1:65432", 65000, 4},
		{"192.168.1.20:65432", 65000, 0},
		{"[::1]:65432", 65000, 0},
		{"localhost:65432", 65000, 0},
	}
	for _, tt := range tests {
		got := sourceAddrs(Config{Addr: tt.addr, Conns: tt.conns, PerSource: defaultPerSource})
		if len(got) != tt.want {
			t.Errorf("sourceAddrs(%s, %d conns) = %v, want %d addresses", tt.addr, tt.conns, got, tt.want)
		}
		for i, a := range got {
			if want := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}); a != want {
				t.Errorf("sourceAddrs(%s, %d conns)[%d] = %v, want %v", tt.addr, tt.conns, i, a, want)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:1", Conns: 1, Size: 1, Messages: 1}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no address", func(c *Config) { c.Addr = "" }, "no address"},
		{"no connections", func(c *Config) { c.Conns = 0 }, "connections 0"},
		{"empty messages", func(c *Config) { c.Size = 0 }, "size 0"},
		{"no end", func(c *Config) { c.Messages = 0 }, "duration or a message count"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "negative"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "negative"},
		{"line too short", func(c *Config) { c.Lines = true }, "2 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run: err = %v, want one containing %q", err, tt.want)
			}
			if errors.Is(err, ErrNoConnection) {
				t.Errorf("Run dialled with a bad config: %v", err)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	srv := startServer(t, echo)
	var out gatewaytest.Buffer
	_, err := Run(context.Background(), Config{Addr: srv.addr(), Conns: 2, Size: 8, Duration: 1500 * time.Millisecond, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, " msg/s ") {
		t.Errorf("progress output %q, want a line with msg/s", got)
	}
}

func TestPatternFresh(t *testing.T) {
	for _, size := range []int{1, 7, 8, 64, blockLen + 100} {
		p := newPattern(42, false)
		a, b := make([]byte, size), make([]byte, size)
		p.fill(a)
		p.fill(b)
		if bytes.Equal(a, b) && size >= 8 {
			t.Errorf("size %d: two consecutive messages are equal", size)
		}
	}
	p := newPattern(7, true)
	msg := make([]byte, 5000)
	for range 20 {
		p.fill(msg)
		if i := bytes.IndexByte(msg, '\n'); i != len(msg)-1 {
			t.Fatalf("line message has LF at %d, want only at the end (%d)", i, len(msg)-1)
		}
	}
}

// In lines mode no message starts with "!", which a board session would
// take for a control line.
func TestPatternLinesNeverControl(t *testing.T) {
	p := newPattern(1, true)
	msg := make([]byte, 64)
	for i := range 20000 {
		p.fill(msg)
		if msg[0] == '!' {
			t.Fatalf("message %d starts with '!': %q", i, msg)
		}
	}
}
