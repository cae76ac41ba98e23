package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// The MQTT bridge end to end: real gatewayd processes, a real mosquitto,
// boards speaking TCP and a subscriber on the broker. Each board sends
// lines "ID SEQ" one after another and remembers how many were receipted;
// a line not receipted is sent again after reconnecting, as the ESP32
// clients do. The test then checks that every receipted line reached the
// subscriber.

// bridgeYAML is a config with the bridge on, extra appended to mqtt:.
func bridgeYAML(t *testing.T, broker, gw, queueDir, extra string) string {
	return fmt.Sprintf(`listen: "127.0.0.1:0"
framing: line
shutdown_timeout: 5s
gpio:
  driver: none
mqtt:
  broker: %s
  gateway_id: %s
  topic_prefix: e2e
  queue_dir: %s
%s`, broker, gw, queueDir, extra)
}

// board is one simulated board: it sends "ID SEQ" lines until stopped,
// each after the previous receipt, reconnecting (and sending the
// unreceipted line again) whenever its connection fails.
type board struct {
	id        string
	addr      func() string
	receipted atomic.Int64 // lines 0..receipted-1 were echoed back
	limit     int64        // stop after this many receipts; 0 = until ctx ends
	pace      time.Duration
	size      int // pad lines to about this many bytes
	msgs      chan string
	reconn    atomic.Int64
}

