package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// syncWriteMax is the largest message written before its echo is read. A
// bigger one is written while the echo is read, so a message larger than
// the socket buffers on both sides cannot deadlock client and server.
const syncWriteMax = 16 << 10

// longAgo is a deadline in the past, to unblock a connection's I/O at once.
var longAgo = time.Unix(1, 0)

// runner is the state of one Run.
type runner struct {
	cfg    Config
	shards []*shard

	connected, connectErrors atomic.Int64
	firstConnectErr          atomic.Pointer[errBox]
	firstErr                 atomic.Pointer[errBox]
	started                  atomic.Int64 // UnixNano when the timed phase began; 0 before

	// endAt is when a run with a Duration ends, zero otherwise. Set before
	// the connections start, read-only after.
	endAt time.Time
}

// errBox holds an error for an atomic.Pointer.
type errBox struct{ err error }

func loadErr(p *atomic.Pointer[errBox]) error {
	if b := p.Load(); b != nil {
		return b.err
	}
	return nil
}

// shard holds the counters and histogram of a group of connections. A
// histogram per connection would cost tens of KiB each at tens of thousands
// of connections; a few shards, each behind its own mutex, keep contention
// as low with a fixed amount of memory.
type shard struct {
	messages, bytes, mismatches, errors atomic.Uint64

	hist *Histogram

	_ [64]byte // keep the next shard's counters off this cache line
}

func (s *shard) record(d time.Duration, size int) {
	s.hist.Record(d)
	s.messages.Add(1)
	s.bytes.Add(uint64(size))
}

func newRunner(cfg Config) *runner {
	r := &runner{cfg: cfg}
	n := min(cfg.Conns, 4*runtime.GOMAXPROCS(0))
	r.shards = make([]*shard, n)
	for i := range r.shards {
		r.shards[i] = &shard{hist: NewHistogram()}
	}
	return r
}

func (r *runner) run(ctx context.Context) (Result, error) {
	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	if r.cfg.Progress != nil {
		go func() {
			defer close(progressDone)
			r.progress(stopProgress)
		}()
	} else {
		close(progressDone)
	}
	defer func() {
		close(stopProgress)
		<-progressDone
	}()

	conns := r.connectAll(ctx)
	if r.connected.Load() == 0 {
		err := loadErr(&r.firstConnectErr)
		if err == nil {
			err = ctx.Err()
		}
		return r.result(0), fmt.Errorf("%w to %s: %w", ErrNoConnection, r.cfg.Addr, err)
	}

	// Every connection's goroutine waits on start, so that all begin together
	// once the last dial is done. The run ends when the last connection has
	// finished (driving), or when runCtx ends; closing thousands of
	// connections afterwards (all) is not part of it.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var stoppedAt atomic.Int64 // UnixNano of the first stop
	stop := func() {
		stoppedAt.CompareAndSwap(0, time.Now().UnixNano())
		cancelRun()
	}
	unwatch := context.AfterFunc(ctx, stop)
	defer unwatch()
	start := make(chan struct{})
	var driving, all sync.WaitGroup
	for i, c := range conns {
		if c == nil {
			continue
		}
		sh := r.shards[i%len(r.shards)]
		driving.Add(1)
		all.Go(func() {
			defer c.Close()
			defer driving.Done()
			select {
			case <-start:
			case <-runCtx.Done():
				return
			}
			r.drive(runCtx, uint64(i), c, sh)
		})
	}
	begin := time.Now()
	r.started.Store(begin.UnixNano())
	if r.cfg.Duration > 0 {
		// Connections also stop at endAt by their own deadlines: with
		// thousands of them busy, the timer's goroutine may run late.
		r.endAt = begin.Add(r.cfg.Duration)
		t := time.AfterFunc(r.cfg.Duration, stop)
		defer t.Stop()
	}
	close(start)
	driving.Wait()
	end := time.Now()
	if !r.endAt.IsZero() && end.After(r.endAt) {
		end = r.endAt
	}
	if t := stoppedAt.Load(); t != 0 && t < end.UnixNano() {
		end = time.Unix(0, t)
	}
	all.Wait()
	return r.result(end.Sub(begin)), nil
}

