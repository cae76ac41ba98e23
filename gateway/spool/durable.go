package spool

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// syncFile is (*os.File).Sync; the tests replace it to inject failures.
var syncFile = (*os.File).Sync

// durable tracks what is written but not known to be on the disk, and
// what the last fsync said. Every record appended since the last fsync
// that succeeded is kept in memory too (unsynced): after an fsync error
// the page cache cannot be trusted (see the package doc), so those
// records are written again, from memory, to a fresh segment.
type durable struct {
	dirty    bool       // q.w written since its last fsync
	sealed   []*os.File // full segments written since their last fsync
	unsynced []unsynced // records not known durable, oldest first
	appendN  uint64     // records appended since Open
	batch    *commitBatch

	fsyncErr    error // the last fsync's error; nil once a later one succeeds
	fsyncErrors uint64
	recovering  bool // the rewrite after an fsync error is still to do

	// gen numbers the layouts: a rewrite replaces the segments after
	// cutAt, and remap turns the positions of records handed out before
	// it into their new ones, so their acks still count.
	gen   uint64
	cutAt pos
	remap map[pos]pos
}

type unsynced struct {
	n   uint64 // its number in appendN
	at  pos
	rec []byte // the framed record, as written
}

// A commitBatch is the Appends waiting for one fsync (SyncOnCommit).
type commitBatch struct {
	done chan struct{}
	err  error
}

func (b *commitBatch) finish(err error) {
	if b == nil {
		return
	}
	if err != nil {
		b.err = fmt.Errorf("spool: fsync: %w", err)
	}
	close(b.done)
}

// written notes a record just written at at; the caller holds q.mu.
func (q *Queue) written(at pos, rec []byte) {
	q.appendN++
	q.unsynced = append(q.unsynced, unsynced{n: q.appendN, at: at, rec: rec})
	q.dirty = true
}

// seal hands a full segment to the sync loop, which fsyncs and closes it.
func (q *Queue) seal(f *os.File) {
	if q.dirty {
		q.sealed = append(q.sealed, f)
	} else {
		f.Close()
	}
	q.dirty = false
}

// forgetUnsynced drops what is waiting for an fsync once every record
// is acknowledged: delivered, it need not be durable.
func (q *Queue) forgetUnsynced() {
	q.unsynced = nil
	q.dirty = false
	for _, f := range q.sealed {
		f.Close()
	}
	q.sealed = nil
}

// joinBatch returns the batch the next fsync will complete, and asks the
// sync loop for it.
func (q *Queue) joinBatch() *commitBatch {
	if q.batch == nil {
		q.batch = &commitBatch{done: make(chan struct{})}
	}
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return q.batch
}

// failBatch ends a batch no fsync will complete.
func (q *Queue) failBatch(err error) {
	if q.batch != nil {
		q.batch.err = err
		close(q.batch.done)
		q.batch = nil
	}
}

// syncLoop fsyncs appended data and saves the cursor every SyncInterval,
// and at once when an Append asks (SyncOnCommit). An Append that arrives
// during an fsync waits for the next one, which serves every Append that
// arrived meanwhile: group commit. It ends on Close.
func (q *Queue) syncLoop() {
	defer close(q.done)
	t := time.NewTicker(q.opt.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		case <-q.kick:
		}
		_ = q.syncOnce()
	}
}

// syncOnce is one pass of the sync loop. The fsyncs run outside the lock:
// an SD card can take a while, and Append must not wait for them.
func (q *Queue) syncOnce() error {
	q.mu.Lock()
	q.writeCursor()
	q.spaceFreed()
	if q.recovering {
		q.recover()
	}
	files := q.sealed
	nSealed := len(files)
	q.sealed = nil
	// While the last fsync failed, the tail is fsynced even if clean,
	// to learn whether the disk works again.
	if q.w != nil && (q.dirty || q.fsyncErr != nil) {
		files = append(files, q.w)
	}
	q.dirty = false
	mark := q.appendN
	b := q.batch
	q.batch = nil
	recovering := q.recovering
	q.mu.Unlock()

	var err error
	var failed string
	for _, f := range files {
		// A tail closed meanwhile was closed because everything in
		// it was acknowledged: nothing of it needs to be durable.
		if e := syncFile(f); e != nil && !errors.Is(e, os.ErrClosed) && err == nil {
			err, failed = e, f.Name()
		}
	}
	for _, f := range files[:nSealed] {
		f.Close()
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case err != nil:
		q.fsyncErrors++
		q.fsyncErr = err
		q.log.Error("spool: fsync failed; the records not known to be on disk are written again to a fresh segment", "file", failed, "err", err)
		b.finish(err)
		q.recovering = true
		q.recover()
	case recovering:
		b.finish(q.fsyncErr)
	default:
		q.dropUnsynced(mark)
		if q.fsyncErr != nil {
			q.fsyncErr = nil
			q.log.Info("spool: fsync works again", "dir", q.dir)
		}
		b.finish(nil)
	}
	return err
}

