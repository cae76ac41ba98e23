// Command echobench measures gatewayd against the minimal
// goroutine-per-connection echo server (cmd/internal/echobaseline) in the
// same run, on the same machine, and prints the figures side by side:
// messages/s, p50/p99 latency and server CPU time per message for each
// load, resident memory per idle connection, and the CPU cost of driving
// LEDs (sim driver) over driver none.
//
//	go run ./cmd/internal/echobench            # the full run, about 3 minutes
//	go run ./cmd/internal/echobench -quick     # a smoke run, seconds
//	go run ./cmd/internal/echobench -tls       # the same servers over TLS (tls.go)
//
// Each server runs as its own process, so its CPU time (utime+stime from
// /proc/PID/stat) and resident memory (VmRSS) are its alone. The loads
// alternate between the servers round by round, and which goes first, so
// a slow spell on a busy machine, or the previous run's connections still
// in the kernel, hit both alike; the median round is reported. It prints figures and
// never fails on them: read the ratios against the targets in the README.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/intlist"
	"github.com/gatewayd/gatewayd/cmd/internal/load"
	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echobench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration  time.Duration
	rounds    int
	idleConns int
	conns     []int
	sizes     []int

	// -tls: the reconnect storm, and how long the steady connections
	// send before it (the latency they are compared with).
	storm, steady int
	stormQuiet    time.Duration
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("echobench", flag.ContinueOnError)
	d := fs.Duration("d", 4*time.Second, "length of each load `round`")
	rounds := fs.Int("rounds", 3, "rounds per load and server; the median is reported")
	idle := fs.Int("idle", 10000, "idle connections for the memory measure")
	conns := fs.String("conns", "100,1000", "connection counts to load with, comma-separated")
	sizes := fs.String("sizes", "64,1024", "message sizes in bytes, comma-separated")
	quick := fs.Bool("quick", false, "a smoke run: short rounds, small loads")
	tlsMode := fs.Bool("tls", false, "measure both servers over TLS, beside plaintext: echo CPU, handshakes, idle memory, a reconnect storm")
	storm := fs.Int("storm", 1000, "with -tls, boards that reconnect at once in the storm")
	steady := fs.Int("steady", 100, "with -tls, connections that keep sending through the storm")
	if err := fs.Parse(args); err != nil {
		return err
	}
	idleSet := false
	fs.Visit(func(f *flag.Flag) { idleSet = idleSet || f.Name == "idle" })
	opts := options{duration: *d, rounds: *rounds, idleConns: *idle}
	var err error
	if opts.conns, err = intlist.Parse(*conns); err != nil {
		return fmt.Errorf("-conns: %w", err)
	}
	if opts.sizes, err = intlist.Parse(*sizes); err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	if *tlsMode && !idleSet {
		opts.idleConns = 1000
	}
	opts.storm, opts.steady, opts.stormQuiet = *storm, *steady, 3*time.Second
	if *quick {
		opts = options{duration: 300 * time.Millisecond, rounds: 1, idleConns: 200, conns: []int{20}, sizes: []int{64}, storm: 50, steady: 10, stormQuiet: time.Second}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "echobench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := buildServers(ctx, dir)
	if err != nil {
		return err
	}
	servers := []proc.Spec{
		server("baseline", bins.baseline, "-addr", "127.0.0.1:0"),
		server("gatewayd", bins.gatewayd, "-config", writeFile(dir, "all.yaml", allFeatures("sim"))),
	}
	if *tlsMode {
		return runTLS(ctx, stdout, opts, bins, dir, servers)
	}

	fmt.Fprintf(stdout, "echobench: %d rounds of %v per load and server; median round shown, ratios are medians of per-round ratios\n\n", opts.rounds, opts.duration)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tserver\tmsgs/s\tp50\tp99\tCPU/msg\tthroughput ratio\tCPU ratio\t")
	for _, conns := range opts.conns {
		for _, size := range opts.sizes {
			cfg := load.Config{Conns: conns, Size: size, Duration: opts.duration}
			res, err := compare(ctx, servers, cfg, opts.rounds)
			if err != nil {
				return err
			}
			for i, r := range res {
				ratios := "\t\t"
				if i > 0 {
					ratios = fmt.Sprintf("%.3f\t%.3f\t", r.rateRatio, r.cpuRatio)
				}
				fmt.Fprintf(tw, "%d conns × %d B\t%s\t%.0f\t%v\t%v\t%v\t%s\n", conns, size, servers[i].Name,
					r.rate, r.p50, r.p99, r.cpuPerMsg.Round(time.Nanosecond), ratios)
			}
		}
	}
	tw.Flush()

	// LEDs: the same load with driver none and with sim LEDs on every
	// event; the sim driver stands in for GPIO without hardware.
	fmt.Fprintln(stdout)
	leds := []proc.Spec{
		server("gatewayd driver: none", bins.gatewayd, "-config", writeFile(dir, "none.yaml", allFeatures("none"))),
		server("gatewayd driver: sim", servers[1].Argv...),
	}
	ledConns := opts.conns[len(opts.conns)-1]
	res, err := compare(ctx, leds, load.Config{Conns: ledConns, Size: 64, Duration: opts.duration}, opts.rounds)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "LED cost, %d conns × 64 B: CPU/msg %v with driver none, %v with sim LEDs: ratio %.3f\n",
		ledConns, res[0].cpuPerMsg.Round(time.Nanosecond), res[1].cpuPerMsg.Round(time.Nanosecond), res[1].cpuRatio)

	fmt.Fprintln(stdout)
	for _, s := range servers {
		perConn, err := idleMemory(ctx, s, opts.idleConns, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "idle memory, %s: %.2f KiB per connection (%d connections, VmRSS growth)\n", s.Name, perConn/1024, opts.idleConns)
	}
	return nil
}

