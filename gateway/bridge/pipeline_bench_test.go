package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// delayProxy forwards TCP connections to target, holding every chunk
// back for delay in each direction: a broker one round trip of 2*delay
// away, with no bandwidth limit.
type delayProxy struct {
	l      net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
}

func startDelayProxy(tb testing.TB, target string, delay time.Duration) *delayProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &delayProxy{l: l, target: target, delay: delay}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() { l.Close(); p.wg.Wait() })
	return p
}

func (p *delayProxy) url() string { return "mqtt://" + p.l.Addr().String() }

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

type chunk struct {
	due  time.Time
	data []byte
}

// pipe copies src to dst, each chunk delay after it was read, in order.
func (p *delayProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(p.delay), append([]byte(nil), buf[:n]...)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	src.Close()
	dst.Close()
	for range q {
	}
}

// BenchmarkPipelinedOneBoard: one board and a broker one round trip
// away, through a delaying proxy: 20 ms (10 ms each way, the distance
// issue 19 measured 42 lines/s at) and 40 ms. "pipelined" keeps up to
// MaxInFlight lines in flight through Send, as a board sending without
// waiting for receipts does (the bound is MaxInFlight a round trip: 1,600
// and 800 lines/s); "waiting" sends each line after the previous one's
// done, as a board waiting for each receipt does (and as every board did
// before); "native" is a paho.mqtt.golang publisher waiting for each
// PUBACK through the same proxy, the floor for "waiting". Each runs
// against mosquitto as installed and with set_tcp_nodelay true: by
// default mosquitto's PUBACKs wait on Nagle's algorithm for the proxy's
// delayed ACKs, so they come a round trip late, in bursts, which halves
// what a pipelining board gets.
//
//	go test -run '^$' -bench PipelinedOneBoard -benchtime 1000x ./gateway/bridge
func BenchmarkPipelinedOneBoard(b *testing.B) {
	for _, rtt := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond} {
		for _, broker := range []struct{ name, conf string }{{"mosquitto=default", ""}, {"mosquitto=nodelay", "set_tcp_nodelay true\n"}} {
			b.Run(fmt.Sprintf("rtt=%v/%s", rtt, broker.name), func(b *testing.B) { benchPipelined(b, rtt, broker.conf) })
		}
	}
}

func benchPipelined(b *testing.B, rtt time.Duration, conf string) {
	m := gatewaytest.StartMosquittoWith(b, false, conf)
	proxy := startDelayProxy(b, m.Addr(), rtt/2)
	line := []byte("t=21.50 h=40.2 seq=0000001")
	open := func(b *testing.B) *Bridge {
		br, err := Open(Config{Brokers: brokers(proxy.url()), GatewayID: "bench", TopicPrefix: "t", QueueDir: filepath.Join(b.TempDir(), "q")},
			func(string, []byte) error { return nil }, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close(context.Background()) })
		waitConnected(b, br)
		return br
	}
	b.Run("pipelined", func(b *testing.B) {
		br := open(b)
		var wg sync.WaitGroup
		wg.Add(b.N)
		b.ResetTimer()
		for range b.N {
			if err := br.Send(context.Background(), "b0", line, func(err error) {
				if err != nil {
					b.Error(err)
				}
				wg.Done()
			}); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		b.ReportMetric(float64(br.Stats().Spooled), "spooled")
	})
	b.Run("waiting", func(b *testing.B) {
		br := open(b)
		b.ResetTimer()
		for range b.N {
			if err := sendSync(br, context.Background(), "b0", line); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("native", func(b *testing.B) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + proxy.l.Addr().String()).SetClientID("native").SetProtocolVersion(4))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(0)
		b.ResetTimer()
		for range b.N {
			tok := c.Publish("t/native/b0/up", 1, false, line)
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatalf("publish: %v", tok.Error())
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
