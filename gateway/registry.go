package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Errors from Server.Deliver.
var (
	ErrNoSuchBoard = errors.New("gateway: no such board connected")
	ErrBadPayload  = errors.New("gateway: a message must be one line")
)

// deliverTimeout bounds a delivery's write when Policy.WriteTimeout is
// zero, so that a board that stops reading cannot hold Deliver forever.
const deliverTimeout = 10 * time.Second

// kickTimeout bounds writing `!err replaced` to a session being replaced.
const kickTimeout = time.Second

// BoardInfo describes one connected board.
type BoardInfo struct {
	ID     string
	Remote netip.AddrPort
	TLS    bool
	FW     string
	Since  time.Time // when its hello was accepted
	// MessagesIn counts the lines received, the hello included;
	// MessagesOut the receipts and deliveries written.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
	LastSeen                time.Time // the last line received
}

// boardSend orders one board's Uplink sends across its connections. A
// connection holds it while in Send, so the first Send of a session that
// replaced another waits until the replaced session's Send has returned;
// that one gives up, its context having ended at the replacement. Even a
// line that an Uplink takes as its context ends is then taken before the
// board's newer lines, never after.
type boardSend struct {
	mu   sync.Mutex
	refs int // sessions holding it; guarded by Server.bmu
}

// lock takes b for c's Send, watching for c's client going meanwhile.
func (b *boardSend) lock(c *conn) {
	if b.mu.TryLock() {
		return
	}
	c.block.begin(c)
	b.mu.Lock()
	c.block.end(c)
}

// releaseSend drops c's hold on its board's boardSend.
func (s *Server) releaseSend(c *conn) {
	if c.boardSend == nil {
		return
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if c.boardSend.refs--; c.boardSend.refs == 0 {
		delete(s.sends, c.sess.id)
	}
}

// register makes c, which has just said hello, the session for its ID, and
// returns the session it replaces, if any. Exactly one session per ID is
// ever registered, so a listing never shows two.
func (s *Server) register(c *conn) (old *conn) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if s.boards == nil {
		s.boards = make(map[string]*conn)
		s.sends = make(map[string]*boardSend)
	}
	id := c.sess.id
	if c.ctx != nil {
		bs := s.sends[id]
		if bs == nil {
			bs = &boardSend{}
			s.sends[id] = bs
		}
		bs.refs++
		c.boardSend = bs
	}
	old = s.boards[id]
	s.boards[id] = c
	if old == nil {
		s.boardEvent(BoardEvent{ID: id, Remote: c.remote, Up: true})
	}
	return old
}

// unregister removes c if it is still its ID's session: a replaced one no
// longer is, and its going is no board going away.
func (s *Server) unregister(c *conn, reason error) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	id := c.sess.id
	if s.boards[id] != c {
		return
	}
	delete(s.boards, id)
	s.boardEvent(BoardEvent{ID: id, Remote: c.remote, Reason: reason})
}

// kick ends a session replaced by a newer one, telling it why, on a
// goroutine of its own: the old board may have stopped reading, and the
// new one must not wait for it.
func (s *Server) kick(old *conn, reason error, line []byte) {
	// At once, before the new session's first line: a line of the old
	// one still waiting to be taken must never be taken after it.
	old.endContext(reason)
	s.routines.Add(1)
	go func() {
		defer s.routines.Done()
		old.dropped.CompareAndSwap(nil, &dropped{reason})
		old.wmu.Lock()
		old.nc.SetWriteDeadline(time.Now().Add(kickTimeout))
		old.write(line, time.Now())
		old.wmu.Unlock()
		old.nc.Close()
	}()
}

// Boards lists the connected boards, sorted by ID.
func (s *Server) Boards() []BoardInfo {
	s.bmu.Lock()
	cs := make([]*conn, 0, len(s.boards))
	for _, c := range s.boards {
		cs = append(cs, c)
	}
	s.bmu.Unlock()
	out := make([]BoardInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, BoardInfo{
			ID:          c.sess.id,
			Remote:      c.remote,
			TLS:         c.tls != nil,
			FW:          c.sess.fw,
			Since:       c.sess.since,
			MessagesIn:  c.messagesIn.Load(),
			MessagesOut: c.messages.Load() + c.sess.delivered.Load(),
			BytesIn:     c.bytesIn.Load(),
			BytesOut:    c.bytesOut.Load(),
			LastSeen:    time.Unix(0, c.sess.lastSeen.Load()),
		})
	}
	slices.SortFunc(out, func(a, b BoardInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Deliver writes payload to the board id as one `!msg PAYLOAD` line,
// between two of its receipts, never inside one. It returns ErrNoSuchBoard
// at once if no such board is connected, and ErrBadPayload for a payload
// that is not one line or is longer than the board's max_message_bytes
// allows. A board that does not read its delivery within the write
// timeout is dropped, as one that does not read its receipts is.
func (s *Server) Deliver(id string, payload []byte) error {
	if !board.ValidPayload(payload) {
		return fmt.Errorf("gateway: deliver to %q: %w", id, ErrBadPayload)
	}
	s.bmu.Lock()
	c := s.boards[id]
	s.bmu.Unlock()
	if c == nil {
		return fmt.Errorf("gateway: deliver to %q: %w", id, ErrNoSuchBoard)
	}
	line := board.MsgLine(payload)
	if len(line) > c.policy.maxMessageBytes() {
		return fmt.Errorf("gateway: deliver to %q: %w: %d bytes with !msg and LF, over max_message_bytes", id, ErrBadPayload, len(line))
	}
	sess := c.sess
	c.wmu.Lock()
	now := time.Now()
	bounded := c.policy.WriteTimeout <= 0
	if bounded {
		c.nc.SetWriteDeadline(now.Add(deliverTimeout))
	}
	err := c.write(line, now)
	if bounded && err == nil {
		c.nc.SetWriteDeadline(time.Time{})
	}
	if err == nil {
		sess.delivered.Add(1)
	}
	c.wmu.Unlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, net.ErrClosed):
		return fmt.Errorf("gateway: deliver to %q: %w", id, ErrNoSuchBoard)
	}
	c.drop(err)
	return fmt.Errorf("gateway: deliver to %q: %w", id, err)
}
