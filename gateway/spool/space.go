package spool

import (
	"errors"
	"slices"
	"syscall"
)

// space is the line of Appends waiting for room, and the disk-full
// state. Waiters are served first come, first served: an ack wakes the
// waiters at the head of the line that now fit, one by one, and no other;
// each woken waiter holds its bytes (reserved) until it has written, so
// no newcomer takes the room it was woken for. A full disk (ENOSPC,
// EDQUOT) is a full queue: the writer goes back to the head of the line,
// and while the disk stays full one waiter at a time is woken to try
// again, on each ack and on each sync tick.
type space struct {
	waiters  []*waiter
	reserved int64  // bytes granted to woken waiters not yet written
	tickets  uint64 // hands each waiter its place in the line
	wakeups  uint64 // waiters woken since Open, for the tests

	noSpace       error // the last write's ENOSPC or EDQUOT; nil while writes succeed
	retry         bool  // a retry of the full disk is due
	probing       bool  // a waiter was woken to retry the full disk
	noSpaceErrors uint64
}

// A waiter is one Append waiting for room.
type waiter struct {
	need    int64
	ticket  uint64
	ready   chan struct{} // one token per grant
	granted bool          // woken, with need reserved for it
	probe   bool          // woken to retry the full disk
}

// admit says whether the Append holding w (nil before it waited) may
// write need bytes now; if so it takes the room reserved for it. The
// caller holds q.mu.
func (q *Queue) admit(w *waiter, need int64) bool {
	if w == nil {
		return len(q.waiters) == 0 && q.noSpace == nil && q.bytes+q.reserved+need <= q.opt.MaxBytes
	}
	if !w.granted {
		return false
	}
	w.granted = false
	q.reserved -= w.need
	if w.probe {
		// The write happens under q.mu: its outcome settles the retry.
		w.probe, q.probing = false, false
	}
	return true
}

// enqueue puts a new waiter at the end of the line.
func (q *Queue) enqueue(need int64) *waiter {
	q.tickets++
	w := &waiter{need: need, ticket: q.tickets, ready: make(chan struct{}, 1)}
	q.waiters = append(q.waiters, w)
	if len(q.waiters) == 1 {
		// Nobody was waiting, so nobody is retrying a full disk.
		q.retrySpace()
	}
	q.wakeWaiters()
	return w
}

// requeueFront puts w back in its place after a write that found the
// disk full: ahead of everyone who came after it.
func (q *Queue) requeueFront(w *waiter) {
	if w.ticket == 0 {
		q.tickets++
		w.ticket = q.tickets
	}
	i, _ := slices.BinarySearchFunc(q.waiters, w.ticket, func(x *waiter, t uint64) int {
		switch {
		case x.ticket < t:
			return -1
		case x.ticket > t:
			return 1
		}
		return 0
	})
	q.waiters = slices.Insert(q.waiters, i, w)
}

// leave takes w out of the line when its Append gives up, handing on
// any room it was granted.
func (q *Queue) leave(w *waiter) {
	if w == nil {
		return
	}
	if w.granted {
		w.granted = false
		q.reserved -= w.need
		if w.probe {
			w.probe, q.probing = false, false
			q.retry = true
		}
	} else if i := slices.Index(q.waiters, w); i >= 0 {
		q.waiters = slices.Delete(q.waiters, i, i+1)
	}
	q.wakeWaiters()
}

// wakeWaiters grants room to the waiters at the head of the line that
// fit, in order; while the disk is full, only to one, to retry it.
func (q *Queue) wakeWaiters() {
	for len(q.waiters) > 0 {
		w := q.waiters[0]
		if q.bytes+q.reserved+w.need > q.opt.MaxBytes {
			return
		}
		if q.noSpace != nil {
			if q.probing || !q.retry {
				return
			}
			q.retry, q.probing, w.probe = false, true, true
		}
		q.waiters = q.waiters[1:]
		q.grant(w)
	}
}

func (q *Queue) grant(w *waiter) {
	w.granted = true
	q.reserved += w.need
	q.wakeups++
	w.ready <- struct{}{}
}

// wakeAll wakes every waiter, to find the queue closed or read-only.
func (q *Queue) wakeAll() {
	for _, w := range q.waiters {
		q.grant(w)
	}
	q.waiters = nil
}

// spaceFreed is called after an ack: room for the head of the line, and
// a reason to retry a full disk.
func (q *Queue) spaceFreed() {
	q.retrySpace()
	q.wakeWaiters()
}

// retrySpace makes the next wakeWaiters retry a full disk.
func (q *Queue) retrySpace() {
	if q.noSpace != nil && !q.probing {
		q.retry = true
	}
}

// outOfSpace reports whether err is a full disk, and if so notes it:
// counted each time, logged once per spell.
func (q *Queue) outOfSpace(err error) bool {
	if !isNoSpace(err) {
		return false
	}
	q.noSpaceErrors++
	if q.noSpace == nil {
		q.log.Warn("spool: no space left on device; boards wait until space frees", "dir", q.dir, "err", err)
	}
	q.noSpace = err
	return true
}

// becameReadOnly reports whether err says the directory cannot be
// written (the card was remounted read-only while running); if so the
// queue turns read-only, and every waiter is woken to find it so.
func (q *Queue) becameReadOnly(err error) bool {
	if !isReadOnly(err) {
		return false
	}
	q.readOnly = err
	q.log.Warn("spool: the queue directory cannot be written any more; nothing new is queued", "dir", q.dir, "err", err)
	q.wakeAll()
	return true
}

// spaceAgain is called after a write succeeded: the disk has room.
func (q *Queue) spaceAgain() {
	q.probing = false
	if q.noSpace != nil {
		q.noSpace = nil
		q.log.Info("spool: space again on the queue's disk", "dir", q.dir)
	}
	q.wakeWaiters()
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
