package bridge

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// gate is a TCP forwarder to a broker that can be shut: while shut it
// closes every connection at once, so the bridge sees the broker as down
// while a subscriber connected straight to the broker stays subscribed.
type gate struct {
	l      net.Listener
	target string
	open   atomic.Bool
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startGate(t *testing.T, target string) *gate {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{l: l, target: target}
	g.wg.Add(1)
	go g.accept()
	t.Cleanup(g.close)
	return g
}

func (g *gate) url() string { return "mqtt://" + g.l.Addr().String() }

func (g *gate) accept() {
	defer g.wg.Done()
	for {
		c, err := g.l.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, c, up)
		g.mu.Unlock()
		g.wg.Add(2)
		go func() { defer g.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
		go func() { defer g.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (g *gate) close() {
	g.l.Close()
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// TestFullQueueDrainsWhileSendersWait: the broker is unreachable from the
// start, the queue fills and many boards wait in Send; then the broker
// comes up. Every line Send returned nil for reaches a subscriber that was
// subscribed on the broker all along, each board's in order.
func TestFullQueueDrainsWhileSendersWait(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	g := startGate(t, m.Addr())
	cfg := testConfig(t, g.url())
	cfg.QueueMaxBytes = 16 << 10
	b := openBridge(t, cfg, nil)

	const boards = 20
	pad := strings.Repeat("x", 200)
	stop := make(chan struct{})
	s := startSenders(b, boards, 0, stop, func(n int) string { return fmt.Sprintf("%d %s", n, pad) })
	gatewaytest.Within(t, brokerWait, "the queue to fill", func() bool { return b.Stats().QueueBytes > 16<<10-300 })
	time.Sleep(200 * time.Millisecond)
	g.open.Store(true)
	time.Sleep(2 * time.Second)
	close(stop)
	s.wg.Wait()
	if len(s.errs) > 0 {
		t.Fatalf("Send: %v", s.errs[0])
	}
	gatewaytest.Within(t, 20*time.Second, "every line at the subscriber", func() bool {
		got := map[string]bool{}
		for _, m := range sub.Messages() {
			got[m.Topic+" "+strings.Fields(m.Payload)[0]] = true
		}
		for board, nums := range s.sent {
			for _, n := range nums {
				if !got["t/gw1/"+board+"/up "+fmt.Sprint(n)] {
					return false
				}
			}
		}
		return true
	})
	var msgs []mqtttest.Message
	for _, m := range sub.Messages() {
		msgs = append(msgs, mqtttest.Message{Topic: m.Topic, Payload: strings.Fields(m.Payload)[0]})
	}
	dups := checkDelivered(t, msgs, s.sent)
	var total int
	for _, nums := range s.sent {
		total += len(nums)
	}
	t.Logf("%d lines receipted by %d boards, all delivered in order, %d duplicates", total, boards, dups)
}