func (b *board) run(ctx context.Context) {
	for ctx.Err() == nil && (b.limit == 0 || b.receipted.Load() < b.limit) {
		if err := b.session(ctx); err != nil && ctx.Err() == nil {
			b.reconn.Add(1)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (b *board) session(ctx context.Context) error {
	c, err := net.DialTimeout("tcp", b.addr(), 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	if _, err := fmt.Fprintf(c, "!hello %s\n", b.id); err != nil {
		return err
	}
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "!ok") {
		return fmt.Errorf("hello: %q %v", line, err)
	}
	pad := ""
	for ctx.Err() == nil && (b.limit == 0 || b.receipted.Load() < b.limit) {
		seq := b.receipted.Load()
		if b.size > 0 {
			pad = " " + strings.Repeat("x", max(0, b.size-len(b.id)-12))
		}
		line := fmt.Sprintf("%s %d%s\n", b.id, seq, pad)
		if _, err := c.Write([]byte(line)); err != nil {
			return err
		}
		for {
			got, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if msg, ok := strings.CutPrefix(got, "!msg "); ok {
				if b.msgs != nil {
					b.msgs <- strings.TrimSuffix(msg, "\n")
				}
				continue
			}
			if got != line {
				return fmt.Errorf("board %s: receipt %q for %q", b.id, got, line)
			}
			break
		}
		b.receipted.Add(1)
		if b.pace > 0 {
			time.Sleep(b.pace)
		}
	}
	return nil
}

// startBoards runs n boards named prefix-i against addr until ctx ends
// (or each reaches limit) and returns them with a wait for their end.
func startBoards(ctx context.Context, n int, prefix string, addr func() string, setup func(*board)) ([]*board, func()) {
	var wg sync.WaitGroup
	bs := make([]*board, n)
	for i := range bs {
		bs[i] = &board{id: fmt.Sprintf("%s-%d", prefix, i), addr: addr}
		if setup != nil {
			setup(bs[i])
		}
		wg.Add(1)
		go func() { defer wg.Done(); bs[i].run(ctx) }()
	}
	return bs, wg.Wait
}

// delivery is what checkDelivered found.
type delivery struct{ lines, duplicates int }

// checkDelivered checks that every receipted line of every board reached
// the subscriber on P/G/B/up, each board's in order with its duplicates:
// once line n has arrived no line below n arrives (mqtttest.CheckOrder).
// It waits up to 60 s for the last ones.
func checkDelivered(t *testing.T, s *mqtttest.Subscriber, boards []*board) delivery {
	t.Helper()
	return checkDeliveredResent(t, s, boards, 0)
}

// checkDeliveredResent is checkDelivered for a test where lines were sent
// again: each board may show up to runs replays, each a contiguous run of
// lines it had delivered already. A gatewayd killed sends again what its
// queue had not marked delivered; a connection lost with lines in flight
// has them sent again too, all of them, since any may have reached the
// broker without its PUBACK coming back.
func checkDeliveredResent(t *testing.T, s *mqtttest.Subscriber, boards []*board, runs int) delivery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		o, err := mqtttest.CheckOrder(s.Messages(), runs)
		if err != nil {
			// A line out of order stays out of order: no waiting.
			t.Fatal(err)
		}
		problem := ""
		for _, b := range boards {
			if got, want := o.Next[b.id], b.receipted.Load(); got < want {
				problem = fmt.Sprintf("board %s: %d lines arrived, %d were receipted", b.id, got, want)
				break
			}
		}
		if problem == "" {
			return delivery{lines: o.Lines, duplicates: o.Duplicates}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %s", problem)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func totalReceipted(bs []*board) int64 {
	var n int64
	for _, b := range bs {
		n += b.receipted.Load()
	}
	return n
}

// scrapeMetric reads one sample from gatewayd's /metrics.
func scrapeMetric(t *testing.T, addr, name string) float64 {
	t.Helper()
	return gatewaytest.MetricValue(t, get(t, "http://"+addr+"/metrics"), name)
}

// healthz returns /healthz's status code and body.
func healthz(t *testing.T, addr string) (int, string) {
	t.Helper()
	cmd := exec.Command("curl", "-s", "-o", "-", "-w", " %{http_code}", "http://"+addr+"/healthz")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl /healthz: %v", err)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndex(s, " ")
	code, _ := strconv.Atoi(s[i+1:])
	return code, strings.TrimSpace(s[:i])
}

// rssKiB is a process's resident set size.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// envInt reads an opt-in size from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestBridgeFleet: several gatewayds and many boards on one mosquitto.
// GATEWAYD_E2E_FLEET_LINES raises the lines per board (default 20).
func TestBridgeFleet(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	const gateways, perGateway = 3, 100
	lines := envInt("GATEWAYD_E2E_FLEET_LINES", 20)
	var all []*board
	var waits []func()
	start := time.Now()
	for g := range gateways {
		gw := fmt.Sprintf("gw%d", g)
		p := start2(t, bridgeYAML(t, m.URL(), gw, filepath.Join(t.TempDir(), "q"), ""))
		addr := p.addr()
		bs, wait := startBoards(context.Background(), perGateway, gw+"-b", func() string { return addr }, func(b *board) { b.limit = int64(lines) })
		all, waits = append(all, bs...), append(waits, wait)
	}
	for _, w := range waits {
		w()
	}
	sent := time.Since(start)
	d := checkDelivered(t, sub, all)
	if got, want := d.lines, gateways*perGateway*lines; got != want {
		t.Errorf("lines delivered = %d, want %d", got, want)
	}
	t.Logf("fleet: %d gatewayd, %d boards, %d lines receipted in %v, all delivered in order, %d duplicates",
		gateways, len(all), totalReceipted(all), sent.Round(time.Millisecond), d.duplicates)
}

// start2 starts gatewayd on yaml and waits until it listens.
func start2(t *testing.T, yaml string) *proc {
	t.Helper()
	p := start(t, nil, "-config", writeConfig(t, yaml))
	p.addr()
	return p
}

// TestBridgeBrokerOutage: mosquitto stops while boards keep sending;
// receipts continue from the disk queue, which drains once it is back.
// The outage lasts GATEWAYD_E2E_OUTAGE seconds (default 5).
func TestBridgeBrokerOutage(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	yaml := bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), "") + "metrics:\n  listen: \"" + metricsAddr + "\"\n"
	p := start2(t, yaml)
	addr := p.addr()
	ctx, stop := context.WithCancel(context.Background())
	bs, wait := startBoards(ctx, 20, "b", func() string { return addr }, func(b *board) { b.pace = 5 * time.Millisecond })
	time.Sleep(500 * time.Millisecond)
	if code, body := healthz(t, metricsAddr); code != 200 {
		t.Fatalf("/healthz with the broker up = %d %q", code, body)
	}

	outage := time.Duration(envInt("GATEWAYD_E2E_OUTAGE", 5)) * time.Second
	m.Stop()
	p.waitLog(`bridge: lost the broker`)
	before := totalReceipted(bs)
	time.Sleep(outage / 2)
	code, body := healthz(t, metricsAddr)
	if code != 503 || !strings.Contains(body, "broker unreachable: "+m.Addr()) {
		t.Errorf("/healthz during the outage = %d %q, want 503 naming %s", code, body, m.Addr())
	}
	queued := scrapeMetric(t, metricsAddr, "gatewayd_mqtt_queue_messages")
	if v := scrapeMetric(t, metricsAddr, `gatewayd_mqtt_connected{broker="`+m.Addr()+`"}`); v != 0 {
		t.Errorf("gatewayd_mqtt_connected = %v during the outage", v)
	}
	time.Sleep(outage / 2)
	during := totalReceipted(bs) - before
	m.Start()
	time.Sleep(time.Second)
	stop()
	wait()
	d := checkDelivered(t, sub, bs)
	gatewaytest.Eventually(t, "the queue to drain", func() bool {
		return scrapeMetric(t, metricsAddr, "gatewayd_mqtt_queue_messages") == 0
	})
	if during == 0 || queued == 0 {
		t.Errorf("during the outage: %d lines receipted, %v queued; want both > 0", during, queued)
	}
	if v := scrapeMetric(t, metricsAddr, "gatewayd_mqtt_redelivered_total"); v < float64(during) {
		t.Errorf("gatewayd_mqtt_redelivered_total = %v, want at least the %d lines receipted during the outage", v, during)
	}
	if code, _ := healthz(t, metricsAddr); code != 200 {
		t.Errorf("/healthz after the outage = %d", code)
	}
	p.stop()
	t.Logf("outage %v: %d lines receipted in all, %d of them from the disk queue while the broker was down (%v queued at mid-outage); all delivered in order, %d duplicates",
		outage, totalReceipted(bs), during, queued, d.duplicates)
}

// TestBridgeSIGKILL: gatewayd is killed mid-stream and started again on
// the same listening socket, as systemd's socket activation does; nothing
// receipted is lost. It is killed twice while publishing, then once while
// draining its queue after an outage (broker stopped, lines queued,
// broker back). Each board's lines arrive in order, a replay after a
// restart being one contiguous run.
func TestBridgeSIGKILL(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	sock := holdSocket(t)
	addr := sock.addr
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	path := writeConfig(t, bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), "")+"metrics:\n  listen: \""+metricsAddr+"\"\n")
	launch := func() *proc { return sock.launch(t, path) }
	p := launch()
	ctx, stop := context.WithCancel(context.Background())
	bs, wait := startBoards(ctx, 20, "b", func() string { return addr }, nil)
	kills := 0
	for range 2 {
		time.Sleep(time.Second)
		p.signal(syscall.SIGKILL)
		p.wait(10 * time.Second)
		kills++
		p = launch()
	}

	// The kill during a drain.
	p.waitLog(`bridge: connected to broker`)
	m.Stop()
	p.waitLog(`bridge: lost the broker`)
	time.Sleep(2 * time.Second)
	queued := scrapeMetric(t, metricsAddr, "gatewayd_mqtt_queue_messages")
	if queued < 100 {
		t.Fatalf("%v lines queued after 2 s of outage, want a backlog to drain", queued)
	}
	m.Start()
	gatewaytest.Within(t, 60*time.Second, "the drain to start", func() bool {
		return scrapeMetric(t, metricsAddr, "gatewayd_mqtt_redelivered_total") > 0
	})
	left := scrapeMetric(t, metricsAddr, "gatewayd_mqtt_queue_messages")
	p.signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
	kills++
	if left == 0 {
		t.Errorf("the queue had drained when gatewayd was killed; want a kill during the drain")
	}
	p = launch()

	time.Sleep(time.Second)
	stop()
	wait()
	d := checkDeliveredResent(t, sub, bs, kills)
	p.stop()
	var reconn int64
	for _, b := range bs {
		reconn += b.reconn.Load()
	}
	t.Logf("%d SIGKILLs, the last with %v lines in the queue, draining (%v after 2 s of outage): %d lines receipted, all delivered in order, %d duplicates, %d board reconnects",
		kills, left, queued, totalReceipted(bs), d.duplicates, reconn)
}

