// Command pagebench measures what an open status page costs gatewayd: 100
// boards each send 10 state lines a second through the MQTT bridge (with
// Home Assistant discovery on) while the daemon's CPU time is read from
// /proc, in alternating phases with no page open and with one page open
// (a client reading /events, as a browser's EventSource does). The phases
// alternate in the same run, so drift in the machine's load falls on both
// alike, and it prints them side by side:
//
//	go run ./cmd/internal/pagebench                  # 100 boards × 10 lines/s, 4 × 10 s phases
//	go run ./cmd/internal/pagebench -boards 500 -d 5s
//
// It builds gatewayd from this tree and starts mosquitto on a free
// loopback port. The target is an extra of at most 5% of the daemon's CPU
// with the page open; it prints figures and never fails on them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pagebench:", err)
		os.Exit(1)
	}
}

type options struct {
	boards int
	rate   float64 // lines a second per board
	d      time.Duration
	rounds int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pagebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.boards, "boards", 100, "boards connected")
	fs.Float64Var(&o.rate, "rate", 10, "lines a second each board sends")
	fs.DurationVar(&o.d, "d", 10*time.Second, "length of each measured `phase`")
	fs.IntVar(&o.rounds, "rounds", 2, "pairs of phases (page closed, page open)")
	bin := fs.String("gatewayd", "", "a gatewayd `binary`; empty builds ./cmd/gatewayd from this tree")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	dir, err := os.MkdirTemp("", "pagebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		*bin = filepath.Join(dir, "gatewayd")
		if err := proc.Build(ctx, map[string]string{"./cmd/gatewayd": *bin}); err != nil {
			return err
		}
	}
	broker, err := startMosquitto(ctx, dir)
	if err != nil {
		return err
	}
	defer broker.Stop()
	gw, metrics, err := startGatewayd(ctx, *bin, dir, "mqtt://"+broker.Addr)
	if err != nil {
		return err
	}
	defer gw.Stop()

	fleet, err := dial(ctx, gw.Addr, o.boards)
	if err != nil {
		return err
	}
	defer fleet.close()
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go fleet.run(lctx, o.rate)
	time.Sleep(3 * time.Second) // warm up: connections, discovery configs

	type result struct {
		page          bool
		cpu           time.Duration
		wall          time.Duration
		lines, events uint64
		eventBytes    uint64
	}
	var results []result
	for i := 0; i < 2*o.rounds; i++ {
		open := i%2 == 1
		r := result{page: open}
		var sse *stream
		if open {
			if sse, err = openPage(ctx, metrics); err != nil {
				return err
			}
		}
		cpu0, err := gw.CPUTime()
		if err != nil {
			return err
		}
		lines0, t0 := fleet.receipted.Load(), time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.d):
		}
		cpu1, err := gw.CPUTime()
		if err != nil {
			return err
		}
		r.cpu, r.wall, r.lines = cpu1-cpu0, time.Since(t0), fleet.receipted.Load()-lines0
		if sse != nil {
			r.events, r.eventBytes = sse.close()
		}
		results = append(results, r)
	}
	stopLoad()
	if n := fleet.errs.Load(); n > 0 {
		fmt.Fprintf(stderr, "pagebench: %d board errors (see above)\n", n)
	}

	fmt.Fprintf(stdout, "gatewayd with %d boards × %g lines/s (bridge and Home Assistant discovery on), %v phases, CPU from /proc\n\n", o.boards, o.rate, o.d)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tpage\tCPU % of a core\tlines/s receipted\tevents\tevent KiB\t")
	var sum [2]float64
	var n [2]int
	for i, r := range results {
		pct := 100 * r.cpu.Seconds() / r.wall.Seconds()
		page := "closed"
		k := 0
		if r.page {
			page, k = "open", 1
		}
		sum[k] += pct
		n[k]++
		fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.0f\t%d\t%.1f\t\n", i+1, page, pct, float64(r.lines)/r.wall.Seconds(), r.events, float64(r.eventBytes)/1024)
	}
	tw.Flush()
	closed, open := sum[0]/float64(n[0]), sum[1]/float64(n[1])
	fmt.Fprintf(stdout, "\nmean CPU: page closed %.2f%%, page open %.2f%% of a core: %+.2f points, %+.1f%% of the closed figure (target: at most +5%%)\n",
		closed, open, open-closed, 100*(open-closed)/closed)
	return nil
}