// measured is one server's median round under one load, with the
// median of its per-round ratios to the first server.
type measured struct {
	rate      float64
	p50, p99  time.Duration
	cpuPerMsg time.Duration

	rateRatio, cpuRatio float64
}

// compare runs cfg against each server, alternating them round by round
// and which goes first, and returns each one's median round by throughput.
func compare(ctx context.Context, servers []proc.Spec, cfg load.Config, rounds int) ([]measured, error) {
	all := make([][]measured, len(servers))
	for round := range rounds {
		// The server measured second in a round is measured slower (the
		// first one's thousand closed connections are still in the
		// kernel's tables): alternate who goes first.
		order := make([]int, len(servers))
		for i := range order {
			order[i] = i
		}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			m, err := measure(ctx, servers[i], cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", servers[i].Name, err)
			}
			all[i] = append(all[i], m)
		}
	}
	out := make([]measured, len(servers))
	for i, ms := range all {
		// The ratios to the first server are taken round by round, from
		// runs seconds apart, before the median: a noisy spell then
		// moves both sides of a ratio alike.
		var rates, cpus []float64
		for r, m := range ms {
			rates = append(rates, m.rate/all[0][r].rate)
			cpus = append(cpus, float64(m.cpuPerMsg)/float64(all[0][r].cpuPerMsg))
		}
		sorted := slices.Clone(ms)
		slices.SortFunc(sorted, func(a, b measured) int { return int(a.rate - b.rate) })
		out[i] = sorted[len(sorted)/2]
		out[i].rateRatio, out[i].cpuRatio = median(rates), median(cpus)
	}
	return out, nil
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// measure starts the server, runs one load round against it and reads
// the CPU time the server spent on it.
func measure(ctx context.Context, s proc.Spec, cfg load.Config) (measured, error) {
	p, err := proc.Start(ctx, s)
	if err != nil {
		return measured{}, err
	}
	defer p.Stop()
	cfg.Addr = p.Addr
	// CPU is read around the whole run, connects included: a few
	// milliseconds against seconds of echoing, and gatewayd's share (it
	// logs each connect) is part of what it costs.
	before, err := p.CPUTime()
	if err != nil {
		return measured{}, err
	}
	if hs := cfg.Handshake; hs != nil {
		// Over TLS the count starts once the last handshake is done:
		// a thousand handshakes would weigh on the echo's figure, and
		// they are measured on their own (tls.go).
		var done atomic.Int64
		cfg.Handshake = func(ctx context.Context, c net.Conn, i int) (net.Conn, error) {
			c, err := hs(ctx, c, i)
			if err == nil && done.Add(1) == int64(cfg.Conns) {
				if t, err := p.CPUTime(); err == nil {
					before = t // Run's end orders this before the read below
				}
			}
			return c, err
		}
	}
	res, err := load.Run(ctx, cfg)
	if err != nil {
		return measured{}, err
	}
	after, err := p.CPUTime()
	if err != nil {
		return measured{}, err
	}
	if res.Mismatches > 0 || res.Errors > 0 || res.ConnectErrors > 0 {
		return measured{}, fmt.Errorf("%d mismatches, %d errors, %d connect errors (%s %s)", res.Mismatches, res.Errors, res.ConnectErrors, res.FirstError, res.FirstConnectError)
	}
	return measured{
		rate:      res.MsgsPerSec,
		p50:       res.Latency.P50,
		p99:       res.Latency.P99,
		cpuPerMsg: (after - before) / time.Duration(max(res.Messages, 1)),
	}, nil
}

func writeFile(dir, name, content string) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		panic(err)
	}
	return path
}

// allFeatures is a gatewayd configuration with every per-connection
// feature doing work: limits, timeouts, an allow list, hooks and LEDs.
func allFeatures(driver string) string {
	return `listen: "127.0.0.1:0"
framing: raw
limits:
  max_clients: 20000
  max_clients_per_ip: 20000
  idle_timeout: 5m
  write_timeout: 10s
allow: ["127.0.0.0/8", "::1/128"]
control: ""
log:
  level: info
gpio:
  driver: ` + driver + `
  leds:
    - {name: connect, pin: GPIO17, on: clients, action: level}
    - {name: activity, pin: GPIO27, on: message, action: blink, duration: 50ms}
    - {name: link, pin: GPIO22, on: connect, action: toggle, duration: 100ms}
    - {name: heartbeat, pin: GPIO23, on: heartbeat, action: blink, duration: 1s}
`
}
