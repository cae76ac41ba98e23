package bridge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// testConfig is a bridge config for broker with quick reconnects.
func testConfig(t *testing.T, broker string) Config {
	return Config{
		Brokers:     brokers(broker),
		GatewayID:   "gw1",
		TopicPrefix: "t",
		QueueDir:    filepath.Join(t.TempDir(), "queue"),
		AckTimeout:  2 * time.Second,
		MinBackoff:  100 * time.Millisecond,
		MaxBackoff:  500 * time.Millisecond,
	}
}

func openBridge(t *testing.T, cfg Config, deliver DeliverFunc) *Bridge {
	t.Helper()
	return openBridgeLogging(t, cfg, deliver, testWriter{t})
}

// openBridgeLogging is openBridge with the bridge's log written to logs.
func openBridgeLogging(t *testing.T, cfg Config, deliver DeliverFunc, logs io.Writer) *Bridge {
	t.Helper()
	if deliver == nil {
		deliver = func(string, []byte) error { return errors.New("no boards") }
	}
	b, err := Open(cfg, deliver, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func waitConnected(t testing.TB, b *Bridge) {
	t.Helper()
	gatewaytest.Within(t, brokerWait, "the bridge to connect", func() bool { return b.Health() == nil })
}

// senders runs one goroutine per board, each sending lines payload(0),
// payload(1), ... until stop is closed; sent holds, per board, the numbers
// Send returned nil for.
type senders struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent map[string][]int
	errs []error
}

func startSenders(b *Bridge, boards int, pause time.Duration, stop <-chan struct{}, payload func(n int) string) *senders {
	s := &senders{sent: map[string][]int{}}
	for i := range boards {
		board := fmt.Sprintf("b%d", i)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := sendSync(b, context.Background(), board, []byte(payload(n))); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
					return
				}
				s.mu.Lock()
				s.sent[board] = append(s.sent[board], n)
				s.mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	return s
}

// checkDelivered asserts that every line sent arrived on P/G/B/up, each
// board's in order with its duplicates (mqtttest.CheckOrder: once line n
// has arrived, no line below n arrives), and returns the duplicates.
func checkDelivered(t *testing.T, msgs []mqtttest.Message, sent map[string][]int) (dups int) {
	t.Helper()
	// The lines are "N[ pad]"; CheckOrder reads "BOARD N".
	var lines []mqtttest.Message
	for _, m := range msgs {
		parts := strings.Split(m.Topic, "/")
		if len(parts) == 4 && parts[3] == "up" {
			lines = append(lines, mqtttest.Message{Topic: m.Topic, Payload: parts[2] + " " + m.Payload})
		}
	}
	o, err := mqtttest.CheckOrder(lines, 0)
	if err != nil {
		t.Error(err)
	}
	for board, nums := range sent {
		if len(nums) > 0 && o.Next[board] < int64(nums[len(nums)-1]+1) {
			t.Errorf("board %s: %d lines arrived in order, %d were receipted", board, o.Next[board], nums[len(nums)-1]+1)
		}
	}
	return o.Duplicates
}

func allArrived(s *mqtttest.Subscriber, sent map[string][]int) func() bool {
	return func() bool {
		msgs := s.Messages()
		got := map[string]bool{}
		for _, m := range msgs {
			got[m.Topic+" "+m.Payload] = true
		}
		for board, nums := range sent {
			for _, n := range nums {
				if !got["t/gw1/"+board+"/up "+strconv.Itoa(n)] {
					return false
				}
			}
		}
		return true
	}
}

// TestBrokerOutageLosesNothing stops mosquitto while boards keep sending,
// for 3 s, or as long as BRIDGE_OUTAGE says (e.g. BRIDGE_OUTAGE=30s).
func TestBrokerOutageLosesNothing(t *testing.T) {
	outage := 3 * time.Second
	if s := os.Getenv("BRIDGE_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("BRIDGE_OUTAGE=%q: %v", s, err)
		}
		outage = d
	}
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m.URL())
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)

	stop := make(chan struct{})
	s := startSenders(b, 5, time.Millisecond, stop, strconv.Itoa)
	time.Sleep(500 * time.Millisecond)
	m.Stop()
	downAt := time.Now()
	gatewaytest.Within(t, brokerWait, "the bridge to see the broker gone", func() bool { return b.Health() != nil })
	if err := b.Health(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("broker unreachable: 127.0.0.1:%d", m.Port)) {
		t.Errorf("Health during the outage = %v, want it to name the broker", err)
	}
	time.Sleep(outage - time.Since(downAt))
	spooledDuring := b.Stats().Spooled
	m.Start()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	s.wg.Wait()
	if len(s.errs) > 0 {
		t.Fatalf("Send failed: %v", s.errs[0])
	}
	if spooledDuring == 0 {
		t.Errorf("no line was written to the disk queue during a %v outage", outage)
	}
	// Lines spooled for the whole outage drain at the broker's pace, with
	// one line in flight per board: allow a generous multiple.
	drainStart, queued := time.Now(), b.Stats().QueueMessages
	gatewaytest.Within(t, 30*time.Second+4*outage, "the disk queue to drain", func() bool { return b.Stats().QueueMessages == 0 })
	drainTime := time.Since(drainStart)
	gatewaytest.Within(t, brokerWait, "every receipted line at the subscriber", allArrived(sub, s.sent))
	total := 0
	for _, nums := range s.sent {
		total += len(nums)
	}
	dups := checkDelivered(t, sub.Messages(), s.sent)
	if got := gatewaytest.DirNames(t, cfg.QueueDir); len(got) != 0 {
		t.Errorf("drained queue left files %v", got)
	}
	st := b.Stats()
	t.Logf("outage %v: %d lines receipted, %d spooled during it, %d duplicates; %d queued lines drained in %v; stats %+v",
		outage, total, spooledDuring, dups, queued, drainTime.Round(time.Millisecond), st)
}