// TestBridgeQueueFull: with the broker down and a tiny queue, boards are
// held back by TCP backpressure; nothing is lost and memory stays bounded.
func TestBridgeQueueFull(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	m.Stop()
	const maxBytes = 16 << 10
	p := start2(t, bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), fmt.Sprintf("  queue_max_bytes: %d\n", maxBytes)))
	addr := p.addr()
	ctx, stop := context.WithCancel(context.Background())
	bs, wait := startBoards(ctx, 20, "b", func() string { return addr }, func(b *board) { b.size = 200 })
	time.Sleep(2 * time.Second)
	r1, rss1 := totalReceipted(bs), rssKiB(t, p.cmd.Process.Pid)
	time.Sleep(3 * time.Second)
	r2, rss2 := totalReceipted(bs), rssKiB(t, p.cmd.Process.Pid)
	if r2 != r1 {
		t.Errorf("%d lines receipted with the queue full, want 0 more (backpressure)", r2-r1)
	}
	if r2*200 > 2*maxBytes {
		t.Errorf("%d lines of ~200 bytes receipted into a %d-byte queue", r2, maxBytes)
	}
	if rss2 > 256<<10 || rss2-rss1 > 16<<10 {
		t.Errorf("RSS %d KiB then %d KiB while boards were held back; want bounded", rss1, rss2)
	}
	m.Start()
	time.Sleep(2 * time.Second)
	stop()
	wait()
	d := checkDelivered(t, sub, bs)
	p.stop()
	t.Logf("queue full (%d bytes): %d lines receipted before backpressure, RSS %d KiB then %d KiB; %d receipted in all, all delivered, %d duplicates",
		maxBytes, r1, rss1, rss2, totalReceipted(bs), d.duplicates)
}

