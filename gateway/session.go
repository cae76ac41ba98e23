package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Reasons a board's connection ends, beyond those in conn.go.
var (
	ErrHelloTimeout = errors.New("no hello within hello_timeout")
	ErrReplaced     = errors.New("replaced by a newer session with the same board ID")
)

// helloError is the reason a connection closed after its hello (or its
// missing hello) was refused.
type helloError struct{ e *board.Error }

func (h helloError) Error() string { return "hello refused: " + string(h.e.Code) }

// refuseLinger bounds how long a refused client is given to read its
// `!err` line before the connection is closed under it.
const refuseLinger = time.Second

// session is what a connection gains by saying hello. Only named boards
// have one, so anonymous clients pay nothing for what is here.
type session struct {
	id    string
	fw    string
	since time.Time

	lastSeen  atomic.Int64 // UnixNano of the last line received
	delivered atomic.Uint64
}

// dropped is why another goroutine closed a connection under its owner.
type dropped struct{ err error }

// dispatch handles one complete line under FramingLine. The common case,
// a data line from a client that never said hello with nothing else to
// do, is echoed at once; everything else takes boardLine.
func (c *conn) dispatch(msg []byte, now time.Time) error {
	if c.slow || msg[0] == '!' {
		return c.boardLine(msg, now)
	}
	return c.send(msg, now)
}

// boardLine handles a line of the `!` protocol, a line from a named board,
// or any line while a hello is awaited or an Uplink is set.
func (c *conn) boardLine(msg []byte, now time.Time) error {
	if c.sess != nil {
		c.sess.lastSeen.Store(now.UnixNano())
	}
	if board.IsControl(msg) {
		switch board.ParseControl(msg) {
		case board.KindHello:
			// messagesIn already counts this line.
			if c.sess != nil || c.messagesIn.Load() != 1 {
				return c.refuse(&board.Error{Code: board.CodeBadHello, Text: "a hello must be the first line"}, "")
			}
			return c.hello(msg, now)
		case board.KindPing:
			if c.sess != nil {
				return c.reply(board.Pong, now)
			}
		default:
			if c.sess != nil {
				return c.reply(board.ErrLine(board.CodeUnknownCommand, ""), now)
			}
		}
		// A client that never said hello: a `!` line is ordinary data.
	}
	if c.helloPending {
		return c.refuse(&board.Error{Code: board.CodeHelloRequired, Text: "the first line must be !hello ID"}, "")
	}
	return c.data(msg, now)
}

