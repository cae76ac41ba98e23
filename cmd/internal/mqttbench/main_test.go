package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/bridge"
)

// TestQuickRun runs the smoke configuration against two fake gateways
// in this process, each a small TCP → MQTT forwarder on the bridge
// package: one that speaks the board protocol and echoes each line once
// the bridge has it (as gatewayd does), one that echoes nothing (as
// Node-RED's tcp in). Both go through the bridge, which loses nothing
// through a broker restart, so the restart columns must show every
// counted line arrived: that checks the tool's own subscriber session and
// its counting. The other figures are checked to come out, never for
// their value.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mosquitto and a smoke benchmark")
	}
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto not installed (apt-get install mosquitto)")
		}
	}
	gw := fakeTarget(t, "fakegw", true)
	off := fakeEchoTarget()
	gw.bridgeOff = &off
	targets := []target{gw, fakeTarget(t, "fakenr", false)}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := measureAll(ctx, quickOptions(64), t.TempDir(), targets, &out, t.Logf); err != nil {
		t.Fatalf("mqttbench -quick: %v\n%s", err, out.String())
	}
	got := out.String()
	if strings.Contains(got, "without the subscriber's session") {
		// The tool says so beside its figures; the restart counts are then
		// the broker's doing, not the gateway's or the tool's.
		t.Skipf("mosquitto came back without the subscriber's session:\n%s", got)
	}
	num, dur := `\d+`, `(\d+(\.\d+)?(ns|µs|ms|s))`
	for _, rx := range []string{
		`mosquitto version \S+ on 127\.0\.0\.1:\d+`,
		// boards gateway sustained how delivered CPU CPU-bridge-off p50 p99 echo-p50 echo-p99 counted arrived lost dups
		`\n\s+5\s+fakegw\s+` + num + `\s+closed loop\s+` + num + `\s+` + dur + `\s+` + dur + `\s+` + dur + `\s+` + dur + `\s+` + dur + `\s+` + dur + `\s+(\d+)\s+(\d+)\s+0\s+\d+`,
		`\n\s+5\s+fakenr\s+` + num + `\s+kept up .*offered.*\s+` + num + `\s+` + dur + `\s+—\s+` + dur + `\s+` + dur + `\s+—\s+—\s+(\d+)\s+(\d+)\s+0\s+\d+`,
	} {
		m := regexp.MustCompile(rx).FindStringSubmatch(got)
		if m == nil {
			t.Errorf("output lacks %s:\n%s", rx, got)
			continue
		}
		if n := len(m); n >= 3 {
			counted, _ := strconv.Atoi(m[n-2])
			arrived, _ := strconv.Atoi(m[n-1])
			if counted == 0 || arrived != counted {
				t.Errorf("restart: counted %d, arrived %d; want all arrived:\n%s", counted, arrived, got)
			}
		}
	}
}

// fakeTarget is a gateway in this process: lines from boards go to the
// broker through the bridge package; with echoes it answers `!hello ID`
// with `!ok ID` and echoes each line once Send returns nil, as gatewayd's
// receipt. Its CPU time is this test process's, which is fine for
// plumbing and nothing else.
func fakeTarget(t *testing.T, name string, echoes bool) target {
	return target{name: name, echoes: echoes, start: func(ctx context.Context, brokerURL, dir string) (*gateway, error) {
		u, err := url.Parse(brokerURL)
		if err != nil {
			return nil, err
		}
		br, err := bridge.Open(bridge.Config{
			Brokers: []*url.URL{u}, GatewayID: name, TopicPrefix: "fake",
			QueueDir:   filepath.Join(dir, "queue"),
			MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		}, func(string, []byte) error { return errors.New("no downlinks") }, slog.New(slog.NewTextHandler(logWriter{t, name}, nil)))
		if err != nil {
			return nil, err
		}
		for end := time.Now().Add(10 * time.Second); br.Health() != nil && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		g, err := serveFake(br, echoes)
		if err != nil {
			br.Close(ctx)
		}
		return g, err
	}}
}

// fakeEchoTarget is fakeTarget with no bridge: it answers the hello and
// echoes each line at once, as gatewayd does with the bridge off.
func fakeEchoTarget() target {
	return target{name: "fake, bridge off", echoes: true, start: func(context.Context, string, string) (*gateway, error) {
		return serveFake(nil, true)
	}}
}

