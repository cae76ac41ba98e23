package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// ackUplink takes every line and calls done after delay from a timer, or
// at once inside Send when delay is 0, as a bridge that publishes
// synchronously does.
type ackUplink struct{ delay time.Duration }

func (u ackUplink) Send(_ context.Context, _ string, _ []byte, done func(error)) error {
	if u.delay == 0 {
		done(nil)
	} else {
		time.AfterFunc(u.delay, func() { done(nil) })
	}
	return nil
}

// BenchmarkUplink measures lines a second from one board through a Server
// whose Uplink acknowledges each line at once (sync) or 1 ms later
// (delay-1ms), for a board that waits for each receipt (wait) and one
// that keeps 32 lines in flight (pipelined); reference is the smallest
// loop that waits the same delay before each echo, as a synchronous Send
// did, in the same run:
//
//	go test -run '^$' -bench Uplink -benchtime 2000x ./gateway
func BenchmarkUplink(b *testing.B) {
	for _, d := range []struct {
		name  string
		delay time.Duration
	}{{"sync", 0}, {"delay-1ms", time.Millisecond}} {
		for _, mode := range []string{"wait", "pipelined", "reference"} {
			b.Run(d.name+"/"+mode, func(b *testing.B) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				if mode == "reference" {
					stop := serveDelayed(l, d.delay)
					defer stop()
				} else {
					s := &Server{
						Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
						Policy: Policy{Framing: FramingLine, MaxMessageBytes: 1024, IdleTimeout: 5 * time.Minute, WriteTimeout: 10 * time.Second,
							Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
						Uplink: ackUplink{d.delay},
					}
					go s.Serve(l)
					defer s.Close()
				}
				window := 1
				if mode == "pipelined" {
					window = maxInFlight
				}
				benchmarkWindow(b, l.Addr().String(), 64, window)
			})
		}
	}
}

// serveDelayed echoes each line after delay: a synchronous Uplink's floor.
func serveDelayed(l net.Listener, delay time.Duration) func() {
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go func() {
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if delay > 0 {
						time.Sleep(delay)
					}
					if _, err := c.Write(line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}
}

// benchmarkWindow sends b.N lines of size bytes on one connection with up
// to window of them unreceipted, and reports lines a second.
func benchmarkWindow(b *testing.B, addr string, size, window int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'x'
	}
	msg[size-1] = '\n'
	credit := make(chan struct{}, window)
	for range window {
		credit <- struct{}{}
	}
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			<-credit
			if _, err := c.Write(msg); err != nil {
				return
			}
		}
	}()
	got := make([]byte, size)
	for range b.N {
		if _, err := io.ReadFull(c, got); err != nil {
			b.Fatal(err)
		}
		credit <- struct{}{}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
}
