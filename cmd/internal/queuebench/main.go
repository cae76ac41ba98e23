// Command queuebench measures what mqtt.queue_sync costs during a broker
// outage, when every line goes to the on-disk queue: receipt latency (a
// board's send → gatewayd's echo) p50/p99 and lines per second, for
// queue_sync: interval against commit, with the same load, in one run,
// printed side by side.
//
//	go run ./cmd/internal/queuebench                   # 20 and 200 boards, 5 s each
//	go run ./cmd/internal/queuebench -boards 50 -d 10s -dir /mnt/sd/q
//
// It builds gatewayd from this tree and starts one process per measure,
// with its broker on a loopback port where nothing listens, so that the
// bridge queues every line; each board sends a line, waits for its
// receipt, and sends the next. The queue lives under -dir, which should be
// on the disk being judged (fsync on a tmpfs costs nothing). It prints
// figures and never fails on them.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/intlist"
	"github.com/gatewayd/gatewayd/cmd/internal/load"
	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "queuebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("queuebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	boards := fs.String("boards", "20,200", "numbers of boards to measure with, comma-separated")
	d := fs.Duration("d", 5*time.Second, "length of each measured `run`")
	size := fs.Int("size", 64, "line length in bytes, LF included")
	dir := fs.String("dir", "", "put the queues under `DIR` (default: a new directory under the working directory's disk)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	counts, err := intlist.Parse(*boards)
	if err != nil {
		return fmt.Errorf("-boards: %w", err)
	}
	if *dir == "" {
		*dir, err = os.MkdirTemp(proc.ModuleRoot(), ".queuebench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	bin := filepath.Join(*dir, "gatewayd")
	if err := proc.Build(ctx, map[string]string{"./cmd/gatewayd": bin}); err != nil {
		return err
	}
	deadPort, err := closedPort()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queuebench: broker unreachable (every line queued), %d-byte lines, %v per run, queues under %s\n\n", *size, *d, *dir)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "boards\tqueue_sync\tlines/s\treceipt p50\treceipt p99\treceipt max\t")
	for _, n := range counts {
		for _, mode := range []string{"interval", "commit"} {
			r, err := measure(ctx, bin, *dir, mode, deadPort, n, *size, *d)
			if err != nil {
				return fmt.Errorf("%s, %d boards: %w", mode, n, err)
			}
			p := r.lat.Percentiles()
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%v\t%v\t%v\t\n", n, mode, r.rate, round(p.P50), round(p.P99), round(p.Max))
		}
	}
	return tw.Flush()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// closedPort returns a loopback port where nothing listens.
func closedPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, nil
}

type result struct {
	rate float64
	lat  *load.Histogram
}

var listeningRx = regexp.MustCompile(`listening addr=(\S+)`)

// measure runs one gatewayd with queue_sync mode and n boards for d.
func measure(ctx context.Context, bin, dir, mode string, deadPort, n, size int, d time.Duration) (result, error) {
	qdir := filepath.Join(dir, fmt.Sprintf("q-%s-%d", mode, n))
	defer os.RemoveAll(qdir)
	conf := filepath.Join(dir, fmt.Sprintf("gatewayd-%s-%d.yaml", mode, n))
	yaml := fmt.Sprintf(`listen: "127.0.0.1:0"
framing: line
gpio:
  driver: none
control: ""
mqtt:
  broker: mqtt://127.0.0.1:%d
  gateway_id: bench
  queue_dir: %s
  queue_max_bytes: 1073741824
  queue_sync: %s
`, deadPort, qdir, mode)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		return result{}, err
	}
	p, err := proc.Start(ctx, proc.Spec{Name: "gatewayd", Argv: []string{bin, "-config", conf}, ListenRx: listeningRx})
	if err != nil {
		return result{}, err
	}
	defer p.Stop()

	lat := load.NewHistogram()
	var lines atomic.Int64
	var measuring atomic.Bool
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := board(rctx, p.Addr, fmt.Sprintf("qb-%d", i), size, lat, &lines, &measuring); err != nil && rctx.Err() == nil {
				errc <- err
			}
		}()
	}
	// A second of warm-up: connections made, the bridge queueing.
	select {
	case <-time.After(time.Second):
	case err := <-errc:
		return result{}, err
	}
	measuring.Store(true)
	start := time.Now()
	select {
	case <-time.After(d):
	case err := <-errc:
		return result{}, err
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	measuring.Store(false)
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	return result{rate: float64(lines.Load()) / elapsed.Seconds(), lat: lat}, nil
}

// board sends "ID SEQ xxx…" lines one after another, each once the
// previous one's receipt is back, and records each receipt's latency.
func board(ctx context.Context, addr, id string, size int, lat *load.Histogram, lines *atomic.Int64, measuring *atomic.Bool) error {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	if _, err := fmt.Fprintf(c, "!hello %s\n", id); err != nil {
		return err
	}
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "!ok") {
		return fmt.Errorf("hello: %q %v", l, err)
	}
	for seq := 0; ; seq++ {
		line := fmt.Sprintf("%s %d ", id, seq)
		line += strings.Repeat("x", max(0, size-len(line)-1)) + "\n"
		t0 := time.Now()
		if _, err := io.WriteString(c, line); err != nil {
			return err
		}
		got, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if got != line {
			return errors.New("receipt " + got + " for " + line)
		}
		if measuring.Load() {
			lat.Record(time.Since(t0))
			lines.Add(1)
		}
	}
}
