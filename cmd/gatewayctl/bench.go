package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
)

// benchFlags defines `gatewayctl bench`, a front end to package load.
func benchFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	addr := fs.String("addr", defaultAddr, "the gateway's `HOST:PORT`")
	conns := fs.Int("c", 10, "`CONNS` concurrent connections")
	size := fs.Int("size", 64, "`BYTES` per message")
	dur := fs.Duration("d", 5*time.Second, "run for `DURATION`; with -n and no -d, until the messages are done")
	perConn := fs.Int("n", 0, "stop after `MESSAGES` per connection (0: run for -d only)")
	rate := fs.Float64("rate", 0, "send `R` messages per second per connection (0: the next as soon as the echo is back)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object on stdout")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a connection attempt after `D`")
	sources := fs.String("source", "", "comma-separated local `ADDRS` to connect from (default: automatic)")
	lines := fs.Bool("lines", false, "end each message with LF and use no other LF, for a gateway with framing: line")
	echoTimeout := fs.Duration("echo-timeout", 10*time.Second, "with -n and no -d, count an echo not back after `D` as an error")
	cf := addConnFlags(fs, true)
	return func(ctx context.Context, args []string, std stdio) error {
		if err := cf.check(); err != nil {
			return err
		}
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		cfg := load.Config{
			Addr: *addr, Conns: *conns, Size: *size, Duration: *dur, Messages: *perConn,
			Rate: *rate, ConnectTimeout: *timeout, Lines: *lines,
		}
		if err := cf.benchHandshake(&cfg); err != nil {
			return err
		}
		if cf.hello != "" {
			// A board session echoes whole lines only: a message with
			// an LF inside or none at its end would never come back whole.
			cfg.Lines = true
		}
		dSet := false
		fs.Visit(func(f *flag.Flag) { dSet = dSet || f.Name == "d" })
		if *perConn > 0 && !dSet {
			// Until the messages are done: a gateway that never echoes
			// must not hold the run for ever.
			cfg.Duration = 0
			cfg.EchoTimeout = *echoTimeout
		}
		if *sources != "" {
			for s := range strings.SplitSeq(*sources, ",") {
				a, err := netip.ParseAddr(strings.TrimSpace(s))
				if err != nil {
					return usageError{Err: fmt.Errorf("-source: %q is not an IP address", s)}
				}
				cfg.SourceAddrs = append(cfg.SourceAddrs, a)
			}
		}
		switch {
		case *conns < 1:
			return usageError{Err: fmt.Errorf("-c %d: need at least one connection", *conns)}
		case *size < 1:
			return usageError{Err: fmt.Errorf("-size %d: need at least one byte", *size)}
		case *lines && *size < 2:
			return usageError{Err: errors.New("-lines needs -size 2 or more")}
		case *perConn < 0, *dur < 0, *rate < 0:
			return usageError{Err: errors.New("-n, -d and -rate cannot be negative")}
		case cfg.Duration == 0 && cfg.Messages == 0:
			return usageError{Err: errors.New("-d 0 needs -n")}
		}
		if isTerminal(std.errOut) {
			cfg.Progress = std.errOut
		}

		res, err := load.Run(ctx, cfg)
		if *jsonOut {
			if jerr := writeJSON(std.out, cfg, res); jerr != nil {
				return jerr
			}
		}
		var opened openError
		if errors.As(err, &opened) { // connected, but no TLS handshake or hello went through
			return fmt.Errorf("cannot connect to %s: %w", cfg.Addr, opened)
		}
		if errors.Is(err, load.ErrNoConnection) {
			return connectError(cfg.Addr, err, cfg.ConnectTimeout)
		}
		if err != nil {
			return err
		}
		if !*jsonOut {
			writeReport(std.out, cfg, res)
		}
		if res.Messages == 0 {
			return noEcho(cfg, res)
		}
		if res.Mismatches > 0 {
			return fmt.Errorf("%d echoed bytes differed from what was sent", res.Mismatches)
		}
		return nil
	}
}

// noEcho says why a run that connected completed no message at all.
func noEcho(cfg load.Config, r load.Result) error {
	why := ""
	if r.FirstError != "" {
		why = " (" + r.FirstError + ")"
	}
	if !cfg.Lines {
		return fmt.Errorf("no message came back from %s%s: a gateway with framing: line echoes only whole lines; use -lines", cfg.Addr, why)
	}
	return fmt.Errorf("no message came back from %s%s: is it an echo server? Its log says what it did with the lines", cfg.Addr, why)
}

// writeReport prints the human summary of a run.
func writeReport(w io.Writer, cfg load.Config, r load.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s, %d-byte messages", cfg.Addr, cfg.Size)
	if cfg.Rate > 0 {
		fmt.Fprintf(tw, ", %g msg/s per connection", cfg.Rate)
	}
	fmt.Fprintf(tw, "\nconnections\t%d (%d failed)\n", r.Conns, r.ConnectErrors)
	fmt.Fprintf(tw, "messages\t%d in %.2fs: %.0f msg/s, %.2f MB/s each way\n", r.Messages, r.Elapsed.Seconds(), r.MsgsPerSec, r.MBPerSec)
	l := r.Latency
	fmt.Fprintf(tw, "latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max))
	fmt.Fprintf(tw, "mismatches\t%d\n", r.Mismatches)
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors)
	if r.FirstConnectError != "" {
		fmt.Fprintf(tw, "first connect error\t%s\n", r.FirstConnectError)
	}
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	tw.Flush()
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%dns", d)
}

// benchJSON is the -json output, for scripts. Latencies are microseconds.
type benchJSON struct {
	Addr              string      `json:"addr"`
	Size              int         `json:"size"`
	Rate              float64     `json:"rate,omitempty"`
	Conns             int         `json:"conns"`
	ConnectErrors     int         `json:"connect_errors"`
	Messages          uint64      `json:"messages"`
	Bytes             uint64      `json:"bytes"`
	ElapsedSeconds    float64     `json:"elapsed_s"`
	MsgsPerSec        float64     `json:"msgs_per_sec"`
	MBPerSec          float64     `json:"mb_per_sec"`
	LatencyMicros     latencyJSON `json:"latency_us"`
	Mismatches        uint64      `json:"mismatches"`
	Errors            uint64      `json:"errors"`
	FirstConnectError string      `json:"first_connect_error,omitempty"`
	FirstError        string      `json:"first_error,omitempty"`
}

type latencyJSON struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

func writeJSON(w io.Writer, cfg load.Config, r load.Result) error {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	out := benchJSON{
		Addr: cfg.Addr, Size: cfg.Size, Rate: cfg.Rate,
		Conns: r.Conns, ConnectErrors: r.ConnectErrors,
		Messages: r.Messages, Bytes: r.Bytes,
		ElapsedSeconds: r.Elapsed.Seconds(), MsgsPerSec: r.MsgsPerSec, MBPerSec: r.MBPerSec,
		LatencyMicros: latencyJSON{us(r.Latency.P50), us(r.Latency.P90), us(r.Latency.P99), us(r.Latency.P999), us(r.Latency.Max)},
		Mismatches:    r.Mismatches, Errors: r.Errors,
		FirstConnectError: r.FirstConnectError, FirstError: r.FirstError,
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}
