package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// Pipelined receipts. With an Uplink, a connection hands each data line to
// it and reads on without waiting for the line to be safe: up to
// maxInFlight lines of one connection are with the Uplink at once, each in
// a slot that keeps its echo until the receipt is written. Receipts, and
// the answers to refused lines and to control lines, are written in the
// order of the lines, whatever order the Uplink finishes them in. A line
// beyond maxInFlight waits for a slot: the connection stops reading, and
// TCP holds the board back. Memory per board is bounded by maxInFlight
// lines.
//
// Whoever finds the oldest slot finished, with nobody else writing, writes
// the receipts. Usually that is the Uplink's done call: it writes without
// waiting when the socket has room, so a receipt costs no wake-up of the
// connection's goroutine. When the write would wait (a full send buffer,
// TLS, a delivery holding the write lock) done, which must not block,
// leaves the writing to the connection's goroutine if that is inside Send
// and will look once Send returns (or to the timer that fires if Send
// takes long), else to a goroutine of the connection started for the
// purpose (flush).

// maxInFlight is how many lines of one connection may be with the Uplink,
// or answered but not yet written, at once.
const maxInFlight = 32

// keepSlotBytes is the largest line buffer a slot keeps for its next line;
// a larger one is let go once written, so that an idle board holds little.
const keepSlotBytes = 1 << 10

type slotState uint8

const (
	slotFree   slotState = iota
	slotTaken            // with the Uplink, done not called yet
	slotReady            // out may be written
	slotFailed           // done(err): the connection ends before out
)

type slot struct {
	out     []byte // the echo, LF included, or the answer line
	state   slotState
	receipt bool  // out is a receipt, counted as a message echoed
	err     error // slotFailed's reason
}

// pipeline is a connection's lines in flight. Its slots form a ring:
// head is the oldest line not yet written, tail the next to be taken.
type pipeline struct {
	c    *conn
	done [maxInFlight]func(error) // bound once per slot

	mu      sync.Mutex
	slots   [maxInFlight]slot
	head    uint32
	tail    uint32
	writing bool // someone holds the right to write receipts
	partial int  // bytes of the head slot written; the write lock is held meanwhile
	inSend  bool // the connection's goroutine is inside Uplink.Send
	ended   bool // the connection ended: nothing more is written
	failed  error
	// room is signalled whenever head moves or the pipeline fails.
	room     chan struct{}
	flushers sync.WaitGroup
}

func newPipeline(c *conn) *pipeline {
	p := &pipeline{c: c, room: make(chan struct{}, 1)}
	for i := range p.done {
		p.done[i] = func(err error) { p.finish(i, err) }
	}
	return p
}

// uplinkError wraps what the Uplink said when it failed a line.
func uplinkError(err error) error { return fmt.Errorf("uplink: %w", err) }

// send hands msg (LF included) to up as board's next line. It returns once
// the line is taken, with an error only if the connection must end.
func (p *pipeline) send(up Uplink, name string, msg []byte) error {
	i, err := p.reserve()
	if err != nil {
		return err
	}
	s := &p.slots[i]
	// The slot is past tail, so nobody else looks at it.
	s.out = append(s.out[:0], msg...)
	s.receipt, s.err = true, nil
	line := s.out
	if line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	c := p.c
	bs := c.boardSend
	if bs != nil {
		bs.lock(c)
	}
	// A line not taken when the connection ended is never taken: its
	// board's newer lines may already be on a newer connection. Checked
	// under the board's lock, which the newer connection takes too.
	if c.ctx.Err() != nil {
		if bs != nil {
			bs.mu.Unlock()
		}
		return context.Cause(c.ctx)
	}
	p.mu.Lock()
	s.state = slotTaken
	p.tail++
	p.inSend = true
	p.mu.Unlock()

	c.block.begin(c)
	err = up.Send(c.ctx, name, line, p.done[i])
	c.block.end(c)
	if bs != nil {
		bs.mu.Unlock()
	}

	var be *board.Error
	p.mu.Lock()
	p.inSend = false
	switch {
	case err == nil:
	case errors.As(err, &be):
		s.out = append(s.out[:0], be.Line()...)
		s.receipt, s.state = false, slotReady
	default:
		// Not taken, and no done will come: the lines before it are
		// receipted as they finish, then the connection ends.
		s.state, s.err = slotFailed, err
	}
	p.flushLocked()
	if err != nil && be == nil {
		return p.settle()
	}
	return nil
}