// TestBridgePresenceAndDownlink: status topics follow boards and the
// gateway (its last will at SIGKILL), and downlinks reach a sending board
// as !msg lines, in order.
func TestBridgePresenceAndDownlink(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/#")
	p := start2(t, bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), ""))
	addr := p.addr()
	gatewaytest.Eventually(t, "e2e/gw/status online", func() bool { return sub.Last("e2e/gw/status") == "online" })

	ctx, stop := context.WithCancel(context.Background())
	msgs := make(chan string, 100)
	bs, wait := startBoards(ctx, 1, "dl", func() string { return addr }, func(b *board) { b.msgs = msgs; b.pace = 2 * time.Millisecond })
	gatewaytest.Eventually(t, "e2e/gw/dl-0/status online", func() bool { return sub.Last("e2e/gw/dl-0/status") == "online" })
	const n = 50
	for i := range n {
		sub.Publish(t, "e2e/gw/dl-0/down", fmt.Sprintf("cmd %d", i))
	}
	for i := range n {
		select {
		case got := <-msgs:
			if want := fmt.Sprintf("cmd %d", i); got != want {
				t.Fatalf("downlink %d = %q, want %q", i, got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("downlink %d never arrived", i)
		}
	}
	sub.Publish(t, "e2e/gw/nobody/down", "lost")
	stop()
	wait()
	gatewaytest.Eventually(t, "e2e/gw/dl-0/status offline", func() bool { return sub.Last("e2e/gw/dl-0/status") == "offline" })
	if !sub.Has("e2e/gw/dl-0/up", "dl-0 0") || bs[0].receipted.Load() == 0 {
		t.Errorf("the board's lines did not arrive while it took downlinks")
	}

	p.signal(syscall.SIGKILL)
	p.wait(10 * time.Second)
	gatewaytest.Eventually(t, "e2e/gw/status offline (the last will)", func() bool { return sub.Last("e2e/gw/status") == "offline" })
}

// TestBridgeConfig: -check names the file, line and key of each bridge
// problem, and SIGHUP moves the bridge to another broker with its queue.
func TestBridgeConfig(t *testing.T) {
	dir := t.TempDir()
	raw := writeConfig(t, "framing: raw\nmqtt:\n  broker: mqtt://127.0.0.1:1883\n  gateway_id: gw\n")
	badURL := writeConfig(t, "framing: line\nmqtt:\n  broker: http://broker\n  gateway_id: gw\n")
	noPW := writeConfig(t, "framing: line\nmqtt:\n  broker: mqtt://127.0.0.1:1883\n  gateway_id: gw\n  password_file: "+filepath.Join(dir, "missing")+"\n")
	for _, tc := range []struct{ name, path, rx string }{
		{"raw framing", raw, `:3: mqtt.broker: the MQTT bridge needs framing: line`},
		{"bad URL", badURL, `:3: mqtt.broker: .*scheme must be mqtt:// or mqtts://`},
		{"unreadable password file", noPW, `:5: mqtt.password_file: .*missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runOnce(t, "-check", "-config", tc.path)
			if code != 1 || !regexp.MustCompile(regexp.QuoteMeta(tc.path)+tc.rx).MatchString(stderr) {
				t.Errorf("-check: exit %d, stderr %q; want 1 and %q", code, stderr, tc.rx)
			}
		})
	}

	a := gatewaytest.StartMosquitto(t, false)
	b := gatewaytest.StartMosquitto(t, false)
	subB := mqtttest.Subscribe(t, b.URL(), "e2e/+/+/up")
	q := filepath.Join(dir, "q")
	path := writeConfig(t, bridgeYAML(t, a.URL(), "gw", q, ""))
	p := start(t, nil, "-config", path)
	addr := p.addr()
	p.waitLog(`bridge: connected to broker`)
	a.Stop()
	p.waitLog(`bridge: lost the broker`)
	bs, wait := startBoards(context.Background(), 5, "h", func() string { return addr }, func(b *board) { b.limit = 20 })
	wait()
	if err := os.WriteFile(path, []byte(bridgeYAML(t, b.URL(), "gw", q, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	p.waitLog(`MQTT bridge reconfigured; queued lines kept`)
	d := checkDelivered(t, subB, bs)
	if d.lines != 100 {
		t.Errorf("%d lines reached the new broker, want 100", d.lines)
	}
	p.stop()
}
