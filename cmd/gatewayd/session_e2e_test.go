package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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

// Board sessions end to end with the bridge on: real gatewayd processes, a
// real mosquitto, boards speaking TCP.

// cutBoard behaves as the ESP32 client does when no receipt comes: it
// sends "ID SEQ PAD" lines, waits at most wait for each receipt, then cuts
// the connection (every other time with a reset) and reconnects to send
// the unreceipted line again.
type cutBoard struct {
	id        string
	addr      string
	wait      time.Duration
	size      int
	receipted atomic.Int64
	cuts      atomic.Int64
}

func (b *cutBoard) run(ctx context.Context) {
	for ctx.Err() == nil {
		b.session(ctx)
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *cutBoard) session(ctx context.Context) {
	nc, err := net.DialTimeout("tcp", b.addr, 2*time.Second)
	if err != nil {
		return
	}
	c := nc.(*net.TCPConn)
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "!hello %s\n", b.id)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "!ok") {
		return // refused, e.g. max_clients
	}
	pad := strings.Repeat("x", max(0, b.size-len(b.id)-12))
	for ctx.Err() == nil {
		line := fmt.Sprintf("%s %d %s\n", b.id, b.receipted.Load(), pad)
		c.SetDeadline(time.Now().Add(b.wait))
		if _, err := c.Write([]byte(line)); err != nil {
			return
		}
		got, err := r.ReadString('\n')
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if b.cuts.Add(1)%2 == 0 {
				c.SetLinger(0) // the close resets
			}
			return
		}
		if err != nil || got != line {
			return
		}
		b.receipted.Add(1)
	}
}