// answer writes line (LF included) in its place among the receipts: the
// answer to a control line.
func (p *pipeline) answer(line []byte) error {
	i, err := p.reserve()
	if err != nil {
		return err
	}
	s := &p.slots[i]
	s.out = append(s.out[:0], line...)
	s.receipt, s.err = false, nil
	p.mu.Lock()
	s.state = slotReady
	p.tail++
	p.flushLocked()
	return nil
}

// reserve waits for a free slot and returns its index; p.mu is not held.
func (p *pipeline) reserve() (int, error) {
	p.mu.Lock()
	for {
		if p.failed != nil {
			err := p.failed
			p.mu.Unlock()
			return 0, err
		}
		if p.tail-p.head < maxInFlight {
			i := int(p.tail % maxInFlight)
			p.mu.Unlock()
			return i, nil
		}
		p.mu.Unlock()
		if err := p.c.wait(p.room); err != nil {
			return 0, err
		}
		p.mu.Lock()
	}
}

// settle waits until every line in flight is written, or the pipeline
// fails, or the connection's context ends.
func (p *pipeline) settle() error {
	p.mu.Lock()
	for {
		if p.failed != nil {
			err := p.failed
			p.mu.Unlock()
			return err
		}
		if p.head == p.tail {
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if err := p.c.wait(p.room); err != nil {
			return err
		}
		p.mu.Lock()
	}
}

// flushLocked is called by the connection's goroutine with p.mu held,
// which it releases: it writes what is ready unless someone else is.
func (p *pipeline) flushLocked() {
	if p.writing || p.ended || !p.headDone() {
		p.mu.Unlock()
		return
	}
	p.writing = true
	p.mu.Unlock()
	p.flush(true)
}

// headDone is whether the head slot can be written (or failed); p.mu held.
func (p *pipeline) headDone() bool {
	if p.head == p.tail {
		return false
	}
	st := p.slots[p.head%maxInFlight].state
	return st == slotReady || st == slotFailed
}

// finish is done for slot i.
func (p *pipeline) finish(i int, err error) {
	p.mu.Lock()
	s := &p.slots[i]
	if p.ended || s.state != slotTaken {
		p.mu.Unlock() // a done after the connection ended, or a second one
		return
	}
	if err != nil {
		s.state, s.err = slotFailed, err
	} else {
		s.state = slotReady
	}
	if p.writing || uint32(i) != p.head%maxInFlight {
		p.mu.Unlock() // written in turn by whoever writes the head
		return
	}
	p.writing = true
	p.mu.Unlock()
	p.flush(false)
}

// kick starts a flusher for what is ready if nobody is writing, from a
// goroutine that must not wait (the blocked-Send timer): the connection's
// goroutine is stuck in Send, and receipts that done left to it must not
// wait for Send to return.
func (p *pipeline) kick() {
	p.mu.Lock()
	if p.writing || p.ended || !p.headDone() {
		p.mu.Unlock()
		return
	}
	p.writing = true
	p.flushers.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.flushers.Done()
		p.flush(true)
	}()
}

