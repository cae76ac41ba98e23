package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// options are the knobs of one benchmark run.
type options struct {
	boards      []int
	size        int           // bytes per line, LF included
	d           time.Duration // length of each measured run
	rate        float64       // the fixed offered load for CPU and latency, msg/s in all
	warmup      time.Duration // of the fixed load, before it is measured
	rampFrom    float64       // first offered rate when searching a sustained rate
	rampSteps   int           // at most this many doublings
	restartRate float64       // offered load through the broker restart
	restartRun  time.Duration // how long boards send in the restart measure
	restartAt   time.Duration // when in it mosquitto is stopped
	outage      time.Duration // how long mosquitto stays down
	drain       time.Duration // the longest wait for stragglers after a run
	// reconnectQuiet is how long no arrival means none will come after
	// the restart: longer than Node-RED's 5 s reconnect period and
	// gatewayd's backoff.
	reconnectQuiet time.Duration
	native         bool // measure the native limit beside the gateways
}

// bench is a run's shared state: one broker, one subscriber, a scratch
// directory and a counter that makes every measurement's board IDs new.
type bench struct {
	opts   options
	broker *broker
	sub    *subscriber
	dir    string
	runs   int
	logf   func(format string, args ...any)
}

func (b *bench) tag() string {
	b.runs++
	return fmt.Sprintf("m%d", b.runs)
}

