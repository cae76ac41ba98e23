// Package load is the load generator behind `gatewayctl bench`: it opens
// many TCP connections to an echo server, sends messages on all of them at
// once, checks that every byte comes back unchanged, and reports throughput
// and latency percentiles.
//
// Run first establishes every connection (a bounded number of dials in
// flight), then starts the timed phase on all of them together, so connect
// time never counts against throughput or latency. Each connection sends one
// message, reads the whole echo back with io.ReadFull, compares it, and
// records the round trip in an HDR histogram before sending the next.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// Config describes one load run. Addr, Conns, Size and one of Duration or
// Messages are required; the rest have working zero values.
type Config struct {
	Addr     string        // HOST:PORT of the echo server
	Conns    int           // concurrent connections
	Size     int           // message bytes
	Duration time.Duration // run for this long (0: until Messages per connection are done)
	Messages int           // messages per connection (0: until Duration)

	// Rate limits each connection to this many messages per second; 0 sends
	// the next message as soon as the previous echo is back. With a rate,
	// latency is measured from when a message was due rather than when it
	// was written, so a server that stalls cannot hide the wait (no
	// coordinated omission).
	Rate float64

	// SourceAddrs are the local addresses to dial from, used round-robin.
	// Nil picks automatically: the kernel's choice, except that against a
	// loopback IPv4 server with more than PerSource connections they are
	// spread over 127.0.0.1, 127.0.0.2, ... (all of 127.0.0.0/8 is local on
	// Linux), because one source address runs out of ephemeral ports.
	SourceAddrs []netip.Addr

	// PerSource is the most connections put on one automatic loopback
	// source address; 0 means 20000 (the default Linux ephemeral range
	// holds about 28000 ports).
	PerSource int

	// Lines makes each message end with LF and hold no other LF, for a
	// server running with `framing: line`.
	Lines bool

	// Handshake, when set, runs on each new connection (the i-th, from 0)
	// before the timed phase, and the connection it returns is used: a TLS
	// handshake, a hello. Its time is connect time; an error counts as a
	// failed connection.
	Handshake func(ctx context.Context, c net.Conn, i int) (net.Conn, error)

	// EchoTimeout, when set, bounds each round trip: an echo that has not
	// come back whole by then is an error on that connection, which then
	// stops. A run with Messages and no Duration needs it, or a server
	// that never echoes (a line-framing gateway sent no LF) holds it
	// forever. 0: no bound but Duration.
	EchoTimeout time.Duration

	Progress        io.Writer     // a progress line every second when non-nil
	ConnectTimeout  time.Duration // per dial; 0 means 5s
	DialConcurrency int           // dials in flight at once; 0 means 256
}

// Result is what a run measured. Bytes counts echoed payload, one way.
type Result struct {
	Conns, ConnectErrors int
	Messages, Bytes      uint64
	Mismatches, Errors   uint64 // echo bytes that differed; other I/O errors
	Elapsed              time.Duration
	MsgsPerSec, MBPerSec float64 // MB is 10^6 bytes
	Latency              Percentiles

	// The first failure of each kind, for the report; empty when none.
	FirstConnectError, FirstError string
}

// Percentiles summarises the round-trip latency of every echoed message.
type Percentiles struct {
	P50, P90, P99, P999, Max time.Duration
}

// ErrNoConnection is returned (wrapped) when not one connection could be made.
var ErrNoConnection = errors.New("load: no connection could be made")

const (
	defaultConnectTimeout  = 5 * time.Second
	defaultDialConcurrency = 256
	defaultPerSource       = 20000
)

// check reports the first problem that makes cfg unusable.
func (cfg *Config) check() error {
	switch {
	case cfg.Addr == "":
		return errors.New("load: no address")
	case cfg.Conns < 1:
		return fmt.Errorf("load: connections %d: need at least 1", cfg.Conns)
	case cfg.Size < 1:
		return fmt.Errorf("load: message size %d: need at least 1 byte", cfg.Size)
	case cfg.Duration < 0:
		return fmt.Errorf("load: duration %v is negative", cfg.Duration)
	case cfg.Messages < 0:
		return fmt.Errorf("load: messages %d is negative", cfg.Messages)
	case cfg.Duration == 0 && cfg.Messages == 0:
		return errors.New("load: need a duration or a message count")
	case cfg.Rate < 0:
		return fmt.Errorf("load: rate %v is negative", cfg.Rate)
	case cfg.Lines && cfg.Size < 2:
		return errors.New("load: line messages need at least 2 bytes")
	}
	return nil
}

// Run opens cfg.Conns connections to cfg.Addr, drives them as cfg says and
// returns what it measured. Failed dials and I/O errors are counted in the
// Result, not returned; Run returns an error only for an unusable Config or
// when no connection at all could be made. Cancelling ctx ends the run early
// and still returns the figures so far.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = defaultDialConcurrency
	}
	if cfg.PerSource <= 0 {
		cfg.PerSource = defaultPerSource
	}
	r := newRunner(cfg)
	return r.run(ctx)
}
