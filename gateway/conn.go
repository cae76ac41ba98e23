package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Reasons a connection ends, as logged and passed to Hooks.Disconnect.
var (
	ErrIdleTimeout  = errors.New("idle timeout")
	ErrWriteTimeout = errors.New("write timeout: client stopped reading")
	ErrLineTooLong  = errors.New("line longer than max_message_bytes")
	ErrShutdown     = errors.New("server shutting down")
	ErrCutOff       = errors.New("server shutting down: cut off at the shutdown timeout")
	// ErrConnClosed ends a connection's context once the connection is
	// closed, when nothing else ended it first.
	ErrConnClosed = errors.New("connection closed")
)

// aLongTimeAgo is a deadline in the past, which wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// debugPayloadBytes is how much of a payload a debug log line shows.
const debugPayloadBytes = 64

// conn is one client's connection, served by one goroutine.
type conn struct {
	srv    *Server
	nc     net.Conn
	in     reader
	out    writer
	remote netip.AddrPort
	policy *Policy
	log    *slog.Logger

	readDeadline  lazyDeadline
	writeDeadline lazyDeadline
	lastRead      time.Time
	// progress is when the client was last seen taking data, as far as
	// the connection's goroutine knows without asking the writer.
	progress time.Time
	// line holds a partial line under FramingLine; nil when none is pending.
	line []byte

	// Written only by the connection's goroutine; read by Server.Stats.
	messagesIn, messages, bytesIn, bytesOut atomic.Uint64

	// Board sessions (session.go). slow sends every line through
	// boardLine: set once the client is named, while a hello is awaited,
	// or when an Uplink takes the lines.
	slow          bool
	helloPending  bool      // Policy.RequireHello, until the first line
	helloDeadline time.Time // zero: no hello timeout
	sess          *session  // set once the client's hello is accepted
	uplinkName    string    // the Uplink's name for an anonymous client
	// dropped is set by a goroutine that closes the connection under its
	// owner (a replacement, a delivery that timed out).
	dropped atomic.Pointer[dropped]

	// wmu makes each line written whole where more than one goroutine
	// writes: a named board's receipts and replies with deliveries
	// (Server.Deliver), and receipts written by the Uplink's done calls
	// (pipeline.go). Held across one write, which the write timeout
	// bounds.
	wmu sync.Mutex

	// With an Uplink (Server.Uplink, FramingLine): ctx is the
	// connection's context, which Send gets; it ends when the connection
	// does, whoever ends it. pipe holds the lines in flight, from the
	// first data line on; block watches for the client going while the
	// goroutine waits on the Uplink (blocked.go).
	ctx          context.Context
	cancel       context.CancelCauseFunc
	pipe         *pipeline
	block        blockWatch
	boardSend    *boardSend // a named board's, held across Send
	droppedBytes int        // an unfinished line's bytes, never passed to the Uplink

	raw         syscall.RawConn // the socket, if it is one
	rawOut      bool            // out writes without waiting when asked to
	untrackOnce sync.Once
	left        int // clients left once untracked

	// TLS (tls.go). tlsConfig is set for a client of a TLS listener; tls
	// once its handshake is done, and certID if it proved a board ID with
	// a client certificate.
	tlsConfig *tls.Config
	tls       *tls.Conn
	tio       *tlsIO
	certID    string
}

func newConn(s *Server, nc net.Conn, remote netip.AddrPort, p *Policy) *conn {
	c := &conn{srv: s, nc: nc, remote: remote, policy: p, log: s.logger(), tlsConfig: s.TLS}
	if c.tlsConfig == nil {
		c.in = newReader(nc) // over TLS, once the handshake is done
	}
	c.out = newWriter(nc)
	_, c.rawOut = c.out.(*rawWriter)
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	c.readDeadline = lazyDeadline{set: nc.SetReadDeadline, timeout: p.IdleTimeout}
	c.writeDeadline = lazyDeadline{set: nc.SetWriteDeadline, timeout: p.WriteTimeout}
	if p.requiresHello() {
		c.helloPending = true
		if p.HelloTimeout > 0 {
			c.helloDeadline = time.Now().Add(p.HelloTimeout)
		}
	}
	c.slow = c.helloPending || (s.Uplink != nil && p.Framing == FramingLine)
	if s.Uplink != nil && p.Framing == FramingLine {
		c.ctx, c.cancel = context.WithCancelCause(s.baseContext())
	}
	return c
}