// startTarget starts t in a fresh directory of its own.
func (b *bench) startTarget(ctx context.Context, t target) (*gateway, error) {
	b.runs++
	dir := filepath.Join(b.dir, fmt.Sprintf("%s-%d", sanitize(t.name), b.runs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g, err := t.start(ctx, b.broker.url(), dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	return g, nil
}

func sanitize(s string) string {
	out := []byte(s)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			out[i] = '-'
		}
	}
	return string(out)
}

// row is what one gateway did with one number of boards.
type row struct {
	sustained        float64 // msg/s delivered to the subscriber
	sustainedHow     string
	fixedOffered     float64 // msg/s the boards managed to offer at the fixed load
	fixedArrived     float64 // msg/s that reached the subscriber during it
	cpuPerMsg        time.Duration
	switchesPerMsg   float64       // the gateway's context switches per delivered message at the fixed load
	cpuSat           time.Duration // CPU per delivered message in the sustained (closed-loop) run; echoing gateways only
	cpuBridgeOff     time.Duration // the same gateway's, echoing only (target.bridgeOff)
	subP50, subP99   time.Duration // due → arrival at the subscriber
	echoP50, echoP99 time.Duration // due → receipt (echoing gateways)
	restart          restartResult
}

type restartResult struct {
	counted, arrived, lost, dups uint64
	subscriberLost               bool // the broker came back without the subscriber's session
}

// pass is one run of boards against a started gateway.
type pass struct {
	sent, receipted uint64
	arrivedAtEnd    uint64 // arrivals when the boards stopped
	arrived         uint64 // after the stragglers
	lost            uint64 // answerable lines that never arrived
	dups            uint64
	elapsed         time.Duration
	f               *fleet
	t               *tally
}

// drive connects n boards to g, runs them at rate (0: closed loop) for
// d, calling during in parallel if set, and waits for the stragglers
// until all arrived or none did for quiet.
func (b *bench) drive(ctx context.Context, t target, g *gateway, n int, rate float64, d, quiet time.Duration, during func()) (pass, error) {
	tag := b.tag()
	f, err := dialFleet(ctx, g.addr, tag, n, b.opts.size, t.echoes)
	if err != nil {
		return pass{}, fmt.Errorf("%s: %w", t.name, err)
	}
	defer f.close()
	tl := b.sub.count(tag)
	start := time.Now()
	done := make(chan struct{})
	if during != nil {
		go func() {
			defer close(done)
			during()
		}()
	} else {
		close(done)
	}
	f.run(ctx, rate, d)
	elapsed := time.Since(start)
	<-done
	p := pass{arrivedAtEnd: tl.arrived.Load(), elapsed: elapsed, f: f, t: tl}
	upTo, sent, rcpt := f.counts()
	p.sent, p.receipted = sent, rcpt
	want := sent
	tl.settle(ctx, want, quiet, b.opts.drain)
	p.arrived = tl.arrived.Load()
	p.lost = tl.missing(upTo)
	if p.lost > 0 {
		b.logf("  %s, %d boards: %d lines never arrived: %s", t.name, n, p.lost, tl.gaps(upTo))
	}
	p.dups, _, _ = tl.duplicates()
	return p, nil
}

// sustained finds the highest rate the gateway delivers to the subscriber
// and keeps delivering. A gateway that echoes is driven in closed loop
// (each board sends its next line once the last is receipted), which
// cannot build a backlog. One that does not echo is offered doubling
// rates; a step is kept up when every line written during it has reached
// the subscriber within a second of its end.
func (b *bench) sustained(ctx context.Context, t target, n int) (float64, string, time.Duration, error) {
	g, err := b.startTarget(ctx, t)
	if err != nil {
		return 0, "", 0, err
	}
	defer func() { g.stop() }()
	if t.echoes {
		var p pass
		c, err := cpuPerLine(g, func() (uint64, error) {
			var err error
			p, err = b.drive(ctx, t, g, n, 0, b.opts.d, 2*time.Second, nil)
			return p.arrived, err
		})
		if err != nil {
			return 0, "", 0, err
		}
		return float64(p.arrivedAtEnd) / p.elapsed.Seconds(), "closed loop", c.cpu, nil
	}
	var best, kept, failedAt float64
	for step, rate := 0, b.opts.rampFrom; step < b.opts.rampSteps; step, rate = step+1, rate*2 {
		ok, delivered, err := b.rampStep(ctx, t, g, n, rate)
		if err != nil {
			return 0, "", 0, err
		}
		if !ok {
			failedAt = rate
			break
		}
		best, kept = max(best, delivered), rate
	}
	if failedAt == 0 {
		return best, fmt.Sprintf("kept up to %.0f offered (the most tried)", kept), 0, nil
	}
	if kept > 0 {
		// One step halfway, on a fresh gateway: the failed step left a
		// backlog in this one.
		g.stop()
		g, err = b.startTarget(ctx, t)
		if err != nil {
			g = &gateway{stop: func() {}} // for the deferred stop
			return 0, "", 0, err
		}
		mid := (kept + failedAt) / 2
		ok, delivered, err := b.rampStep(ctx, t, g, n, mid)
		if err != nil {
			return 0, "", 0, err
		}
		if ok {
			best, kept = max(best, delivered), mid
		} else {
			failedAt = mid
		}
	}
	return best, fmt.Sprintf("kept up at %.0f offered, not %.0f", kept, failedAt), 0, nil
}

// rampStep offers rate for one run and says whether every line written
// reached the subscriber within a second of its end, and the rate that
// arrived during it.
func (b *bench) rampStep(ctx context.Context, t target, g *gateway, n int, rate float64) (bool, float64, error) {
	tag := b.tag()
	f, err := dialFleet(ctx, g.addr, tag, n, b.opts.size, false)
	if err != nil {
		return false, 0, fmt.Errorf("%s: %w", t.name, err)
	}
	defer f.close()
	tl := b.sub.count(tag)
	start := time.Now()
	f.run(ctx, rate, b.opts.d)
	elapsed := time.Since(start)
	atEnd := tl.arrived.Load()
	_, sent, _ := f.counts()
	tl.settle(ctx, sent, time.Second, time.Second)
	kept := tl.arrived.Load() >= sent
	b.logf("  %s, %d boards: offered %.0f msg/s, wrote %d, %d arrived by the end, %d a second later: %s",
		t.name, n, rate, sent, atEnd, tl.arrived.Load(), map[bool]string{true: "kept up", false: "fell behind"}[kept])
	return kept, float64(atEnd) / elapsed.Seconds(), nil
}

// fixedLoad offers the fixed load and reads the gateway's CPU time around
// it, the stragglers included: CPU per message delivered, and latency.
func (b *bench) fixedLoad(ctx context.Context, t target, n int, r *row) error {
	g, err := b.startTarget(ctx, t)
	if err != nil {
		return err
	}
	defer g.stop()
	// A second of the same load first, not counted: a process started a
	// moment ago is still warming up (Node.js compiles its hot paths).
	if _, err := b.drive(ctx, t, g, n, b.opts.rate, b.opts.warmup, 2*time.Second, nil); err != nil {
		return err
	}
	var p pass
	c, err := cpuPerLine(g, func() (uint64, error) {
		var err error
		p, err = b.drive(ctx, t, g, n, b.opts.rate, b.opts.d, 2*time.Second, nil)
		return p.arrived, err
	})
	if err != nil {
		return err
	}
	r.cpuPerMsg, r.switchesPerMsg = c.cpu, c.switches
	r.fixedOffered = float64(p.sent) / p.elapsed.Seconds()
	r.fixedArrived = float64(p.arrivedAtEnd) / p.elapsed.Seconds()
	lat := p.t.latency.Percentiles()
	r.subP50, r.subP99 = lat.P50, lat.P99
	if t.echoes {
		e := p.f.echo.Percentiles()
		r.echoP50, r.echoP99 = e.P50, e.P99
	}
	return nil
}

// bridgeOffLoad offers t.bridgeOff, the gateway with no broker, the same
// fixed load with the same boards, and returns its CPU time per receipted
// line: what reading a line and writing its receipt cost alone.
func (b *bench) bridgeOffLoad(ctx context.Context, t target, n int) (time.Duration, error) {
	g, err := b.startTarget(ctx, *t.bridgeOff)
	if err != nil {
		return 0, err
	}
	defer g.stop()
	offer := func(d time.Duration) (uint64, error) {
		f, err := dialFleet(ctx, g.addr, b.tag(), n, b.opts.size, true)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t.bridgeOff.name, err)
		}
		defer f.close()
		f.run(ctx, b.opts.rate, d)
		_, _, receipted := f.counts()
		return receipted, nil
	}
	if _, err := offer(b.opts.warmup); err != nil {
		return 0, err
	}
	c, err := cpuPerLine(g, func() (uint64, error) { return offer(b.opts.d) })
	return c.cpu, err
}

