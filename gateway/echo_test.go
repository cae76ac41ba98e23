package gateway

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// TestManyClientsEchoExactly is the lab's threaded server at scale: 1,000
// clients at once, each sending many random binary messages.
func TestManyClientsEchoExactly(t *testing.T) {
	clients, messages := 1000, 20
	if testing.Short() {
		clients = 100
	}
	var connects, disconnects atomic.Int64
	s, addr, _ := startServer(t, Policy{}, Hooks{
		Connect:    func(netip.AddrPort, int) { connects.Add(1) },
		Disconnect: func(netip.AddrPort, int, error) { disconnects.Add(1) },
	})

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for range messages {
				msg := make([]byte, 1+rng.IntN(2048))
				for j := range msg {
					msg[j] = byte(rng.Uint32())
				}
				got, err := roundTrip(c, msg)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- io.ErrShortBuffer
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Errorf("client: %v", err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients failed", failed, clients)
	}
	gatewaytest.Eventually(t, "every disconnect", func() bool { return disconnects.Load() == int64(clients) })
	if got := connects.Load(); got != int64(clients) {
		t.Errorf("Connect hook ran %d times, want %d", got, clients)
	}
	st := s.Stats()
	if st.Accepted != uint64(clients) || st.Clients != 0 || st.BytesIn != st.BytesOut || st.BytesIn == 0 {
		t.Errorf("Stats = %+v; want %d accepted, 0 connected, bytes in == out", st, clients)
	}
}

// TestLargeStream pushes 4 MiB through one connection while reading the
// echo concurrently, as a client streaming a file would.
func TestLargeStream(t *testing.T) {
	_, addr, _ := startServer(t, Policy{}, Hooks{})
	c := dial(t, addr)
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i*7 + i>>11)
	}
	go func() {
		c.Write(payload)
		c.CloseWrite()
	}()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo of %d bytes differs from the %d sent", len(got), len(payload))
	}
}

// TestHalfClose: a client that shuts its sending side still gets the echo
// of everything it sent, then EOF.
func TestHalfClose(t *testing.T) {
	for _, framing := range []Framing{FramingRaw, FramingLine} {
		t.Run(framing.String(), func(t *testing.T) {
			_, addr, _ := startServer(t, Policy{Framing: framing}, Hooks{})
			c := dial(t, addr)
			sent := []byte("first\nsecond\nunterminated tail")
			c.Write(sent)
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if !bytes.Equal(got, sent) {
				t.Fatalf("got %q, want %q then EOF", got, sent)
			}
		})
	}
}

// TestResetMidStream: clients that vanish with a reset in the middle of a
// stream are dropped without disturbing the others.
func TestResetMidStream(t *testing.T) {
	var reasons sync.Map
	_, addr, logs := startServer(t, Policy{}, Hooks{
		Disconnect: func(remote netip.AddrPort, _ int, reason error) { reasons.Store(remote.Port(), reason) },
	})
	steady := dial(t, addr)
	for i := range 10 {
		bad := dial(t, addr)
		go bad.Write(bytes.Repeat([]byte{byte(i)}, 1<<20))
		time.Sleep(time.Millisecond)
		bad.SetLinger(0) // close with RST
		bad.Close()
		msg := []byte("still here")
		if got, err := roundTrip(steady, msg); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("steady client after reset %d: got %q, %v", i, got, err)
		}
	}
	gatewaytest.Eventually(t, "10 resets logged", func() bool { return strings.Count(logs.String(), "client disconnected") >= 10 })
}

func TestLineFraming(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"hello\n"}, "hello\n"},
		{"two lines in one write", []string{"a\nb\n"}, "a\nb\n"},
		{"line split across writes", []string{"hel", "lo wor", "ld\n"}, "hello world\n"},
		{"binary bytes in a line", []string{"\x00\xff\x01\n"}, "\x00\xff\x01\n"},
		{"exactly the limit", []string{strings.Repeat("x", 15) + "\n"}, strings.Repeat("x", 15) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr, _ := startServer(t, Policy{Framing: FramingLine, MaxMessageBytes: 16}, Hooks{})
			c := dial(t, addr)
			for _, w := range tt.writes {
				c.Write([]byte(w))
				time.Sleep(10 * time.Millisecond) // let each land as its own read
			}
			got := make([]byte, len(tt.want))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestLineEchoedOnlyWhenComplete: under line framing nothing comes back
// before the LF.
func TestLineEchoedOnlyWhenComplete(t *testing.T) {
	_, addr, _ := startServer(t, Policy{Framing: FramingLine}, Hooks{})
	c := dial(t, addr)
	c.Write([]byte("partial"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(make([]byte, 16)); n != 0 || !isTimeout(err) {
		t.Fatalf("read %d bytes (%v) before the line was complete; want nothing", n, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(" line\n"))
	want := "partial line\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// TestLineTooLong drops only the client that sent an over-long line.
func TestLineTooLong(t *testing.T) {
	var reason atomic.Value
	_, addr, logs := startServer(t, Policy{Framing: FramingLine, MaxMessageBytes: 16}, Hooks{
		Disconnect: func(_ netip.AddrPort, _ int, r error) {
			if r != nil {
				reason.Store(r)
			}
		},
	})
	good := dial(t, addr)
	bad := dial(t, addr)
	bad.Write([]byte(strings.Repeat("y", 16) + "\n")) // 17 bytes with its LF
	expectClosed(t, bad)
	gatewaytest.Eventually(t, "the disconnect reason", func() bool { return reason.Load() != nil })
	if r := reason.Load().(error); r != ErrLineTooLong {
		t.Errorf("reason = %v, want %v", r, ErrLineTooLong)
	}
	if !strings.Contains(logs.String(), "reason=\"line longer than max_message_bytes\"") {
		t.Errorf("log does not give the reason:\n%s", logs)
	}
	if got, err := roundTrip(good, []byte("fine\n")); err != nil || string(got) != "fine\n" {
		t.Fatalf("other client: got %q, %v", got, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestLineAtLimitEndedByHalfClose: a last line of exactly the limit, with
// no LF, is complete at the half-close and echoed.
func TestLineAtLimitEndedByHalfClose(t *testing.T) {
	_, addr, _ := startServer(t, Policy{Framing: FramingLine, MaxMessageBytes: 8}, Hooks{})
	c := dial(t, addr)
	c.Write([]byte("12345678"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != "12345678" {
		t.Fatalf("got %q, %v; want the 8-byte line then EOF", got, err)
	}
}

// TestStatsCountLinesInAndOut: a line dropped as too long was received
// but never echoed.
func TestStatsCountLinesInAndOut(t *testing.T) {
	s, addr, _ := startServer(t, Policy{Framing: FramingLine, MaxMessageBytes: 8}, Hooks{})
	c := dial(t, addr)
	if got, err := roundTrip(c, []byte("a\nbb\n")); err != nil || string(got) != "a\nbb\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	c.Write([]byte("much too long\n"))
	expectClosed(t, c)
	gatewaytest.Eventually(t, "the disconnect", func() bool { return s.Stats().Clients == 0 })
	if st := s.Stats(); st.MessagesIn != 3 || st.Messages != 2 {
		t.Errorf("MessagesIn, Messages = %d, %d; want 3 in, 2 echoed", st.MessagesIn, st.Messages)
	}
}
