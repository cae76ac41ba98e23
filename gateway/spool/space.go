package spool

import (
	"errors"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// space is the line of Appends waiting for room, and the disk-full
// state. Waiters are served first come, first served: whoever makes room
// (an ack, or the sync loop's tick) writes the records of the waiters at
// the head of the line that now fit, in order, and wakes each of them
// once, when its record is written; nobody else is woken, so an ack costs
// the same with one waiter or a thousand. A newcomer never overtakes the
// line. A full disk (ENOSPC, EDQUOT) is a full queue: the record waits at
// the head of the line, and the disk is tried again on each ack and on
// each sync tick.
type space struct {
	waiters []*waiter
	wakeups uint64 // waiters woken since Open, for the tests

	noSpace       error // the last write's ENOSPC or EDQUOT; nil once a write succeeds
	retry         bool  // a retry of the full disk is due
	noSpaceErrors uint64
}

// A waiter is one Append waiting for room.
type waiter struct {
	payload []byte
	need    int64
	ready   chan struct{} // closed once done
	done    bool
	err     error
}

// serve writes the records of the waiters at the head of the line for as
// long as they fit; the caller holds q.mu.
func (q *Queue) serve() {
	for len(q.waiters) > 0 {
		w := q.waiters[0]
		switch {
		case q.closed:
			q.finish(ErrClosed)
			continue
		case q.readOnly != nil:
			q.finish(errReadOnly(q.readOnly))
			continue
		case q.bytes+w.need > q.opt.MaxBytes:
			return
		case q.noSpace != nil && !q.retry:
			return
		}
		q.retry = false
		err := q.write(w.payload, w.need)
		switch {
		case err == nil:
			q.spaceAgain()
		case q.becameReadOnly(err):
			continue
		case q.outOfSpace(err):
			return
		}
		q.finish(err)
	}
}

// finish ends the wait of the waiter at the head of the line.
func (q *Queue) finish(err error) {
	w := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	w.done, w.err = true, err
	q.wakeups++
	close(w.ready)
}

// leave takes w out of the line when its Append gives up, and serves
// those behind it: a large record at the head may have held them back.
func (q *Queue) leave(w *waiter) {
	if i := slices.Index(q.waiters, w); i >= 0 {
		q.waiters = slices.Delete(q.waiters, i, i+1)
	}
	q.serve()
}

// spaceFreed is called after an ack and at each sync tick: maybe room
// for the head of the line, and a reason to try a full disk again.
func (q *Queue) spaceFreed() {
	if q.noSpace != nil {
		q.retry = true
		if len(q.waiters) == 0 && hasRoom(q.dir) {
			// Nobody is waiting to try a write: ask the file
			// system, so that Health does not say "full" for good.
			q.spaceAgain()
		}
	}
	q.serve()
}

// hasRoom says whether dir's file system has room for a segment's worth
// of records.
func hasRoom(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Bavail*uint64(st.Bsize) >= minSegmentBytes
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

// spaceAgain is called after a write succeeded: the disk has room.
func (q *Queue) spaceAgain() {
	if q.noSpace != nil {
		q.noSpace = nil
		q.log.Info("spool: space again on the queue's disk", "dir", q.dir)
	}
}

// becameReadOnly reports whether err says the directory cannot be
// written (the card was remounted read-only while running); if so the
// queue turns read-only, for good.
func (q *Queue) becameReadOnly(err error) bool {
	if !isReadOnly(err) {
		return false
	}
	q.readOnly = err
	q.log.Warn("spool: the queue directory cannot be written any more; nothing new is queued", "dir", q.dir, "err", err)
	return true
}

func errReadOnly(err error) error {
	return &readOnlyError{err}
}

// readOnlyError is ErrReadOnly with the reason.
type readOnlyError struct{ err error }

func (e *readOnlyError) Error() string        { return ErrReadOnly.Error() + ": " + e.err.Error() }
func (e *readOnlyError) Is(target error) bool { return target == ErrReadOnly }
func (e *readOnlyError) Unwrap() error        { return e.err }

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func isReadOnly(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}