// serveFake runs a fake on a loopback port of its own.
func serveFake(br *bridge.Bridge, echoes bool) (*gateway, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fake{br: br, l: l, echoes: echoes, conns: map[net.Conn]bool{}}
	f.wg.Go(f.serve)
	return &gateway{addr: l.Addr().String(), pid: os.Getpid(), stop: f.stop}, nil
}

// logWriter puts the fake's bridge log in the test's.
type logWriter struct {
	t    *testing.T
	name string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(w.name+":", strings.TrimSpace(string(p)))
	return len(p), nil
}

type fake struct {
	br     *bridge.Bridge // nil: echo only
	l      net.Listener
	echoes bool
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *fake) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		f.mu.Unlock()
		f.wg.Go(func() {
			defer func() {
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
				c.Close()
			}()
			f.board(c)
		})
	}
}

func (f *fake) board(c net.Conn) {
	r := bufio.NewReader(c)
	if f.echoes {
		hello, err := r.ReadString('\n')
		id, ok := strings.CutPrefix(strings.TrimSuffix(hello, "\n"), "!hello ")
		if err != nil || !ok {
			return
		}
		fmt.Fprintf(c, "!ok %s\n", id)
	}
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		id, _, _ := bytes.Cut(line, []byte(" "))
		if f.br != nil {
			ch := make(chan error, 1)
			if err := f.br.Send(context.Background(), string(id), bytes.TrimSuffix(line, []byte("\n")), func(err error) { ch <- err }); err != nil {
				return
			}
			if err := <-ch; err != nil {
				return
			}
		}
		if f.echoes {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	}
}

func (f *fake) stop() {
	f.l.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if f.br == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.br.Close(ctx)
}

func TestTallyCountsBoardsAndSequences(t *testing.T) {
	tl := newTally("m1")
	now := time.Now()
	due := now.Add(-time.Millisecond).UnixNano()
	for _, m := range []struct{ topic, payload string }{
		{"p/g/m1b0/up", fmt.Sprintf("m1b0 1 %d xx", due)},
		{"p/g/m1b0/up", fmt.Sprintf("m1b0 3 %d xx", due)},
		{"p/g/m1b0/up", fmt.Sprintf("m1b0 2 %d xx", due)},  // reordered
		{"p/g/m1b0/up", fmt.Sprintf("m1b0 3 %d xx", due)},  // duplicate
		{"p/g/other/up", fmt.Sprintf("m1b1 1 %d xx", due)}, // misrouted
		{"p/g/m0b0/up", fmt.Sprintf("m0b0 1 %d xx", due)},  // another measurement's
		{"p/g/m1b2/up", "m1b2 notanumber 1"},               // not a bench line
	} {
		tl.add(m.topic, []byte(m.payload), now)
	}
	if got, want := tl.arrived.Load(), uint64(4); got != want {
		t.Errorf("arrived: got %d, want %d", got, want)
	}
	dups, reordered, misrouted := tl.duplicates()
	if dups != 1 || reordered != 1 || misrouted != 1 {
		t.Errorf("dups, reordered, misrouted: got %d, %d, %d; want 1, 1, 1", dups, reordered, misrouted)
	}
	if got, want := tl.missing(map[string]uint64{"m1b0": 5, "m1b1": 1, "m1b9": 2}), uint64(4); got != want {
		t.Errorf("missing: got %d, want %d (m1b0 4 and 5, m1b9 1 and 2)", got, want)
	}
	if p := tl.latency.Percentiles(); p.P50 < time.Millisecond || p.P50 > 2*time.Millisecond {
		t.Errorf("latency p50: got %v, want about 1ms", p.P50)
	}
}

func TestFillMakesLinesOfSize(t *testing.T) {
	f := &fleet{size: 64}
	line := f.fill(nil, "m1b0007", 42, time.Unix(0, 1700000000123456789))
	if got, want := len(line), 64; got != want {
		t.Errorf("len: got %d, want %d", got, want)
	}
	if want := "m1b0007 42 1700000000123456789 x"; !strings.HasPrefix(string(line), want) || !strings.HasSuffix(string(line), "x\n") {
		t.Errorf("line: got %q, want it to start %q and end with x and LF", line, want)
	}
}

func TestSplitBrokerURL(t *testing.T) {
	if h, p, err := splitBrokerURL("mqtt://127.0.0.1:18830"); err != nil || h != "127.0.0.1" || p != 18830 {
		t.Errorf("splitBrokerURL: got %q, %d, %v; want 127.0.0.1, 18830", h, p, err)
	}
}
