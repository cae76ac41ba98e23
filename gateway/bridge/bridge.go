package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/gateway/spool"
)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("bridge: closed")

// DeliverFunc hands a downlink to board; an error (the board is not
// connected) drops the message, counted.
type DeliverFunc func(board string, payload []byte) error

// Bridge connects gatewayd to one MQTT broker at a time, from a list. Its
// methods are safe for concurrent use.
type Bridge struct {
	deliver DeliverFunc
	log     *slog.Logger
	q       *spool.Queue
	dead    *deadLetters

	ctx    context.Context // ends at Close; owns every goroutine below
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	cfg       Config
	brokers   []broker
	broker    broker // the one connected to, or last tried
	run       *runner
	link      *link // the connection up; nil while none is
	spooling  bool  // the spool holds lines: new ones go behind them
	toSpool   int   // lines taken by Send and not yet written to the spool
	closed    bool
	lastErr   error
	changed   chan struct{} // closed and replaced at every state change
	presence  presence
	downq     downlinks
	lanesMu   sync.Mutex
	lanes     map[string]*lane
	careful   bool // the drain sends one line at a time (after a failed pass)
	refusals  int  // connections lost in a row with the spool's head alone in flight
	onWire    atomic.Int64
	probedAt  atomic.Int64 // UnixNano when the drain last sent a suspect line alone; 0 once acknowledged
	takenOver time.Time    // when the takeover warning was last logged
	extra     extras       // Publish and Subscribe for non-line messages (extra.go)

	stats counters
}

type counters struct {
	published, acked, spooled, redelivered, downDelivered, downDropped, deadLetters atomic.Uint64
}

// Open opens the spool in cfg.QueueDir and starts connecting to the
// broker. Lines spooled by an earlier run are delivered first.
func Open(cfg Config, deliver DeliverFunc, logger *slog.Logger) (*Bridge, error) {
	cfg, brs, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	q, err := spool.Open(cfg.QueueDir, spool.Options{MaxBytes: cfg.QueueMaxBytes, SyncInterval: cfg.SyncInterval, SyncOnCommit: cfg.SyncOnCommit, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	dead, err := openDeadLetters(cfg.QueueDir)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b := &Bridge{deliver: deliver, log: logger, q: q, dead: dead, cfg: cfg, brokers: brs, broker: brs[0],
		changed: make(chan struct{}), lanes: map[string]*lane{}}
	b.stats.deadLetters.Store(uint64(dead.count()))
	b.presence.init()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if n, _ := q.Len(); n > 0 {
		b.spooling = true
		logger.Info("bridge: lines queued by an earlier run will be delivered first", "lines", n)
	}
	b.start()
	b.wg.Add(2)
	go b.drainLoop()
	go b.presenceLoop()
	return b, nil
}

// broadcast wakes everything waiting on a state change; b.mu is held.
func (b *Bridge) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// topic returns P/G/board/leaf; the caller holds b.mu.
func (b *Bridge) topic(board, leaf string) string {
	if board == "" {
		return b.cfg.TopicPrefix + "/" + b.cfg.GatewayID + "/" + leaf
	}
	return b.cfg.TopicPrefix + "/" + b.cfg.GatewayID + "/" + board + "/" + leaf
}

// Reconfigure switches to the brokers (and credentials, IDs) in cfg,
// keeping every queued line: they are delivered to the new broker. The
// queue directory and bound stay those given to Open.
func (b *Bridge) Reconfigure(ctx context.Context, cfg Config) error {
	cfg.QueueDir = b.cfg.QueueDir
	cfg, brs, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	old := b.run
	b.mu.Unlock()
	old.stop(ctx)
	b.mu.Lock()
	b.cfg, b.brokers, b.broker = cfg, brs, brs[0]
	b.lastErr = nil
	if !b.closed {
		b.start()
	}
	b.broadcast()
	b.mu.Unlock()
	b.log.Info("bridge: switching broker", "broker", brs[0].addr)
	return nil
}

// Close announces the gateway offline, disconnects and closes the spool;
// lines still queued are delivered after the next Open.
func (b *Bridge) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	lk, topic, timeout, run := b.link, b.topic("", "status"), b.cfg.AckTimeout, b.run
	b.broadcast()
	b.mu.Unlock()
	if lk != nil {
		// A clean DISCONNECT discards the will, so say offline first.
		tok := lk.client.Publish(topic, 1, true, "offline")
		waitToken(ctx, tok, lk, timeout)
	}
	run.stop(ctx)
	b.closeDownlinks()
	b.cancel()
	b.wg.Wait()
	return errors.Join(b.q.Close(), b.dead.close())
}