// cost is what a gateway process spent per line over one run.
type cost struct {
	cpu      time.Duration // CPU time (user and system)
	switches float64       // context switches of its threads: its wake-ups
}

// cpuPerLine runs run, which returns how many lines it got through g,
// and returns g's CPU time and context switches over that many.
func cpuPerLine(g *gateway, run func() (uint64, error)) (cost, error) {
	before, err := proc.CPUTime(g.pid)
	if err != nil {
		return cost{}, err
	}
	swBefore, err := proc.ContextSwitches(g.pid)
	if err != nil {
		return cost{}, err
	}
	lines, err := run()
	if err != nil {
		return cost{}, err
	}
	after, err := proc.CPUTime(g.pid)
	if err != nil {
		return cost{}, err
	}
	swAfter, err := proc.ContextSwitches(g.pid)
	if err != nil {
		return cost{}, err
	}
	n := max(lines, 1)
	return cost{cpu: (after - before) / time.Duration(n), switches: float64(swAfter-swBefore) / float64(n)}, nil
}

// restart offers a steady load while mosquitto is stopped (SIGTERM, as
// systemd does) and started again on the same port, then counts the lines
// the gateway answered for (receipted by gatewayd, written for Node-RED)
// that never reached the subscriber.
func (b *bench) restart(ctx context.Context, t target, n int) (restartResult, error) {
	g, err := b.startTarget(ctx, t)
	if err != nil {
		return restartResult{}, err
	}
	defer g.stop()
	var restartErr error
	lostBefore := b.sub.sessionLost.Load()
	p, err := b.drive(ctx, t, g, n, b.opts.restartRate, b.opts.restartRun, b.opts.reconnectQuiet, func() {
		time.Sleep(b.opts.restartAt)
		b.broker.stop()
		time.Sleep(b.opts.outage)
		restartErr = b.broker.start(ctx)
	})
	if err != nil {
		return restartResult{}, err
	}
	if restartErr != nil {
		return restartResult{}, fmt.Errorf("restarting mosquitto: %w", restartErr)
	}
	counted := p.sent
	if t.echoes {
		counted = p.receipted
	}
	r := restartResult{counted: counted, arrived: counted - p.lost, lost: p.lost, dups: p.dups}
	if b.sub.sessionLost.Load() != lostBefore {
		r.subscriberLost = true
		b.logf("  %s, %d boards: mosquitto came back without the subscriber's session", t.name, n)
	}
	return r, nil
}