// TestDiskUntouchedWhileBrokerKeepsUp: in normal running not one line goes
// to the spool, and its directory is never even created.
func TestDiskUntouchedWhileBrokerKeepsUp(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m.URL())
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)
	sendStraight(t, b, sub, 10, 2000)
	if _, err := os.Stat(cfg.QueueDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("queue directory %s exists (err %v); the disk must not be touched while the broker keeps up", cfg.QueueDir, err)
	}
}

// sendStraight sends from boards senders until at least n lines are
// acknowledged, then checks that every receipted line reached sub, in
// order for each board, and that none went by the spool.
func sendStraight(t *testing.T, b *Bridge, sub *mqtttest.Subscriber, boards int, n uint64) {
	t.Helper()
	stop := make(chan struct{})
	s := startSenders(b, boards, 0, stop, strconv.Itoa)
	gatewaytest.Within(t, brokerWait, fmt.Sprintf("%d lines acknowledged", n), func() bool { return b.Stats().Acked >= n })
	close(stop)
	s.wg.Wait()
	gatewaytest.Within(t, brokerWait, "every line at the subscriber", allArrived(sub, s.sent))
	checkDelivered(t, sub.Messages(), s.sent)
	if st := b.Stats(); st.Spooled != 0 {
		t.Errorf("%d lines spooled with the broker up, want 0", st.Spooled)
	}
}

// TestFullQueueBlocksSend fills a tiny queue with the broker down: Send
// waits instead of dropping, and every line arrives once it is back.
func TestFullQueueBlocksSend(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m.URL())
	cfg.QueueMaxBytes = 2048
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)
	m.Stop()
	gatewaytest.Within(t, brokerWait, "the bridge to see the broker gone", func() bool { return b.Health() != nil })

	const lines = 200
	var returned atomic.Int64
	done := make(chan error, 1)
	go func() {
		for n := range lines {
			if err := sendSync(b, context.Background(), "b0", []byte(fmt.Sprintf("line-%08d", n))); err != nil {
				done <- err
				return
			}
			returned.Add(1)
		}
		done <- nil
	}()
	gatewaytest.Within(t, brokerWait, "the queue to fill", func() bool { return b.Stats().QueueBytes > 2048-40 })
	// "Nearly full" may still leave room for one more record, and the
	// receipt of the last one queued may not have reached its sender yet:
	// wait until Send has stopped returning, then watch that it stays so.
	before := returned.Load()
	gatewaytest.Within(t, brokerWait, "Send to stop returning", func() bool {
		was := before
		time.Sleep(100 * time.Millisecond)
		before = returned.Load()
		return before == was
	})
	select {
	case err := <-done:
		t.Fatalf("all %d Sends returned (%v) with a queue bound of 2048 bytes and no broker", lines, err)
	case <-time.After(300 * time.Millisecond):
	}
	if after := returned.Load(); after != before || after >= lines {
		t.Fatalf("Send returned %d then %d times with the queue full; want it to wait", before, after)
	}
	st := b.Stats()
	if st.QueueBytes > 2048 {
		t.Errorf("queue holds %d bytes, over its bound of 2048", st.QueueBytes)
	}
	m.Start()
	if err := <-done; err != nil {
		t.Fatalf("Send: %v", err)
	}
	sent := map[string][]int{}
	for n := range lines {
		sent["b0"] = append(sent["b0"], n)
	}
	gatewaytest.Within(t, brokerWait, "every line at the subscriber", func() bool {
		got := map[string]bool{}
		for _, m := range sub.Messages() {
			got[m.Payload] = true
		}
		for n := range lines {
			if !got[fmt.Sprintf("line-%08d", n)] {
				return false
			}
		}
		return true
	})
	t.Logf("Send blocked at %d of %d lines with the queue full (%d bytes)", before, lines, st.QueueBytes)
}

