package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// The native limit: what the same mosquitto takes at QoS 1 from a native
// Go publisher (paho.mqtt.golang, the bridge's client) with one
// connection and N publishers, each publishing its next line once the
// last one's PUBACK is in, as a board through gatewayd sends its next line
// once the last is receipted. It runs as a process of its own (this
// binary, with -native-publisher), so that its CPU time is read from
// /proc as the gateways' is, apart from the boards' and the subscriber's.

// nativeRow is the native limit for one number of publishers.
type nativeRow struct {
	sustained float64       // msg/s reaching the subscriber, closed loop
	cpuSat    time.Duration // CPU per delivered message at saturation
	cpuFixed  time.Duration // at the fixed load
	switches  float64       // context switches per message at the fixed load
}

// native measures the native limit with n publishers: closed loop for
// opts.d, then opts.rate offered for opts.d, each after a warm-up.
func (b *bench) native(ctx context.Context, n int) (nativeRow, error) {
	exe, err := os.Executable()
	if err != nil {
		return nativeRow{}, err
	}
	p, err := proc.Start(ctx, proc.Spec{Name: "native publisher", ListenRx: listeningRx,
		Argv: []string{exe, "-native-publisher", b.broker.url(), "-size", strconv.Itoa(b.opts.size)}})
	if err != nil {
		return nativeRow{}, err
	}
	defer p.Stop()
	g := fromProcess(p)
	run := func(rate float64, d time.Duration) (atEnd, arrived uint64, elapsed time.Duration, err error) {
		tag := b.tag()
		tl := b.sub.count(tag)
		start := time.Now()
		sent, err := nativeCommand(ctx, p.Addr, fmt.Sprintf("run %s %d %g %s", tag, n, rate, d))
		if err != nil {
			return 0, 0, 0, err
		}
		elapsed = time.Since(start)
		atEnd = tl.arrived.Load()
		tl.settle(ctx, sent, 2*time.Second, b.opts.drain)
		return atEnd, tl.arrived.Load(), elapsed, nil
	}
	var r nativeRow
	if _, _, _, err := run(0, b.opts.warmup); err != nil {
		return r, err
	}
	sat, err := cpuPerLine(g, func() (uint64, error) {
		atEnd, arrived, elapsed, err := run(0, b.opts.d)
		r.sustained = float64(atEnd) / elapsed.Seconds()
		return arrived, err
	})
	r.cpuSat = sat.cpu
	if err != nil {
		return r, err
	}
	if _, _, _, err := run(b.opts.rate, b.opts.warmup); err != nil {
		return r, err
	}
	fixed, err := cpuPerLine(g, func() (uint64, error) {
		_, arrived, _, err := run(b.opts.rate, b.opts.d)
		return arrived, err
	})
	r.cpuFixed, r.switches = fixed.cpu, fixed.switches
	return r, err
}

// nativeCommand sends one command to the native publisher and returns
// the lines it published (acknowledged).
func nativeCommand(ctx context.Context, addr, cmd string) (uint64, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := fmt.Fprintln(c, cmd); err != nil {
		return 0, err
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("native publisher: %w", err)
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(reply), "sent ")
	if !ok {
		return 0, fmt.Errorf("native publisher: %s", strings.TrimSpace(reply))
	}
	return strconv.ParseUint(n, 10, 64)
}

// runNativePublisher is the -native-publisher mode: one connection to
// brokerURL, then commands "run TAG N RATE D" on a loopback port it
// prints as "listening addr=HOST:PORT", each answered "sent COUNT".
func runNativePublisher(ctx context.Context, brokerURL string, size int) error {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return err
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + u.Host).
		SetClientID(fmt.Sprintf("mqttbench-native-%d", time.Now().UnixNano())).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("native publisher: connecting to %s: %v", brokerURL, tok.Error())
	}
	defer c.Disconnect(100)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { l.Close() })
	fmt.Printf("listening addr=%s\n", l.Addr())
	for {
		conn, err := l.Accept()
		if err != nil {
			return nil
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		var tag string
		var n int
		var rate float64
		var d time.Duration
		var ds string
		if err == nil {
			_, err = fmt.Sscanf(line, "run %s %d %g %s", &tag, &n, &rate, &ds)
		}
		if err == nil {
			d, err = time.ParseDuration(ds)
		}
		if err != nil {
			fmt.Fprintf(conn, "error: %q: %v\n", line, err)
		} else {
			fmt.Fprintf(conn, "sent %d\n", publishNative(ctx, c, tag, n, rate, d, size))
		}
		conn.Close()
	}
}

