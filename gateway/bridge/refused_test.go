package bridge

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// syncBuffer is a log the test reads while the bridge writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A line over mqtt.max_line_bytes is refused at once with too-large, and
// nothing is published for it; a line of exactly that size goes.
func TestTooLargeRefusedBeforePublishing(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m.URL())
	cfg.MaxLineBytes = 100
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)
	ctx := context.Background()
	called := false
	err := b.Send(ctx, "b1", bytes.Repeat([]byte("x"), 101), func(error) { called = true })
	var be *board.Error
	if !errors.As(err, &be) || be.Code != board.CodeTooLarge {
		t.Fatalf("Send of 101 bytes = %v, want a board.Error too-large", err)
	}
	if called {
		t.Error("done was called for a refused line")
	}
	if err := sendSync(b, ctx, "b1", bytes.Repeat([]byte("y"), 100)); err != nil {
		t.Fatalf("Send of 100 bytes: %v", err)
	}
	gatewaytest.Within(t, brokerWait, "the 100-byte line", func() bool { return len(sub.Messages()) == 1 })
	if got := sub.Messages()[0].Payload; got != strings.Repeat("y", 100) {
		t.Errorf("published %.20q…, want the 100-byte line only", got)
	}
}

// A line the broker refuses by closing the connection (mosquitto's
// max_packet_size) goes to the dead letters after 5 tries alone in
// flight; the lines behind it, of its board and others, go on.
func TestRefusedLineGoesToDeadLetters(t *testing.T) {
	m := gatewaytest.StartMosquittoWith(t, false, "max_packet_size 200\n")
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m.URL())
	var logs syncBuffer
	b := openBridgeLogging(t, cfg, nil, &logs)
	waitConnected(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), brokerWait)
	defer cancel()
	sent := map[string][]int{}
	for n := range 10 {
		if err := sendSync(b, ctx, "b0", []byte(strconv.Itoa(n))); err != nil {
			t.Fatalf("Send: %v", err)
		}
		sent["b0"] = append(sent["b0"], n)
		if n == 3 {
			if err := sendSync(b, ctx, "big", bytes.Repeat([]byte("z"), 300)); err != nil {
				t.Fatalf("Send of the big line: %v", err)
			}
		}
	}
	gatewaytest.Within(t, 2*brokerWait, "the refused line in the dead letters", func() bool { return b.Stats().DeadLetters == 1 })
	gatewaytest.Within(t, brokerWait, "the lines behind it at the broker", allArrived(sub, sent))
	checkDelivered(t, sub.Messages(), sent)
	gatewaytest.Within(t, brokerWait, "the queue emptied", func() bool { return b.Stats().QueueMessages == 0 })
	dead, err := ReadDeadLetters(cfg.QueueDir)
	if err != nil || len(dead) != 1 || dead[0].Board != "big" || string(dead[0].Line) != strings.Repeat("z", 300) {
		t.Fatalf("dead letters = %q, %v; want the big line", dead, err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "board=big") {
		t.Errorf("no ERROR line naming the board in the log:\n%s", logs.String())
	}
}

// One board sending without waiting has up to MaxInFlight lines in
// flight; done comes in Send order and the lines arrive in order.
func TestPipelinedSendKeepsOrder(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	b := openBridge(t, testConfig(t, m.URL()), nil)
	waitConnected(t, b)
	const n = 2000
	var mu sync.Mutex
	var order []int
	all := make(chan struct{})
	for i := range n {
		err := b.Send(context.Background(), "b0", []byte(strconv.Itoa(i)), func(err error) {
			if err != nil {
				t.Errorf("line %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			if len(order) == n {
				close(all)
			}
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	<-all
	for i, got := range order {
		if got != i {
			t.Fatalf("done %d was for line %d", i, got)
		}
	}
	sent := map[string][]int{"b0": {}}
	for i := range n {
		sent["b0"] = append(sent["b0"], i)
	}
	gatewaytest.Within(t, brokerWait, "every line at the subscriber", allArrived(sub, sent))
	if dups := checkDelivered(t, sub.Messages(), sent); dups != 0 {
		t.Errorf("%d duplicates with the broker up", dups)
	}
}

// Send gives up waiting for room when its context ends.
func TestSendHonoursContextWhenFull(t *testing.T) {
	cfg := testConfig(t, "mqtt://127.0.0.1:1") // nothing listens: lines go to the spool
	cfg.QueueMaxBytes = 1024
	b := openBridge(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	for i := 0; err == nil && i < 10000; i++ {
		err = b.Send(ctx, "b0", bytes.Repeat([]byte("x"), 100), func(error) {})
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send into a full queue = %v, want the context's error", err)
	}
}

// A lane is forgotten once its board's lines are all safe: boards that
// come and go (clients without hello are named after their address) cost
// no memory for good.
func TestLanesForgottenWhenIdle(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	b := openBridge(t, testConfig(t, m.URL()), nil)
	waitConnected(t, b)
	for i := range 300 {
		if err := sendSync(b, context.Background(), "ip-10-0-0-"+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	gatewaytest.Within(t, brokerWait, "every lane forgotten", func() bool {
		b.lanesMu.Lock()
		defer b.lanesMu.Unlock()
		return len(b.lanes) == 0
	})
}