// serve echoes until the client leaves, then untracks the connection and
// reports why it closed.
func (c *conn) serve() {
	defer c.srv.routines.Done()
	start := time.Now()

	var reason error
	if c.tlsConfig != nil {
		reason = c.handshake()
	}
	if reason == nil {
		reason = c.echo()
	}
	if d := c.dropped.Load(); d != nil {
		reason = d.err
	}
	c.nc.Close()
	if c.cancel != nil {
		c.cancel(ErrConnClosed)
		if len(c.line) > 0 {
			c.droppedBytes += len(c.line) // cut short: never a line
			c.line = nil
		}
	}
	if c.pipe != nil {
		c.pipe.end()
	}
	if c.sess != nil {
		c.srv.unregister(c, reason)
		c.srv.releaseSend(c)
	}
	left := c.untrack()

	attrs := []any{"remote", c.remote.String()}
	if c.sess != nil {
		attrs = []any{"board", c.sess.id, "remote", c.remote.String()}
	}
	attrs = append(attrs, "clients", left,
		"messages", c.messages.Load(), "bytes", c.bytesIn.Load(),
		"duration", time.Since(start).Round(time.Millisecond))
	if c.droppedBytes > 0 {
		attrs = append(attrs, "dropped_bytes", c.droppedBytes)
	}
	if reason != nil {
		attrs = append(attrs, "reason", reason.Error())
	}
	c.log.Info("client disconnected", attrs...)
	if h := c.srv.Hooks.Disconnect; h != nil {
		h(c.remote, left, reason)
	}
}

// untrack frees the connection's slot, once, and returns how many clients
// are left.
func (c *conn) untrack() int {
	c.untrackOnce.Do(func() { c.left = c.srv.forget(c) })
	return c.left
}

// echo reads and echoes until the client closes (nil), the server shuts
// down (ErrShutdown) or something goes wrong.
func (c *conn) echo() error {
	c.lastRead = time.Now()
	c.progress = c.lastRead
	for {
		// lastRead stands in for the time now: a little stale, which only
		// makes the lazy deadline fire early and be re-checked, and it
		// saves a clock read per message.
		if c.helloPending {
			c.armHello()
		} else {
			c.readDeadline.arm(c.lastRead)
		}
		// Checked after arming, so a Shutdown that woke us just before
		// the arm is not missed.
		if c.srv.shuttingDown.Load() {
			return c.drain()
		}
		data, err := c.in.read()
		if len(data) > 0 {
			now := time.Now()
			c.lastRead = now
			werr := c.handle(data, now)
			c.in.release()
			if werr != nil {
				return werr
			}
		}
		switch {
		case err == nil:
		case err == io.EOF:
			return c.finish()
		case errors.Is(err, os.ErrDeadlineExceeded):
			if c.srv.shuttingDown.Load() {
				return c.drain()
			}
			if c.helloPending {
				if err := c.helloExpired(time.Now()); err != nil {
					return err
				}
				continue
			}
			if c.readDeadline.expired(c.lastRead, time.Now()) {
				return ErrIdleTimeout
			}
		default:
			return err
		}
	}
}

// handle echoes data as the policy's framing says.
func (c *conn) handle(data []byte, now time.Time) error {
	c.bytesIn.Add(uint64(len(data)))
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.logPayload(data)
	}
	if c.policy.Framing == FramingRaw {
		c.messagesIn.Add(1)
		return c.send(data, now)
	}
	limit := c.policy.maxMessageBytes()
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// Held back until its LF; a line already at the limit can
			// only end at a half-close, since an LF would overrun it.
			if len(c.line)+len(data) > limit {
				c.messagesIn.Add(1) // received, though never whole
				return ErrLineTooLong
			}
			c.line = append(c.line, data...)
			return nil
		}
		msg := data[:i+1]
		data = data[i+1:]
		c.messagesIn.Add(1)
		if len(c.line)+len(msg) > limit {
			return ErrLineTooLong
		}
		if c.line != nil {
			msg = append(c.line, msg...)
			c.line = nil
		}
		if err := c.dispatch(msg, now); err != nil {
			return err
		}
	}
	return nil
}

// send writes one message back and counts it.
func (c *conn) send(msg []byte, now time.Time) error {
	if err := c.write(msg, now); err != nil {
		return err
	}
	c.messages.Add(1)
	if h := c.srv.Hooks.Message; h != nil {
		h(c.remote, len(msg))
	}
	return nil
}

// write writes msg whole, unless the client stops reading for the write
// timeout.
func (c *conn) write(msg []byte, now time.Time) error {
	if c.tls != nil {
		return c.writeTLS(msg)
	}
	n, err := c.writeSocket(msg, now)
	c.bytesOut.Add(uint64(n))
	return err
}

