package bridge

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// connectTimeout bounds one attempt to reach a broker: the dial, the
// TLS handshake and the CONNACK.
const connectTimeout = 10 * time.Second

// stableAfter is how long a connection must last for the reconnect
// backoff to start again from the shortest delay. A connection that
// ends sooner (a broker closing it at once, another gateway taking the
// session over) backs off further each time, as when the broker is down.
const stableAfter = time.Minute

// probeWindow is how soon after the drain sends a suspect line alone
// the broker must close the connection for that to count as refusing it.
const probeWindow = 2 * time.Second

// takeoverEvery spaces the takeover warnings.
const takeoverEvery = time.Minute

// link is one MQTT connection: one paho client, never reconnected by
// paho. Its lost channel is closed when the connection ends, whatever
// ended it.
type link struct {
	client mqtt.Client
	br     broker
	lost   chan struct{}
	once   sync.Once
	err    error // why it was lost; read after lost is closed
	up     time.Time
}

func (l *link) markLost(err error) {
	l.once.Do(func() {
		l.err = err
		close(l.lost)
	})
}

// runner is the goroutine keeping a connection up for one configuration.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop ends the runner and waits for it, or for ctx.
func (r *runner) stop(ctx context.Context) {
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

// start starts a runner on b.cfg; the caller holds b.mu or is Open.
func (b *Bridge) start() {
	ctx, cancel := context.WithCancel(b.ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	b.run = r
	cfg, brs := b.cfg, b.brokers
	go func() {
		defer close(r.done)
		b.keepConnected(ctx, cfg, brs)
	}()
}

// keepConnected connects to the first broker of brs that answers, and
// when the connection is lost, to the next, until ctx ends. paho's own
// reconnect is off: with it, paho resends what was in flight on the new
// connection from its memory store, ahead of nothing and behind nothing
// we control, and it retries without jitter. Here each connection is a
// new paho client with a clean session; what was in flight on the old
// one fails (paho completes its tokens with an error) and goes to the
// spool in order, from where the drain sends it again: at least once, in
// order per board.
func (b *Bridge) keepConnected(ctx context.Context, cfg Config, brs []broker) {
	pause := backoff(cfg.MinBackoff, cfg.MaxBackoff)
	idx, fails, tried := 0, 0, 0
	var suspect *broker // the last connection was closed by this broker, nothing of ours in flight
	for ctx.Err() == nil {
		br := brs[idx]
		lk, err := b.dial(ctx, cfg, br)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.unreachable(ctx, br, err)
			suspect = nil
			idx = (idx + 1) % len(brs)
			if tried++; tried >= len(brs) {
				tried = 0
				fails++
				sleep(ctx, pause(fails))
			}
			continue
		}
		if suspect != nil && suspect.addr == br.addr {
			b.tookOver(cfg)
		}
		suspect = nil
		b.connected(ctx, lk)
		select {
		case <-lk.lost:
		case <-ctx.Done():
			lk.markLost(context.Canceled)
		}
		quiet := b.onWire.Load() == 0
		probed := b.probedAt.Load()
		b.disconnected(lk)
		lk.client.Disconnect(0)
		if ctx.Err() != nil {
			return
		}
		if quiet && closedByPeer(lk.err) {
			suspect = &lk.br
		}
		// A connection that lasted, or that the broker closed right after
		// the drain sent it one suspect line alone (a refusal, counted
		// towards the dead letters), starts the backoff again from the
		// shortest delay: the five tries of a refused line take seconds,
		// not minutes.
		refused := probed != 0 && time.Since(time.Unix(0, probed)) < probeWindow && closedByPeer(lk.err)
		if time.Since(lk.up) >= stableAfter || refused {
			fails = 0
		}
		fails++
		tried = 0
		idx = (idx + 1) % len(brs)
		sleep(ctx, pause(fails))
	}
}

// closedByPeer says whether err is the broker ending the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// dial makes one attempt to connect to br.
func (b *Bridge) dial(ctx context.Context, cfg Config, br broker) (*link, error) {
	lk := &link{br: br, lost: make(chan struct{})}
	p := cfg.TopicPrefix + "/" + cfg.GatewayID + "/"
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://"+br.addr).
		SetClientID(clientID(cfg)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(connectTimeout).
		SetKeepAlive(time.Duration(cfg.KeepAlive)*time.Second).
		SetPingTimeout(10*time.Second).
		SetWriteTimeout(cfg.AckTimeout).
		// Downlinks are only queued by the handler, so the router may
		// call it in order, on its own goroutine.
		SetOrderMatters(true).
		SetWill(p+"status", "offline", 1, true).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lk.markLost(err) }).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, connectTimeout)
			defer cancel()
			return dialBroker(ctx, br)
		})
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	lk.client, lk.up = c, time.Now()
	return lk, nil
}

// clientID is the MQTT client ID for cfg.
func clientID(cfg Config) string { return "gatewayd-" + cfg.GatewayID }

// connected makes lk the connection lines go to.
func (b *Bridge) connected(ctx context.Context, lk *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	b.link, b.broker = lk, lk.br
	b.lastErr = nil
	b.presence.reconnected()
	b.extraUp(lk)
	b.log.Info("bridge: connected to broker", "broker", lk.br.addr)
	b.broadcast()
}

// disconnected forgets lk.
func (b *Bridge) disconnected(lk *link) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.link != lk {
		return
	}
	b.link = nil
	if !b.closed && !errors.Is(lk.err, context.Canceled) { // not Close or Reconfigure
		b.log.Warn("bridge: lost the broker", "broker", lk.br.addr, "err", lk.err)
	}
	b.broadcast()
}

// unreachable records a failed attempt: one log line per outage, not one
// per attempt.
func (b *Bridge) unreachable(ctx context.Context, br broker, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if b.lastErr == nil {
		b.log.Warn("bridge: broker unreachable", "broker", br.addr, "err", err)
	}
	b.lastErr = err
	b.broker = br
	b.broadcast()
}

// tookOver warns, at most once a takeoverEvery, that the broker closed a
// quiet connection and took the next one at once: in MQTT 3.1.1 the
// broker closes the older of two connections with one client ID without
// a word, so this is the sign of two gateways sharing an ID.
func (b *Bridge) tookOver(cfg Config) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.takenOver.IsZero() && time.Since(b.takenOver) < takeoverEvery {
		return
	}
	b.takenOver = time.Now()
	b.log.Warn("bridge: another client took over the MQTT session; give each gateway its own mqtt.gateway_id",
		"client_id", clientID(cfg), "broker", b.broker.addr)
}

// waitToken waits for tok, giving up when ctx ends, the connection is
// lost or timeout passes.
func waitToken(ctx context.Context, tok mqtt.Token, lk *link, timeout time.Duration) error {
	select {
	case <-tok.Done():
		return tok.Error()
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-lk.lost:
		select {
		case <-tok.Done(): // acknowledged just before the loss
			return tok.Error()
		default:
			return errLost
		}
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errAckTimeout
	}
}

var (
	errLost       = errors.New("bridge: connection lost")
	errAckTimeout = errors.New("bridge: no PUBACK in time")
)