// publishNative runs n publishers for d on c, each at rate/n a second
// (rate 0: each as fast as its PUBACKs come), and returns how many lines
// were acknowledged. Lines are those the boards send: "ID SEQ DUE xxx…"
// on native/gw/ID/up.
func publishNative(ctx context.Context, c mqtt.Client, tag string, n int, rate float64, d time.Duration, size int) uint64 {
	end := time.Now().Add(d)
	var acked atomic.Uint64
	var wg sync.WaitGroup
	f := &fleet{size: size}
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("%sb%04d", tag, i)
			topic := "native/gw/" + id + "/up"
			var interval time.Duration
			due := time.Now()
			if rate > 0 {
				interval = time.Duration(float64(n) / rate * float64(time.Second))
				due = due.Add(rand.N(interval + 1))
			}
			line := make([]byte, 0, size)
			for seq := uint64(1); ctx.Err() == nil; seq++ {
				if interval > 0 {
					time.Sleep(time.Until(due))
				} else {
					due = time.Now()
				}
				if !due.Before(end) {
					return
				}
				line = f.fill(line[:0], id, seq, due)
				tok := c.Publish(topic, 1, false, line[:len(line)-1])
				if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
					return
				}
				acked.Add(1)
				due = due.Add(interval)
			}
		})
	}
	wg.Wait()
	return acked.Load()
}

// writeNative prints gatewayd beside the native limit, per number of
// boards: rates and CPU per line, and their ratios.
func writeNative(w io.Writer, opts options, gw map[int]row, nat map[int]nativeRow) {
	fmt.Fprintf(w, "\nnative limit: the same mosquitto, one paho.mqtt.golang connection, N publishers each waiting for its PUBACK (a process of its own)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "boards\tgatewayd msg/s\tnative msg/s\tratio\tCPU/msg saturated: gatewayd\tnative\tratio\t@%.0f/s: gatewayd\tnative\tratio\twake-ups/msg: gatewayd\tnative\t\n", opts.rate)
	for _, n := range opts.boards {
		g, ok := gw[n]
		x := nat[n]
		if !ok {
			fmt.Fprintf(tw, "%d\t—\t%.0f\t—\t—\t%v\t—\t—\t%v\t—\t—\t%.1f\t\n", n, x.sustained, x.cpuSat.Round(100*time.Nanosecond), x.cpuFixed.Round(100*time.Nanosecond), x.switches)
			continue
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.2fx\t%v\t%v\t%.2fx\t%v\t%v\t%.2fx\t%.1f\t%.1f\t\n", n,
			g.sustained, x.sustained, g.sustained/max(x.sustained, 1),
			g.cpuSat.Round(100*time.Nanosecond), x.cpuSat.Round(100*time.Nanosecond), float64(g.cpuSat)/float64(max(x.cpuSat, 1)),
			g.cpuPerMsg.Round(100*time.Nanosecond), x.cpuFixed.Round(100*time.Nanosecond), float64(g.cpuPerMsg)/float64(max(x.cpuFixed, 1)),
			g.switchesPerMsg, x.switches)
	}
	tw.Flush()
	fmt.Fprintf(w, "  gatewayd's CPU/msg includes reading each line from its board and writing the receipt (see bridge off above);\n  the native publisher's includes making the line. wake-ups/msg: the process's context switches\n  (/proc/PID/task/*/status) per message at %.0f/s, each a thread put to sleep and woken again. Goals (issue 19): rate >= 0.9x, CPU/msg <= 1.0x saturated, <= 1.5x at %.0f/s.\n", opts.rate, opts.rate)
}