// writeSocket writes msg whole to the socket, unless the client stops
// reading for the write timeout, and returns how much of it went in. Over
// TLS it writes the records beneath tls.Conn (tls.go).
func (c *conn) writeSocket(msg []byte, now time.Time) (int, error) {
	c.writeDeadline.arm(now)
	n, err := c.out.write(msg, false)
	if err == nil {
		// All in at once: progress, stamped with the read's time so the
		// fast path reads no clock.
		c.progress = now
		return n, nil
	}
	m, err := c.sendSlowly(msg[n:], err)
	return n + m, err
}

// writeChecks is how many times per write timeout a blocked write looks
// for progress it could not otherwise see (a client draining slowly). A
// client that stops reading is dropped at most this fraction of the
// timeout late; usually on time, as its last progress was stamped exactly.
const writeChecks = 8

// sendSlowly finishes a message that met a full send buffer (err is
// errFull or a deadline). It drops the client once the write timeout has
// passed since the client was last seen taking data: not since the write
// began, nor since a deadline, as either can be long after the client
// stopped reading.
func (c *conn) sendSlowly(msg []byte, err error) (int, error) {
	timeout := c.writeDeadline.timeout
	total := 0
	for {
		deadline := errors.Is(err, os.ErrDeadlineExceeded)
		if !deadline && err != errFull {
			return total, err
		}
		if timeout <= 0 {
			if deadline {
				return total, ErrWriteTimeout // not ours, yet it ends the write
			}
		} else {
			if deadline {
				c.out.check()
			}
			progress := c.progress
			if took := c.out.tookAt(); took.After(progress) {
				progress = took
			}
			now := time.Now()
			end := progress.Add(timeout)
			if !now.Before(end) {
				return total, ErrWriteTimeout
			}
			if next := now.Add(timeout / writeChecks); next.Before(end) {
				end = next
			}
			c.writeDeadline.extend(end)
		}
		var n int
		n, err = c.out.write(msg, true)
		total += n
		msg = msg[n:]
		if err == nil {
			c.progress = time.Now()
			return total, nil
		}
	}
}

// finish answers a client's half-close: whatever is left of a line is a
// message too, since no more bytes will complete it (with an Uplink it
// is dropped instead); the receipts in flight are written; then the
// client sees EOF.
func (c *conn) finish() error {
	if err := c.flushLine(); err != nil {
		return err
	}
	if c.pipe != nil {
		if err := c.pipe.settle(); err != nil {
			return err
		}
	}
	c.closeWrite()
	return nil
}

// flushLine echoes what was received of an unfinished line, once nothing
// more will be read to finish it (a half-close, a shutdown). With an
// Uplink it is not a line: a board whose write was cut short must not
// publish half a line, so it is dropped and counted for the disconnect
// line, and the board, with no receipt, sends it again whole.
func (c *conn) flushLine() error {
	if len(c.line) == 0 {
		return nil
	}
	if c.cancel != nil {
		c.droppedBytes += len(c.line)
		c.line = nil
		return nil
	}
	line := c.line
	c.line = nil
	c.messagesIn.Add(1)
	return c.dispatch(line, time.Now())
}

// drain ends a connection for Shutdown: it echoes what the kernel has
// already received for it, sends EOF, and waits for the client to close
// its side (or for the shutdown deadline) so that a close never turns
// into a reset that could destroy echoes still in flight to the client.
func (c *conn) drain() error {
	now := time.Now()
	for range 64 {
		data, err := c.in.readQueued()
		if len(data) == 0 {
			break
		}
		werr := c.handle(data, now)
		c.in.release()
		if werr != nil || err != nil {
			break
		}
	}
	c.flushLine() // a write error here ends in the close below anyway
	if c.pipe != nil {
		c.pipe.settle() // the base context ends at the shutdown timeout
	}
	c.closeWrite()
	deadline := time.Now() // Close: no lingering
	if d := c.srv.drainDeadline.Load(); d != nil {
		deadline = *d
	}
	c.nc.SetReadDeadline(deadline)
	for {
		data, err := c.in.read()
		if len(data) > 0 {
			c.in.release()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if time.Now().Before(deadline) {
				// Shutdown's wake-up, which can come after we set ours.
				c.nc.SetReadDeadline(deadline)
				continue
			}
			c.srv.noteCutOff()
			return ErrCutOff
		}
		if err != nil {
			return ErrShutdown
		}
	}
}

func (c *conn) wake() {
	c.nc.SetReadDeadline(aLongTimeAgo)
}

func (c *conn) logPayload(data []byte) {
	shown := data[:min(len(data), debugPayloadBytes)]
	c.log.Debug("received", "remote", c.remote.String(), "bytes", len(data),
		"data", redactTokens(shown))
}

func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