// dropUnsynced forgets the records up to number mark, now on disk.
func (q *Queue) dropUnsynced(mark uint64) {
	i := 0
	for i < len(q.unsynced) && q.unsynced[i].n <= mark {
		i++
	}
	if i > 0 {
		q.unsynced = append([]unsynced(nil), q.unsynced[i:]...)
	}
}

// recover follows an fsync error. The kernel may have dropped the dirty
// pages that failed to write, and a later fsync of the same file can
// succeed without writing them, so neither the file nor a retry is
// trusted: the records not acknowledged among those not known durable
// are written from memory to a fresh segment, which is fsynced; the
// files they were in are cut where the last good fsync left them. If
// that fails too it is tried again at the next tick, and the records
// stay in memory meanwhile. The caller holds q.mu.
func (q *Queue) recover() {
	if len(q.unsynced) == 0 {
		q.recovering = false
		return
	}
	cut := q.unsynced[0].at
	var keep []unsynced
	var buf []byte
	for _, u := range q.unsynced {
		if !u.at.less(q.ack) {
			keep = append(keep, u)
			buf = append(buf, u.rec...)
		}
	}
	seq := q.nextSeq
	var f *os.File
	if len(keep) > 0 {
		var err error
		if f, err = q.rewrite(seq, buf); err != nil {
			q.fsyncErr = err
			q.log.Error("spool: cannot write the records not known durable to a fresh segment; trying again", "records", len(keep), "err", err)
			return
		}
		q.nextSeq++
	}
	if q.w != nil {
		q.w.Close()
		q.w = nil
	}
	if q.r != nil {
		q.r.Close()
		q.r = nil
	}
	for _, s := range q.sealed {
		s.Close()
	}
	q.sealed = nil
	var segs []segment
	for _, s := range q.segs {
		switch {
		case s.seq < cut.seq:
			segs = append(segs, s)
		case s.seq == cut.seq && cut.off > 0:
			// Best effort: a restart finding the bytes after cut
			// would only deliver them twice, or skip them as damage.
			if err := os.Truncate(q.segPath(s.seq), cut.off); err != nil {
				q.log.Error("spool: cannot cut a segment after an fsync error", "file", q.segPath(s.seq), "err", err)
			}
			s.size = cut.off
			for len(s.holes) > 0 && s.holes[len(s.holes)-1].end > cut.off {
				s.holes = s.holes[:len(s.holes)-1]
			}
			segs = append(segs, s)
		default:
			if err := os.Remove(q.segPath(s.seq)); err != nil {
				q.log.Error("spool: cannot delete a segment after an fsync error", "file", q.segPath(s.seq), "err", err)
			}
		}
	}
	remap := make(map[pos]pos, len(keep))
	var off int64
	for _, u := range keep {
		n := int64(len(u.rec))
		remap[pos{seq: u.at.seq, off: u.at.off + n}] = pos{seq: seq, off: off + n}
		off += n
	}
	if len(keep) > 0 {
		segs = append(segs, segment{seq: seq, size: off})
		q.w = f
	}
	if !q.ack.less(cut) {
		q.ack = pos{seq: seq}
	}
	q.segs = segs
	q.gen, q.cutAt, q.remap = q.gen+1, cut, remap
	q.unsynced, q.dirty, q.recovering = nil, false, false
	q.settleAck()
	q.read = q.ack
	if len(q.segs) == 0 {
		if q.w != nil {
			q.w.Close()
			q.w = nil
		}
		_ = os.Remove(q.cursorPath())
		q.ackSaved = q.ack
	}
	q.log.Warn("spool: records not known durable were written again to a fresh segment and fsynced", "records", len(keep), "file", q.segPath(seq))
	q.broadcast()
}

// rewrite writes buf to a new segment seq and fsyncs it.
func (q *Queue) rewrite(seq uint64, buf []byte) (*os.File, error) {
	path := q.segPath(seq)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	if _, err = f.Write(buf); err == nil {
		err = syncFile(f)
	}
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	syncDir(q.dir)
	return f, nil
}

// current returns where rec ends in the queue's present layout, or false
// if that is not known (a record handed out two rewrites ago: it is
// handed out again).
func (q *Queue) current(rec Record) (pos, bool) {
	if rec.gen == q.gen {
		return rec.end, true
	}
	if rec.gen+1 == q.gen {
		if !q.cutAt.less(rec.end) {
			return rec.end, true
		}
		p, ok := q.remap[rec.end]
		return p, ok
	}
	return pos{}, false
}
