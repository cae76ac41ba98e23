package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/gatewayd/gatewayd/gateway/spool"
)

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("bridge: closed")

// DeliverFunc hands a downlink to board; an error (the board is not
// connected) drops the message, counted.
type DeliverFunc func(board string, payload []byte) error

// Bridge connects gatewayd to one MQTT broker at a time. Its methods are
// safe for concurrent use.
type Bridge struct {
	deliver DeliverFunc
	log     *slog.Logger
	q       *spool.Queue

	ctx    context.Context // ends at Close; owns every goroutine below
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	cfg       Config
	broker    broker
	cm        *autopaho.ConnectionManager
	cmCancel  context.CancelFunc
	connected bool
	connCtx   context.Context // ends when the current connection drops
	connStop  context.CancelFunc
	spooling  bool // the spool holds lines: new ones go behind them
	appending int  // Sends writing to the spool right now
	closed    bool
	lastErr   error
	changed   chan struct{} // closed and replaced at every state change
	presence  presence
	downq     downlinks
	extra     extras // Publish and Subscribe for non-line messages (extra.go)

	stats        counters
	warnedNoSubs atomic.Bool // the no-subscriber warning was given on this connection
}

type counters struct {
	published, acked, noSubscribers, spooled, redelivered, downDelivered, downDropped atomic.Uint64
}

// Open opens the spool in cfg.QueueDir and starts connecting to the
// broker. Lines spooled by an earlier run are delivered first.
func Open(cfg Config, deliver DeliverFunc, logger *slog.Logger) (*Bridge, error) {
	cfg, br, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	q, err := spool.Open(cfg.QueueDir, spool.Options{MaxBytes: cfg.QueueMaxBytes, SyncInterval: cfg.SyncInterval, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b := &Bridge{deliver: deliver, log: logger, q: q, cfg: cfg, broker: br, changed: make(chan struct{})}
	b.presence.init()
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.connCtx, b.connStop = context.WithCancel(b.ctx)
	b.connStop()
	if n, _ := q.Len(); n > 0 {
		b.spooling = true
		logger.Info("bridge: lines queued by an earlier run will be delivered first", "lines", n)
	}
	if err := b.connect(); err != nil {
		b.cancel()
		q.Close()
		return nil, err
	}
	b.wg.Add(2)
	go b.drainLoop()
	go b.presenceLoop()
	return b, nil
}

// connectTimeout bounds one attempt to reach the broker: the dial, the
// TLS handshake and the CONNACK.
const connectTimeout = 10 * time.Second

// connect starts autopaho on b.cfg; the caller holds b.mu or is Open.
func (b *Bridge) connect() error {
	cfg, br := b.cfg, b.broker
	p := cfg.TopicPrefix + "/" + cfg.GatewayID + "/"
	ctx, cancel := context.WithCancel(b.ctx)
	cc := autopaho.ClientConfig{
		ServerUrls: []*url.URL{br.url},
		// Our own dial, for a connection that batches paho's writes
		// and buffers its reads (batchconn.go).
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, _ *url.URL) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			return dialBroker(ctx, br)
		},
		KeepAlive:                     cfg.KeepAlive,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0,
		ReconnectBackoff:              backoff(cfg.MinBackoff, cfg.MaxBackoff),
		ConnectTimeout:                connectTimeout,
		ConnectUsername:               cfg.Username,
		ConnectPassword:               []byte(cfg.Password),
		WillMessage:                   &paho.WillMessage{Topic: p + "status", Payload: []byte("offline"), QoS: 1, Retain: true},
		OnConnectionUp:                func(*autopaho.ConnectionManager, *paho.Connack) { b.up(ctx) },
		OnConnectionDown:              func() bool { b.down(ctx, nil); return true },
		OnConnectError:                func(err error) { b.down(ctx, err) },
		ClientConfig: paho.ClientConfig{
			ClientID:          "gatewayd-" + cfg.GatewayID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){b.downlink, b.extraReceived},
			// Why a connection ended, beside "lost the broker".
			OnClientError: func(err error) { b.log.Debug("bridge: connection error", "broker", br.addr, "err", err) },
			OnServerDisconnect: func(d *paho.Disconnect) {
				b.log.Debug("bridge: the broker disconnected us", "broker", br.addr, "reason", d.ReasonCode)
			},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cc)
	if err != nil {
		cancel()
		return fmt.Errorf("bridge: broker %s: %w", br.addr, err)
	}
	b.cm, b.cmCancel = cm, cancel
	return nil
}

// up is autopaho's OnConnectionUp; ctx identifies the connection manager,
// so a callback from one replaced by Reconfigure changes nothing.
func (b *Bridge) up(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	b.connected = true
	b.lastErr = nil
	b.warnedNoSubs.Store(false)
	b.connCtx, b.connStop = context.WithCancel(ctx)
	b.presence.reconnected()
	b.extraUp()
	b.log.Info("bridge: connected to broker", "broker", b.broker.addr)
	b.broadcast()
}