// data passes a data line to the Uplink, if any, whose receipt comes in
// turn (pipeline.go); without one it echoes the line at once: the receipt.
func (c *conn) data(msg []byte, now time.Time) error {
	if c.ctx != nil {
		up := c.srv.Uplink
		if c.uplinkName == "" {
			c.uplinkName = anonymousName(c)
		}
		name := c.uplinkName
		if c.sess != nil {
			name = c.sess.id
		}
		if c.pipe == nil {
			c.pipe = newPipeline(c)
		}
		return c.pipe.send(up, name, msg)
	}
	if c.sess == nil {
		return c.send(msg, now)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.send(msg, now)
}

// reply writes a control line to a named board, after the receipts of the
// lines before it.
func (c *conn) reply(line []byte, now time.Time) error {
	if c.pipe != nil {
		return c.pipe.answer(line)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(line, now)
}

// hello answers a first line that is a hello: the connection becomes the
// board, replacing any session with the same ID, or is refused.
func (c *conn) hello(line []byte, now time.Time) error {
	h, err := board.ParseHello(line)
	if err != nil {
		var e *board.Error
		errors.As(err, &e)
		return c.refuse(e, "")
	}
	if c.certID != "" && h.ID != c.certID {
		return c.refuse(&board.Error{Code: board.CodeIdentityMismatch, Text: "the client certificate is for " + c.certID}, h.ID)
	}
	p := c.policy
	if want, listed := p.Tokens[h.ID]; listed {
		if !h.HasToken || !sameToken(want, h.Token) {
			return c.refuse(&board.Error{Code: board.CodeBadToken}, h.ID)
		}
	} else if p.RequireToken {
		return c.refuse(&board.Error{Code: board.CodeUnknownBoard, Text: "not listed in tokens_file"}, h.ID)
	}

	if c.helloPending {
		c.helloPending = false
		c.readDeadline.armed = time.Time{} // back to the idle timeout
		if c.policy.IdleTimeout <= 0 {
			c.nc.SetReadDeadline(time.Time{})
		}
	}
	s := &session{id: h.ID, fw: h.FW, since: now}
	s.lastSeen.Store(now.UnixNano())
	c.sess, c.slow = s, true

	// `!ok` goes out before anyone can deliver to the board or replace
	// it, since both wait for wmu.
	c.wmu.Lock()
	old := c.srv.register(c)
	err = c.write(board.OKLine(h.ID), now)
	c.wmu.Unlock()
	c.log.Info("board hello", "board", h.ID, "remote", c.remote.String(), "fw", h.FW)
	if old != nil {
		c.srv.kick(old, ErrReplaced, board.ErrLine(board.CodeReplaced, ""))
	}
	return err
}

// sameToken compares tokens in constant time, lengths included: hashing
// first gives both sides one length.
func sameToken(want, got string) bool {
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(w[:], g[:]) == 1
}

// refuse answers a refused or missing hello with `!err CODE` and ends the
// connection. id is the board ID asked for, when it was well formed. The
// token is never logged.
func (c *conn) refuse(e *board.Error, id string) error {
	attrs := []any{"remote", c.remote.String(), "code", string(e.Code)}
	if id != "" {
		attrs = append(attrs, "board", id)
	}
	if e.Text != "" {
		attrs = append(attrs, "detail", e.Text)
	}
	c.log.Warn("board hello refused", attrs...)
	if c.pipe != nil {
		c.pipe.answer(e.Line())
		c.pipe.settle()
	} else {
		c.wmu.Lock()
		c.write(e.Line(), time.Now())
		c.wmu.Unlock()
	}
	c.linger()
	return helloError{e}
}

// linger half-closes and reads until the client closes too, for at most
// refuseLinger, so that closing with the client's bytes unread does not
// reset the connection and destroy the `!err` line on its way.
func (c *conn) linger() {
	c.closeWrite()
	deadline := time.Now().Add(refuseLinger)
	c.nc.SetReadDeadline(deadline)
	for time.Now().Before(deadline) {
		data, err := c.in.read()
		if len(data) > 0 {
			c.in.release()
		}
		if err != nil {
			return
		}
	}
}

// armHello keeps the read deadline at the hello timeout (or the idle
// timeout, if sooner) until the first line is in.
func (c *conn) armHello() {
	d := c.helloDeadline
	if t := c.policy.IdleTimeout; t > 0 {
		if idle := c.lastRead.Add(t); d.IsZero() || idle.Before(d) {
			d = idle
		}
	}
	if !d.IsZero() && !d.Equal(c.readDeadline.armed) {
		c.readDeadline.armed = d
		c.nc.SetReadDeadline(d)
	}
}

// helloExpired is whether a read deadline, while a hello is awaited, means
// the hello or idle timeout really passed.
func (c *conn) helloExpired(now time.Time) error {
	if !c.helloDeadline.IsZero() && !now.Before(c.helloDeadline) {
		return ErrHelloTimeout
	}
	if t := c.policy.IdleTimeout; t > 0 && !now.Before(c.lastRead.Add(t)) {
		return ErrIdleTimeout
	}
	return nil
}

// drop ends a connection from another goroutine, for reason.
func (c *conn) drop(reason error) {
	c.dropped.CompareAndSwap(nil, &dropped{reason})
	c.endContext(reason)
	c.nc.Close()
}

// endContext ends the connection's context, if it has one, so that a line
// waiting to be taken by the Uplink never is.
func (c *conn) endContext(reason error) {
	if c.cancel != nil {
		c.cancel(reason)
	}
}

// baseContext is the parent of every connection's context: it ends when
// the server is closed, or a shutdown cuts its clients off.
func (s *Server) baseContext() context.Context {
	s.ctxOnce.Do(s.initContext)
	return s.ctx
}

func (s *Server) initContext() {
	s.ctx, s.cancelCtx = context.WithCancel(context.Background())
}

func (s *Server) cancelContext() {
	s.ctxOnce.Do(s.initContext)
	s.cancelCtx()
}