var listeningRx = regexp.MustCompile(`msg=listening addr=(\S+)`)

func startMosquitto(ctx context.Context, dir string) (*proc.Process, error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto"
		if _, err := os.Stat(bin); err != nil {
			return nil, errors.New("mosquitto not found: install it (apt-get install mosquitto)")
		}
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\n", port)), 0o644); err != nil {
		return nil, err
	}
	return proc.Start(ctx, proc.Spec{Name: "mosquitto", Argv: []string{bin, "-c", conf}, Addr: fmt.Sprintf("127.0.0.1:%d", port)})
}

// startGatewayd runs gatewayd with the bridge, discovery and the metrics
// listener (the page's) on, and returns it with the metrics address.
func startGatewayd(ctx context.Context, bin, dir, broker string) (*proc.Process, string, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, "", err
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", port)
	conf := filepath.Join(dir, "gatewayd.yaml")
	yaml := fmt.Sprintf(`listen: "127.0.0.1:0"
framing: line
log:
  level: info
gpio:
  driver: none
control: ""
metrics:
  listen: %q
mqtt:
  broker: %q
  gateway_id: bench
  queue_dir: %q
  homeassistant: true
`, metrics, broker, filepath.Join(dir, "queue"))
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		return nil, "", err
	}
	p, err := proc.Start(ctx, proc.Spec{Name: "gatewayd", Argv: []string{bin, "-config", conf}, ListenRx: listeningRx})
	if err != nil {
		return nil, "", err
	}
	return p, metrics, nil
}

// fleet is the boards: one connection each, a line at a time, each after
// the previous receipt.
type fleet struct {
	conns     []net.Conn
	receipted atomic.Uint64
	errs      atomic.Uint64
	wg        sync.WaitGroup
}

func dial(ctx context.Context, addr string, n int) (*fleet, error) {
	f := &fleet{}
	var d net.Dialer
	for i := range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			f.close()
			return nil, err
		}
		f.conns = append(f.conns, c)
		fmt.Fprintf(c, "!hello bench-%d fw=1.0\n", i)
	}
	return f, nil
}

func (f *fleet) run(ctx context.Context, rate float64) {
	every := time.Duration(float64(time.Second) / rate)
	for i, c := range f.conns {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			r := bufio.NewReader(c)
			if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "!ok") {
				f.errs.Add(1)
				return
			}
			// Spread the boards over the interval, as real ones are.
			time.Sleep(every * time.Duration(i) / time.Duration(len(f.conns)))
			t := time.NewTicker(every)
			defer t.Stop()
			for seq := 0; ctx.Err() == nil; seq++ {
				line := fmt.Sprintf("temp=%d.%d hum=%d rssi=-%d n=%d\n", 20+seq%5, seq%10, 40+seq%7, 60+i%20, seq)
				if _, err := io.WriteString(c, line); err != nil {
					f.errs.Add(1)
					return
				}
				if got, err := r.ReadString('\n'); err != nil || got != line {
					if ctx.Err() == nil {
						f.errs.Add(1)
					}
					return
				}
				f.receipted.Add(1)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
			}
		}()
	}
}

func (f *fleet) close() {
	for _, c := range f.conns {
		c.Close()
	}
	f.wg.Wait()
}

// stream is one open page: it loads / and reads /events as a browser's
// EventSource does.
type stream struct {
	cancel         context.CancelFunc
	done           chan struct{}
	events, nbytes atomic.Uint64
}

func openPage(ctx context.Context, addr string) (*stream, error) {
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/events", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &stream{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			s.nbytes.Add(uint64(len(sc.Bytes()) + 1))
			if strings.HasPrefix(sc.Text(), "event: ") {
				s.events.Add(1)
			}
		}
	}()
	return s, nil
}

func (s *stream) close() (events, nbytes uint64) {
	s.cancel()
	<-s.done
	return s.events.Load(), s.nbytes.Load()
}