// drive runs one connection's send/receive loop until its messages are done,
// ctx ends, or an I/O error.
func (r *runner) drive(ctx context.Context, id uint64, c net.Conn, sh *shard) {
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(longAgo) })
	defer stop()
	if !r.endAt.IsZero() {
		_ = c.SetDeadline(r.endAt)
	}

	p := newPattern(id*0x9e3779b97f4a7c15+uint64(time.Now().UnixNano()), r.cfg.Lines)
	msg := make([]byte, r.cfg.Size)
	echo := make([]byte, r.cfg.Size)

	var interval time.Duration
	var due time.Time
	var timer *time.Timer
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / r.cfg.Rate)
		// Spread the connections' first messages over one interval, so
		// that they do not all fire on the same tick.
		due = time.Now().Add(time.Duration(p.next() % uint64(interval+1)))
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	}

	for n := 0; r.cfg.Messages == 0 || n < r.cfg.Messages; n++ {
		var sent time.Time
		if interval > 0 {
			if d := time.Until(due); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			sent = due
			due = due.Add(interval)
			p.fill(msg)
		} else {
			p.fill(msg)
			sent = time.Now()
		}
		if r.cfg.EchoTimeout > 0 {
			d := time.Now().Add(r.cfg.EchoTimeout)
			if !r.endAt.IsZero() && r.endAt.Before(d) {
				d = r.endAt
			}
			_ = c.SetDeadline(d)
		}
		err := roundTrip(c, msg, echo)
		now := time.Now()
		if r.over(ctx, now) {
			// The run ended during this round trip: its error, if any,
			// is the run stopping the connection, and an echo that came
			// back after the end is not counted.
			return
		}
		if err != nil {
			if r.cfg.EchoTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("no echo within %v", r.cfg.EchoTimeout)
			}
			sh.errors.Add(1)
			r.firstErr.CompareAndSwap(nil, &errBox{err})
			return
		}
		lat := now.Sub(sent)
		if !bytes.Equal(msg, echo) {
			sh.mismatches.Add(differing(msg, echo))
		}
		sh.record(lat, len(echo))
	}
}

// over reports whether the run has ended at now.
func (r *runner) over(ctx context.Context, now time.Time) bool {
	return ctx.Err() != nil || (!r.endAt.IsZero() && !now.Before(r.endAt))
}

// roundTrip writes msg and reads its echo into echo.
func roundTrip(c net.Conn, msg, echo []byte) error {
	if len(msg) <= syncWriteMax {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, echo)
		return err
	}
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	_, rerr := io.ReadFull(c, echo)
	if rerr != nil {
		_ = c.SetDeadline(longAgo) // unblock the writer
	}
	if err := <-werr; rerr == nil {
		return err
	}
	return rerr
}

// totals sums the shards' counters.
func (r *runner) totals() (msgs, bytes, mismatches, errs uint64) {
	for _, s := range r.shards {
		msgs += s.messages.Load()
		bytes += s.bytes.Load()
		mismatches += s.mismatches.Load()
		errs += s.errors.Load()
	}
	return
}

func (r *runner) result(elapsed time.Duration) Result {
	res := Result{
		Conns:         int(r.connected.Load()),
		ConnectErrors: int(r.connectErrors.Load()),
		Elapsed:       elapsed,
	}
	res.Messages, res.Bytes, res.Mismatches, res.Errors = r.totals()
	if elapsed > 0 {
		s := elapsed.Seconds()
		res.MsgsPerSec = float64(res.Messages) / s
		res.MBPerSec = float64(res.Bytes) / s / 1e6
	}
	h := NewHistogram()
	for _, s := range r.shards {
		h.Merge(s.hist)
	}
	res.Latency = h.Percentiles()
	if err := loadErr(&r.firstConnectErr); err != nil {
		res.FirstConnectError = err.Error()
	}
	if err := loadErr(&r.firstErr); err != nil {
		res.FirstError = err.Error()
	}
	return res
}

// progress writes a line to cfg.Progress every second until stop is closed.
func (r *runner) progress(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastMsgs uint64
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			start := r.started.Load()
			if start == 0 {
				fmt.Fprintf(r.cfg.Progress, "connecting: %d of %d connected, %d failed\n",
					r.connected.Load(), r.cfg.Conns, r.connectErrors.Load())
				continue
			}
			msgs, _, mismatches, errs := r.totals()
			if last.IsZero() {
				last = time.Unix(0, start)
			}
			rate := float64(msgs-lastMsgs) / now.Sub(last).Seconds()
			lastMsgs, last = msgs, now
			fmt.Fprintf(r.cfg.Progress, "%5.0fs  %d conns  %d msgs  %.0f msg/s  %d mismatches  %d errors\n",
				now.Sub(time.Unix(0, start)).Seconds(), r.connected.Load(), msgs, rate, mismatches, errs)
		}
	}
}