// TestReconfigureKeepsQueue queues lines while broker A is down, switches
// to broker B, and finds every line there.
func TestReconfigureKeepsQueue(t *testing.T) {
	a := gatewaytest.StartMosquitto(t, false)
	bm := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, bm.URL(), "t/gw1/+/up")
	b := openBridge(t, testConfig(t, a.URL()), nil)
	waitConnected(t, b)
	a.Stop()
	gatewaytest.Within(t, brokerWait, "the bridge to see broker A gone", func() bool { return b.Health() != nil })
	sent := map[string][]int{}
	for n := range 50 {
		if err := sendSync(b, context.Background(), "b1", []byte(strconv.Itoa(n))); err != nil {
			t.Fatal(err)
		}
		sent["b1"] = append(sent["b1"], n)
	}
	if st := b.Stats(); st.QueueMessages != 50 {
		t.Fatalf("queue holds %d lines, want 50", st.QueueMessages)
	}
	cfg := testConfig(t, bm.URL())
	if err := b.Reconfigure(context.Background(), cfg); err != nil {
		t.Fatalf("Reconfigure: %v", err)
	}
	gatewaytest.Within(t, brokerWait, "the 50 queued lines at broker B", allArrived(sub, sent))
	checkDelivered(t, sub.Messages(), sent)
	if st := b.Stats(); st.Broker != fmt.Sprintf("127.0.0.1:%d", bm.Port) {
		t.Errorf("Stats.Broker = %q after Reconfigure, want broker B", st.Broker)
	}
}

// TestLastWillOnSIGKILL kills a process running a bridge: the broker
// publishes the gateway's retained offline status for it.
func TestLastWillOnSIGKILL(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/status")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), willChildEnv+"="+m.URL(), "BRIDGE_WILL_CHILD_DIR="+filepath.Join(t.TempDir(), "q"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "up\n" {
		t.Fatalf("child said %q, want up", line)
	}
	gatewaytest.Within(t, brokerWait, "retained online", func() bool { return mqtttest.HasMessage(sub.Messages(), "t/gw1/status", "online") })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gatewaytest.Within(t, brokerWait, "the last will", func() bool { return mqtttest.HasMessage(sub.Messages(), "t/gw1/status", "offline") })

	// A new subscriber sees it retained.
	late := mqtttest.Subscribe(t, m.URL(), "t/gw1/status")
	gatewaytest.Within(t, brokerWait, "retained offline", func() bool {
		msgs := late.Messages()
		return len(msgs) > 0 && msgs[len(msgs)-1] == mqtttest.Message{Topic: "t/gw1/status", Payload: "offline", Retained: true}
	})
}

// TestCloseSaysOffline: a clean Close sets the gateway status offline too
// (a clean DISCONNECT discards the will).
func TestCloseSaysOffline(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/status")
	b := openBridge(t, testConfig(t, m.URL()), nil)
	gatewaytest.Within(t, brokerWait, "online", func() bool { return mqtttest.HasMessage(sub.Messages(), "t/gw1/status", "online") })
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	gatewaytest.Within(t, brokerWait, "offline", func() bool { return mqtttest.HasMessage(sub.Messages(), "t/gw1/status", "offline") })
	if err := sendSync(b, context.Background(), "b1", []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

// TestBoardStatusAndDownlink: board presence becomes retained status
// messages, and P/G/B/down reaches Deliver for B, or is counted dropped.
func TestBoardStatusAndDownlink(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/#")
	var mu sync.Mutex
	var got []string
	deliver := func(board string, payload []byte) error {
		if board != "b1" {
			return errors.New("no such board")
		}
		mu.Lock()
		got = append(got, board+" "+string(payload))
		mu.Unlock()
		return nil
	}
	b := openBridge(t, testConfig(t, m.URL()), deliver)
	b.BoardOnline("b1")
	b.BoardOnline("b2")
	b.BoardOffline("b2")
	gatewaytest.Within(t, brokerWait, "board status", func() bool {
		msgs := sub.Messages()
		return mqtttest.HasMessage(msgs, "t/gw1/b1/status", "online") && mqtttest.HasMessage(msgs, "t/gw1/b2/status", "offline") &&
			mqtttest.HasMessage(msgs, "t/gw1/status", "online")
	})
	for _, d := range []struct{ topic, payload string }{
		{"t/gw1/b1/down", "one"}, {"t/gw1/b9/down", "lost"}, {"t/gw1/b1/down", "two"}, {"t/gw1/b1/down", "three"},
	} {
		sub.Publish(t, d.topic, d.payload)
	}
	gatewaytest.Within(t, brokerWait, "downlinks", func() bool {
		st := b.Stats()
		return st.DownlinkDelivered == 3 && st.DownlinkDropped == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if want := "b1 one,b1 two,b1 three"; strings.Join(got, ",") != want {
		t.Errorf("delivered %q, want %q", strings.Join(got, ","), want)
	}
}

// sendSync is Send waiting for done: what a board that waits for each
// receipt sees.
func sendSync(b *Bridge, ctx context.Context, board string, line []byte) error {
	ch := make(chan error, 1)
	if err := b.Send(ctx, board, line, func(err error) { ch <- err }); err != nil {
		return err
	}
	return <-ch
}