// down is autopaho's OnConnectionDown (err nil) and OnConnectError.
func (b *Bridge) down(ctx context.Context, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if b.connected {
		b.log.Warn("bridge: lost the broker", "broker", b.broker.addr)
	} else if err != nil && b.lastErr == nil {
		// One line per outage, not one per attempt.
		b.log.Warn("bridge: broker unreachable", "broker", b.broker.addr, "err", err)
	}
	if err != nil {
		b.lastErr = err
	}
	b.connected = false
	b.connStop()
	b.broadcast()
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

// Send publishes line as board's next message on P/G/board/up and returns
// nil only once it is safe: acknowledged by the broker, or written to the
// spool because the broker is unreachable or behind. While the spool is
// full Send waits (backpressure); an error means the line was not taken,
// and the board must not get its receipt.
func (b *Bridge) Send(ctx context.Context, board string, line []byte) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.connected && !b.spooling {
		cm, connCtx, topic, timeout := b.cm, b.connCtx, b.topic(board, "up"), b.cfg.AckTimeout
		b.mu.Unlock()
		err := b.publish(ctx, connCtx, cm, topic, line, timeout)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.mu.Lock()
		if !b.spooling {
			b.spooling = true
			b.log.Info("bridge: broker unreachable or behind, queueing on disk", "broker", b.broker.addr, "err", err)
			b.broadcast()
		}
	} else if !b.spooling {
		b.spooling = true
		b.broadcast()
	}
	b.appending++
	b.mu.Unlock()
	err := b.q.Append(ctx, encodeLine(board, line))
	b.mu.Lock()
	b.appending--
	b.broadcast()
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("bridge: board %q: %w", board, err)
	}
	b.stats.spooled.Add(1)
	return nil
}

// publish sends one QoS 1 message and waits for its PUBACK, giving up when
// ctx or the connection ends or after timeout.
func (b *Bridge) publish(ctx, connCtx context.Context, cm *autopaho.ConnectionManager, topic string, payload []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(connCtx, cancel)
	defer stop()
	b.stats.published.Add(1)
	resp, err := cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if err != nil {
		return err
	}
	b.stats.acked.Add(1)
	if resp != nil && resp.ReasonCode == reasonNoSubscribers {
		b.noSubscribers(topic)
	}
	return nil
}

// reasonNoSubscribers is the PUBACK reason code 0x10, No matching
// subscribers (MQTT v5, 3.4.2.1): the broker took the line and delivered
// it to nobody. It is a success, so the line is receipted and not sent
// again; but data going nowhere is worth a figure and a word.
const reasonNoSubscribers = 0x10

// noSubscribers counts a line that reached no subscriber, and says so once
// a connection, naming the first such topic.
func (b *Bridge) noSubscribers(topic string) {
	b.stats.noSubscribers.Add(1)
	if b.warnedNoSubs.CompareAndSwap(false, true) {
		b.log.Warn("bridge: the broker delivered a line to no subscriber (PUBACK 0x10); lines are acknowledged and dropped until something subscribes", "topic", topic)
	}
}

// Reconfigure switches to the broker (and credentials, IDs) in cfg,
// keeping every queued line: they are delivered to the new broker. The
// queue directory and bound stay those given to Open.
func (b *Bridge) Reconfigure(ctx context.Context, cfg Config) error {
	cfg.QueueDir = b.cfg.QueueDir
	cfg, br, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	old, oldCancel := b.cm, b.cmCancel
	oldCfg, oldBroker := b.cfg, b.broker
	b.cfg, b.broker = cfg, br
	b.connected = false
	b.connStop()
	b.lastErr = nil
	if err := b.connect(); err != nil {
		b.cfg, b.broker = oldCfg, oldBroker
		b.mu.Unlock()
		return err
	}
	b.broadcast()
	b.mu.Unlock()
	b.log.Info("bridge: switching broker", "broker", br.addr)
	_ = old.Disconnect(ctx)
	oldCancel()
	<-old.Done()
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
	cm, connCtx, connected, topic, timeout := b.cm, b.connCtx, b.connected, b.topic("", "status"), b.cfg.AckTimeout
	b.broadcast()
	b.mu.Unlock()
	if connected {
		// A clean DISCONNECT discards the will, so say offline first.
		pctx, cancel := context.WithTimeout(ctx, timeout)
		stop := context.AfterFunc(connCtx, cancel)
		_, _ = cm.Publish(pctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte("offline")})
		stop()
		cancel()
	}
	_ = cm.Disconnect(ctx)
	b.closeDownlinks()
	b.cancel()
	<-cm.Done()
	b.wg.Wait()
	return b.q.Close()
}
