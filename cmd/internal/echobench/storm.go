package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// stormInterval is how often each steady connection sends: 100
// connections make 1,000 messages a second, a busy fleet's telemetry.
const stormInterval = 100 * time.Millisecond

type stormResult struct {
	took         time.Duration // from the drop until the last board echoed again
	quiet, storm load.Percentiles
}

// sample is one steady message: when it was due and how long its echo took
// from then.
type sample struct {
	due time.Time
	lat time.Duration
}

// reconnectStorm starts s, connects opts.storm boards and opts.steady
// senders over TLS, lets the senders run for stormQuiet, then closes every
// board at once and has all of them reconnect together (a gateway's
// restart or a Wi-Fi outage, seen from the fleet). It returns the
// senders' latency before the storm and while it lasted.
func reconnectStorm(ctx context.Context, s proc.Spec, cfg *tls.Config, opts options) (stormResult, error) {
	p, err := proc.Start(ctx, s)
	if err != nil {
		return stormResult{}, err
	}
	defer p.Stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	dial := func() (*tls.Conn, error) {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: cfg}
		c, err := d.DialContext(ctx, "tcp", p.Addr)
		if err != nil {
			return nil, err
		}
		return c.(*tls.Conn), nil
	}
	boards, err := dialAll(opts.storm, 64, dial)
	defer closeAll(boards)
	if err != nil {
		return stormResult{}, fmt.Errorf("connecting the boards: %w", err)
	}
	steady, err := dialAll(opts.steady, 64, dial)
	defer closeAll(steady)
	if err != nil {
		return stormResult{}, fmt.Errorf("connecting the steady senders: %w", err)
	}

	// The senders run until the storm is over plus a little; each keeps
	// its samples, read once all have stopped.
	samples := make([][]sample, len(steady))
	errs := make([]error, len(steady))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range steady {
		// Spread over the interval, so the sends do not come in bursts.
		first := start.Add(time.Duration(i) * stormInterval / time.Duration(len(steady)))
		wg.Go(func() { samples[i], errs[i] = sendSteadily(c, first, stop) })
	}

	select {
	case <-time.After(opts.stormQuiet):
	case <-ctx.Done():
	}
	stormStart := time.Now()
	closeAll(boards)
	again, err := dialAll(len(boards), len(boards), dial)
	defer closeAll(again)
	stormEnd := time.Now()
	time.Sleep(stormInterval)
	close(stop)
	wg.Wait()
	if err != nil {
		return stormResult{}, fmt.Errorf("reconnecting: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return stormResult{}, fmt.Errorf("steady sender: %w", err)
	}

	quiet, storm := load.NewHistogram(), load.NewHistogram()
	for _, ss := range samples {
		for _, smp := range ss {
			switch {
			case smp.due.Before(stormStart):
				quiet.Record(smp.lat)
			case smp.due.Before(stormEnd):
				storm.Record(smp.lat)
			}
		}
	}
	return stormResult{took: stormEnd.Sub(stormStart), quiet: quiet.Percentiles(), storm: storm.Percentiles()}, nil
}

// dialAll opens n connections, at most inFlight at once, each completing
// its handshake and one echo as a board's first message would. It returns
// the connections made and the first error.
func dialAll(n, inFlight int, dial func() (*tls.Conn, error)) ([]*tls.Conn, error) {
	conns := make([]*tls.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial()
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = c
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			var b [1]byte
			if _, err := c.Write([]byte("b")); err != nil {
				errs[i] = err
			} else if _, err := io.ReadFull(c, b[:]); err != nil {
				errs[i] = fmt.Errorf("first echo: %w", err)
			}
			_ = c.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	return conns, errors.Join(errs...)
}

func closeAll(conns []*tls.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// sendSteadily sends 64 bytes every stormInterval from first on until stop,
// each echo read back before the next, and records each latency from when
// the message was due, so a stalled server cannot hide the wait.
func sendSteadily(c *tls.Conn, first time.Time, stop <-chan struct{}) ([]sample, error) {
	msg := make([]byte, 64)
	echo := make([]byte, len(msg))
	var out []sample
	for due := first; ; due = due.Add(stormInterval) {
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-stop:
				return out, nil
			}
		}
		select {
		case <-stop:
			return out, nil
		default:
		}
		for i := range msg {
			msg[i] = byte(len(out) + i)
		}
		_ = c.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := c.Write(msg); err != nil {
			return out, err
		}
		if _, err := io.ReadFull(c, echo); err != nil {
			return out, err
		}
		if string(echo) != string(msg) {
			return out, errors.New("echo differs from the message")
		}
		out = append(out, sample{due: due, lat: time.Since(due)})
	}
}