// flush writes finished slots from the head, in order, for as long as
// there are some; the caller holds the right to write (p.writing). With
// canWait false it never waits: what cannot be written at once is left to
// the connection's goroutine, if it is inside Send, or to a flusher.
func (p *pipeline) flush(canWait bool) {
	c := p.c
	locked := false // c.wmu
	for {
		p.mu.Lock()
		if p.ended {
			p.writing = false
			p.mu.Unlock()
			if locked {
				c.wmu.Unlock()
			}
			return
		}
		if !p.headDone() {
			p.writing = false
			p.mu.Unlock()
			if locked {
				c.wmu.Unlock()
			}
			return
		}
		s := &p.slots[p.head%maxInFlight]
		if s.state == slotFailed {
			err := uplinkError(s.err)
			p.failLocked(err)
			p.writing = false
			p.mu.Unlock()
			if locked {
				c.wmu.Unlock()
			}
			c.drop(err)
			return
		}
		out := s.out[p.partial:]
		p.mu.Unlock()

		var err error
		switch {
		case canWait:
			if !locked {
				c.wmu.Lock()
				locked = true
			}
			err = c.write(out, time.Now())
		case c.tls == nil && c.rawOut && (locked || c.wmu.TryLock()):
			locked = true
			// The deadline is armed as for any write: one left short
			// by a blocked write would fail this one before it starts.
			now := time.Now()
			c.writeDeadline.arm(now)
			var n int
			n, err = c.out.write(out, false)
			c.bytesOut.Add(uint64(n))
			if err == errFull || errors.Is(err, os.ErrDeadlineExceeded) {
				// The rest waits for room, or for the write timeout
				// to be judged, on a goroutine that may wait.
				p.mu.Lock()
				p.partial += n
				p.mu.Unlock()
				p.handOff(true) // keeps c.wmu: the line must go out whole
				return
			}
			if err == nil {
				c.progress = now
			}
		default:
			if locked {
				c.wmu.Unlock()
			}
			p.handOff(false)
			return
		}
		if err != nil {
			p.writeFailed(err)
			return
		}
		p.mu.Lock()
		receipt := s.receipt
		p.partial = 0
		s.state = slotFree
		if cap(s.out) > keepSlotBytes {
			s.out = nil
		}
		p.head++
		p.mu.Unlock()
		signal(p.room)
		if receipt {
			c.messages.Add(1)
			if h := c.srv.Hooks.Message; h != nil {
				h(c.remote, len(out))
			}
		}
	}
}

// handOff passes the right to write, and with holdsLock the write lock,
// to whoever can wait: the connection's goroutine if it is inside Send
// (and the blocked-Send timer has not fired yet), else a new flusher
// goroutine.
func (p *pipeline) handOff(holdsLock bool) {
	p.mu.Lock()
	if p.ended {
		p.writing = false
		p.mu.Unlock()
		if holdsLock {
			p.c.wmu.Unlock()
		}
		return
	}
	if p.inSend && !holdsLock && p.c.block.pending() {
		// The goroutine looks once Send returns, or the blocked-Send
		// timer does if Send takes long.
		p.writing = false
		p.mu.Unlock()
		return
	}
	p.flushers.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.flushers.Done()
		if holdsLock {
			// The write lock passes to this goroutine with the line half
			// written; flush finds it taken.
			p.flushHolding()
			return
		}
		p.flush(true)
	}()
}

// flushHolding finishes the head line with the write lock already held,
// then carries on as flush.
func (p *pipeline) flushHolding() {
	c := p.c
	p.mu.Lock()
	s := &p.slots[p.head%maxInFlight]
	out := s.out[p.partial:]
	p.mu.Unlock()
	c.writeDeadline.arm(time.Now())
	n, err := c.sendSlowly(out, errFull)
	c.bytesOut.Add(uint64(n))
	if err != nil {
		p.writeFailed(err)
		return
	}
	p.mu.Lock()
	receipt, size := s.receipt, p.partial+len(out)
	p.partial = 0
	s.state = slotFree
	p.head++
	p.mu.Unlock()
	signal(p.room)
	if receipt {
		c.messages.Add(1)
		if h := c.srv.Hooks.Message; h != nil {
			h(c.remote, size)
		}
	}
	c.wmu.Unlock()
	p.flush(true)
}

// writeFailed ends a writer whose write of a receipt failed: the lines in
// flight fail, the write lock (held by the caller) is let go, and the
// connection is dropped for err.
func (p *pipeline) writeFailed(err error) {
	p.mu.Lock()
	p.failLocked(err)
	p.writing = false
	p.mu.Unlock()
	p.c.wmu.Unlock()
	p.c.drop(err)
}

// failLocked records that the connection ends; p.mu held.
func (p *pipeline) failLocked(err error) {
	if p.failed == nil {
		p.failed = err
	}
	signal(p.room)
}

// end is called once the connection is closed: nothing more is written,
// and flushers, whose writes now fail at once, are waited for.
func (p *pipeline) end() {
	p.mu.Lock()
	p.ended = true
	p.mu.Unlock()
	p.flushers.Wait()
}

// signal wakes a waiter on ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