// checkOrder waits up to 60 s for every receipted line of each board to
// reach the subscriber, and checks that after line n of a board arrived no
// line below n did: a line sent again may arrive twice in a row, never
// after a newer one.
func checkOrder(t *testing.T, sub *mqtttest.Subscriber, bs []*cutBoard) (lines, dups int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		last := map[string]int64{}
		seen := map[string]map[int64]bool{}
		lines, dups = 0, 0
		for _, m := range sub.Messages() {
			f := strings.Fields(m.Payload)
			if len(f) < 2 {
				t.Fatalf("bad payload %q on %s", m.Payload, m.Topic)
			}
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			if l, ok := last[f[0]]; ok && seq < l {
				var got []string
				for _, m := range sub.Messages() {
					if g := strings.Fields(m.Payload); g[0] == f[0] {
						got = append(got, g[1])
					}
				}
				t.Fatalf("board %s: line %d arrived after line %d; its lines arrived as %s", f[0], seq, l, strings.Join(got, " "))
			}
			last[f[0]] = seq
			if seen[f[0]] == nil {
				seen[f[0]] = map[int64]bool{}
			}
			if seen[f[0]][seq] {
				dups++
			}
			seen[f[0]][seq] = true
			lines++
		}
		missing := ""
		for _, b := range bs {
			for n := range b.receipted.Load() {
				if !seen[b.id][n] {
					missing = fmt.Sprintf("board %s: receipted line %d never arrived", b.id, n)
					break
				}
			}
		}
		if missing == "" {
			return lines, dups
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %s", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSessionCutOffBoardsFullQueue (issue 18, item 1): with the broker
// down and the queue full, boards get no receipt and cut their
// connections again and again. A cut connection frees its max_clients
// slot at once, and no line of it is published after its board's newer
// lines once the broker is back.
func TestSessionCutOffBoardsFullQueue(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	m.Stop()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	const boards, maxClients = 6, 12
	yaml := bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), "  queue_max_bytes: 4096\n") +
		fmt.Sprintf("limits:\n  max_clients: %d\nmetrics:\n  listen: %q\n", maxClients, metricsAddr)
	p := start2(t, yaml)
	addr := p.addr()

	run := func(ctx context.Context, bs []*cutBoard) func() {
		var wg sync.WaitGroup
		for _, b := range bs {
			wg.Add(1)
			go func() { defer wg.Done(); b.run(ctx) }()
		}
		return wg.Wait
	}
	bs := make([]*cutBoard, boards)
	for i := range bs {
		bs[i] = &cutBoard{id: fmt.Sprintf("cut-%d", i), addr: addr, wait: 300 * time.Millisecond, size: 200}
	}
	ctx, stop := context.WithCancel(context.Background())
	wait := run(ctx, bs)
	cuts := func() (n int64) {
		for _, b := range bs {
			n += b.cuts.Load()
		}
		return n
	}
	gatewaytest.Within(t, 30*time.Second, "every board cut off once on average", func() bool { return cuts() >= boards })
	// Each board has one connection, and for a moment two while the
	// newer one replaces the cut one; the boards cut at about the same
	// time, so a sample may catch all of them in that moment. Kept slots
	// would pile up to max_clients and stay: most samples show that.
	var samples []float64
	for range 30 {
		samples = append(samples, scrapeMetric(t, metricsAddr, "gatewayd_clients"))
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(samples)
	peak := samples[len(samples)-1]
	if median := samples[len(samples)/2]; median > boards+1 {
		t.Errorf("gatewayd_clients was %v or more in half of 30 samples (%v) with %d boards, each with one connection open: cut-off connections kept their slots", median, samples, boards)
	}
	stop()
	wait()
	// Every board has closed its connection while its line waited for a
	// full queue.
	gatewaytest.Eventually(t, "gatewayd_clients 0 once every board closed", func() bool {
		return scrapeMetric(t, metricsAddr, "gatewayd_clients") == 0
	})
	// Every cut connection ended and said so. Why depends on where its
	// goroutine was when the board went: reading (a reset or EOF), waiting
	// for the uplink (the hangup watch), or replaced by the board's next
	// connection first.
	if n, c := p.countLog(`msg="client disconnected" board=cut-`), cuts(); int64(n) < c {
		t.Errorf("%d disconnect lines for %d cut connections: some cut connection never ended", n, c)
	}

	m.Start()
	ctx, stop = context.WithCancel(context.Background())
	wait = run(ctx, bs)
	gatewaytest.Within(t, 60*time.Second, "lines receipted after the broker came back", func() bool {
		for _, b := range bs {
			if b.receipted.Load() < 30 {
				return false
			}
		}
		return true
	})
	stop()
	wait()
	lines, dups := checkOrder(t, sub, bs)
	p.stop()
	var receipted int64
	for _, b := range bs {
		receipted += b.receipted.Load()
	}
	t.Logf("%d boards cut off %d times in all during the outage (peak gatewayd_clients %v); %d lines receipted, %d arrived in order, %d of them again", boards, cuts(), peak, receipted, lines, dups)
}

// TestSessionReloadKeepsFramingWithBridge (issue 18, item 5): SIGHUP
// cannot change framing while the bridge is on; the reload is refused
// with one log line and lines go on being published.
func TestSessionReloadKeepsFramingWithBridge(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	q := filepath.Join(t.TempDir(), "q")
	path := writeConfig(t, bridgeYAML(t, m.URL(), "gw", q, ""))
	p := start(t, nil, "-config", path)
	addr := p.addr()
	p.waitLog(`bridge: connected to broker`)
	// The bridge cannot be turned off by a reload; raw framing would
	// echo without publishing.
	raw := strings.Replace(strings.Replace(bridgeYAML(t, m.URL(), "gw", q, ""), "framing: line", "framing: raw", 1), "broker: "+m.URL(), `broker: ""`, 1)
	if err := os.WriteFile(path, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGHUP)
	p.waitLog(`reload refused|configuration reloaded`)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "!hello rl\nafter the reload\n")
	for _, want := range []string{"!ok rl\n", "after the reload\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	gatewaytest.Eventually(t, "the receipted line published", func() bool { return sub.Has("e2e/gw/rl/up", "after the reload") })
	if n := p.countLog(`msg="reload refused; configuration unchanged: framing cannot change from line to raw while the MQTT bridge is on; restart gatewayd to change it"`); n != 1 {
		t.Errorf("%d log lines refuse the reload naming framing, want 1:\n%s", n, p.logs())
	}
	if n := p.countLog(`framing`); n != 1 {
		t.Errorf("%d log lines mention framing, want 1:\n%s", n, p.logs())
	}
	p.stop()
}

// TestSessionTailDropped (issue 18, item 6): bytes after the last LF when
// a board's connection ends are not a line: never published, and the
// disconnect line says how many were dropped.
func TestSessionTailDropped(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	p := start2(t, bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), ""))
	addr := p.addr()
	p.waitLog(`bridge: connected to broker`)
	for i, tail := range []string{"temp=2", "hum"} {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := nc.(*net.TCPConn)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(c)
		whole := fmt.Sprintf("whole %d", i)
		fmt.Fprintf(c, "!hello tail\n%s\n%s", whole, tail)
		for _, want := range []string{"!ok tail\n", whole + "\n"} {
			if got, err := r.ReadString('\n'); got != want {
				t.Fatalf("read %q, %v; want %q", got, err, want)
			}
		}
		if i == 0 {
			c.CloseWrite() // a half-close: the board is done
			if rest, err := r.ReadString('\n'); rest != "" || err == nil {
				t.Fatalf("after the half-close read %q, %v; want EOF", rest, err)
			}
		} else {
			c.SetLinger(0) // cut short
		}
		c.Close()
		p.waitLog(fmt.Sprintf(`client disconnected" board=tail .*dropped_bytes=%d`, len(tail)))
	}
	// The same board's next line comes after anything the old
	// connections published.
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "!hello tail\nlast\n")
	gatewaytest.Eventually(t, "the last line published", func() bool { return sub.Has("e2e/gw/tail/up", "last") })
	var got []string
	for _, m := range sub.Messages() {
		got = append(got, m.Payload)
	}
	if want := "whole 0|whole 1|last"; strings.Join(got, "|") != want {
		t.Errorf("published %q, want %q", strings.Join(got, "|"), want)
	}
	p.stop()
}
