package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultMaxBytes = 64 << 20
	// DefaultSyncInterval is how often appended records are fsynced. A
	// second bounds what a power cut can lose to one second of data, while
	// an SD card sees at most one flush a second, and only during an outage:
	// an fsync per record would program a flash page per message and wear
	// the card out in weeks at a few hundred messages a second.
	DefaultSyncInterval = time.Second
	maxSegmentBytes     = 4 << 20
	minSegmentBytes     = 4 << 10
)

// ErrClosed is returned by calls on a closed Queue.
var ErrClosed = errors.New("spool: queue closed")

// Options tune a Queue; the zero value is ready to use.
type Options struct {
	// MaxBytes bounds the bytes held on disk, record headers included
	// (0 = DefaultMaxBytes). A full queue makes Append wait.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (0 = MaxBytes/4, at most 4 MiB). Smaller segments free disk sooner.
	SegmentBytes int64
	// SyncInterval is how often appended data is fsynced
	// (0 = DefaultSyncInterval). It is also the pace at which a queue
	// out of disk space tries again while nothing is acknowledged.
	SyncInterval time.Duration
	// SyncOnCommit makes Append return only once an fsync covers the
	// record (group commit: one fsync serves every Append waiting for
	// it). False: Append returns once the record is in the kernel, and
	// it is fsynced within SyncInterval.
	SyncOnCommit bool
	// Logger receives the damage, disk-full and I/O error lines
	// (nil = slog.Default()).
	Logger *slog.Logger
}

// pos is a place in the queue: a segment and a byte offset inside it.
type pos struct {
	seq uint64
	off int64
}

// less orders positions in queue order.
func (p pos) less(o pos) bool {
	return p.seq < o.seq || (p.seq == o.seq && p.off < o.off)
}

// span is a damaged run of bytes in a segment, skipped by the reader.
type span struct{ off, end int64 }

type segment struct {
	seq   uint64
	size  int64
	holes []span // damaged runs, in order, none adjacent to another
}

// A Record is one payload handed out by Next, to be given back to Ack.
type Record struct {
	Data []byte
	end  pos
	size int64
	gen  uint64 // the layout it was read from (see recover)
}

// Queue is a durable FIFO of byte records. Its methods are safe for
// concurrent use; records come out in the order Append returned.
type Queue struct {
	dir string
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	segs     []segment // oldest first; the last one is the tail appended to
	w        *os.File  // the tail, open for appending; nil until needed
	r        *os.File  // the segment Next is reading
	rSeq     uint64
	read     pos // next record Next hands out
	ack      pos // oldest record not yet acknowledged
	ackSaved pos // ack as last written to the cursor file
	nextSeq  uint64
	msgs     int64 // records from ack to the end
	bytes    int64
	changed  chan struct{} // closed and replaced at every change
	closed   bool

	space          // waiters for room, and the disk-full state (space.go)
	durable        // what is not yet fsynced, and fsync errors (durable.go)
	damage         // damaged records skipped (load.go)
	readOnly error // why the directory cannot be written; nil if it can

	stop chan struct{}
	kick chan struct{} // asks the sync loop for an fsync now (SyncOnCommit)
	done chan struct{}
}

// Open opens the queue kept in dir, creating nothing until the first
// Append. Records left by an earlier run, acknowledged or not as the cursor
// file says, are checked: a torn tail of the last segment is cut off, a
// damaged record elsewhere is skipped, each with one log line. A directory
// that cannot be written (a read-only file system) is not an error: the
// queue opens read-only, hands out what it holds, and Append fails with
// ErrReadOnly (see Writable).
func Open(dir string, opt Options) (*Queue, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = min(opt.MaxBytes/4, maxSegmentBytes)
	}
	opt.SegmentBytes = max(opt.SegmentBytes, minSegmentBytes)
	if opt.SyncInterval <= 0 {
		opt.SyncInterval = DefaultSyncInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	q := &Queue{
		dir:     dir,
		opt:     opt,
		log:     opt.Logger,
		changed: make(chan struct{}),
		stop:    make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		nextSeq: 1,
	}
	if err := q.load(); err != nil {
		return nil, err
	}
	if q.readOnly == nil {
		q.readOnly = checkWritable(dir)
	}
	if q.readOnly != nil {
		q.log.Warn("spool: the queue directory cannot be written; nothing new is queued, and what it holds is delivered but not deleted",
			"dir", dir, "err", q.readOnly)
	}
	go q.syncLoop()
	return q, nil
}

func (q *Queue) segPath(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d.seg", seq))
}

func (q *Queue) cursorPath() string { return filepath.Join(q.dir, "cursor") }

// broadcast wakes every reader waiting on Changed; the caller holds q.mu.
// Appenders waiting for room are woken one by one instead (space.go).
func (q *Queue) broadcast() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change to the queue: an
// append, an ack or Close.
func (q *Queue) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.changed
}

// Len returns the records and bytes not yet acknowledged.
func (q *Queue) Len() (msgs, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgs, q.bytes
}

// Append adds a record at the end of the queue. It returns once the record
// is written to the kernel, so it survives the process being killed; it
// reaches the disk within SyncInterval, or before Append returns with
// SyncOnCommit. While the queue is full, or its disk is, Append waits for
// room until ctx is done; waiters are served first come, first served.
// On a queue that cannot be written it fails at once with ErrReadOnly.
func (q *Queue) Append(ctx context.Context, payload []byte) error {
	need := int64(headerSize + len(payload))
	if len(payload) > MaxRecordBytes || need > q.opt.MaxBytes {
		return fmt.Errorf("spool: record of %d bytes is larger than the queue bound of %d bytes", len(payload), q.opt.MaxBytes)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.readOnly != nil {
		q.mu.Unlock()
		return errReadOnly(q.readOnly)
	}
	if len(q.waiters) == 0 && q.noSpace == nil && q.bytes+need <= q.opt.MaxBytes {
		err := q.write(payload, need)
		switch {
		case err == nil:
			return q.committed(ctx)
		case q.becameReadOnly(err):
			q.mu.Unlock()
			return errReadOnly(err)
		case !q.outOfSpace(err):
			q.mu.Unlock()
			return err
		}
		// The disk is full: wait in line, as for a full queue.
	}
	w := &waiter{payload: payload, need: need, ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	q.serve()
	if !w.done {
		q.mu.Unlock()
		select {
		case <-w.ready:
		case <-ctx.Done():
		}
		q.mu.Lock()
	}
	if !w.done {
		q.leave(w)
		q.mu.Unlock()
		return ctx.Err()
	}
	if w.err != nil {
		q.mu.Unlock()
		return w.err
	}
	return q.committed(ctx)
}

// committed returns once the record just written is durable enough:
// at once, or with SyncOnCommit after the fsync that covers it. The
// caller holds q.mu, which committed releases.
func (q *Queue) committed(ctx context.Context) error {
	if !q.opt.SyncOnCommit {
		q.mu.Unlock()
		return nil
	}
	b := q.joinBatch()
	q.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		// The record is queued and will be delivered; only its
		// durability is not waited for, and no receipt is given.
		return ctx.Err()
	}
}

// write writes one record at the tail; the caller holds q.mu and has
// made room for it.
func (q *Queue) write(payload []byte, need int64) error {
	if err := q.prepareTail(need); err != nil {
		return err
	}
	buf := appendRecord(make([]byte, 0, need), payload)
	tail := &q.segs[len(q.segs)-1]
	at := pos{seq: tail.seq, off: tail.size}
	if _, err := q.w.Write(buf); err != nil {
		// Leave no partial record behind for the reader to trip on.
		if terr := q.w.Truncate(tail.size); terr != nil {
			q.log.Error("spool: cannot undo a failed write", "file", q.w.Name(), "err", terr)
		}
		return fmt.Errorf("spool: %w", err)
	}
	tail.size += need
	q.msgs++
	q.bytes += need
	q.written(at, buf)
	q.broadcast()
	return nil
}

// prepareTail makes q.w a segment with room for need more bytes.
func (q *Queue) prepareTail(need int64) error {
	if q.w != nil {
		tail := q.segs[len(q.segs)-1]
		if tail.size == 0 || tail.size+need <= q.opt.SegmentBytes {
			return nil
		}
		// A finished segment is fsynced by the sync loop, with the
		// tail, so that Append never waits for a flush.
		q.seal(q.w)
		q.w = nil
	} else if n := len(q.segs); n > 0 && q.segs[n-1].size+need <= q.opt.SegmentBytes {
		// Append to the tail an earlier run left.
		f, err := os.OpenFile(q.segPath(q.segs[n-1].seq), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		q.w = f
		return nil
	}
	if err := os.MkdirAll(q.dir, 0o750); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	seq := q.nextSeq
	f, err := os.OpenFile(q.segPath(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	syncDir(q.dir)
	q.nextSeq++
	if len(q.segs) == 0 {
		q.read, q.ack, q.ackSaved = pos{seq: seq}, pos{seq: seq}, pos{seq: seq}
	}
	q.segs = append(q.segs, segment{seq: seq})
	q.w = f
	return nil
}

// syncDir makes a new file's name durable along with its data.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// segIndex returns the index in q.segs of segment seq, or -1.
func (q *Queue) segIndex(seq uint64) int {
	for i, s := range q.segs {
		if s.seq == seq {
			return i
		}
	}
	return -1
}

// skipHoles moves p past any damaged run that starts where p is.
func (q *Queue) skipHoles(p pos) pos {
	i := q.segIndex(p.seq)
	if i < 0 {
		return p
	}
	for _, h := range q.segs[i].holes {
		if p.off == h.off {
			p.off = h.end
		}
	}
	return p
}

// TryNext hands out the next record not yet handed out, or false when
// there is none. Records stay in the queue until acknowledged.
func (q *Queue) TryNext() (Record, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Record{}, false, ErrClosed
	}
	if q.recovering && len(q.unsynced) > 0 && !q.read.less(q.unsynced[0].at) {
		// After an fsync error the file may not hold what was written
		// there: records not known durable are handed out from the
		// fresh segment they are being written to (durable.go).
		return Record{}, false, nil
	}
	for i := 0; i < len(q.segs); i++ {
		s := q.segs[i]
		if s.seq < q.read.seq {
			continue
		}
		if s.seq > q.read.seq {
			q.read = pos{seq: s.seq}
		}
		q.read = q.skipHoles(q.read)
		if q.read.off >= s.size {
			continue
		}
		data, n, err := q.readAt(q.read)
		if errors.Is(err, errCorrupt) || errors.Is(err, errShort) {
			// Damaged since it was written or loaded: skip to the
			// next good record, as load does, and look again.
			if herr := q.holeAt(i, q.read); herr != nil {
				return Record{}, false, herr
			}
			i--
			continue
		}
		if err != nil {
			return Record{}, false, err
		}
		q.read.off += n
		return Record{Data: data, end: q.read, size: n, gen: q.gen}, true, nil
	}
	return Record{}, false, nil
}

// readAt reads the record at p, which was checked when written or loaded.
func (q *Queue) readAt(p pos) ([]byte, int64, error) {
	if q.r == nil || q.rSeq != p.seq {
		if q.r != nil {
			q.r.Close()
		}
		f, err := os.Open(q.segPath(p.seq))
		if err != nil {
			q.r = nil
			return nil, 0, fmt.Errorf("spool: %w", err)
		}
		q.r, q.rSeq = f, p.seq
	}
	var h [headerSize]byte
	if _, err := q.r.ReadAt(h[:], p.off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("%w: %s at %d", errShort, q.r.Name(), p.off)
		}
		return nil, 0, fmt.Errorf("spool: %s at %d: %w", q.r.Name(), p.off, err)
	}
	size, _, _ := decodeHeader(h[:])
	if size > MaxRecordBytes {
		return nil, 0, fmt.Errorf("%w: %s at %d", errCorrupt, q.r.Name(), p.off)
	}
	buf := make([]byte, headerSize+int(size))
	if _, err := q.r.ReadAt(buf, p.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("spool: %s at %d: %w", q.r.Name(), p.off, err)
	}
	data, n, err := decodeRecord(buf)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s at %d", err, q.r.Name(), p.off)
	}
	return data, int64(n), nil
}

// Rewind makes the next TryNext start again at the oldest record not
// acknowledged, after a consumer failed to deliver what it was handed.
func (q *Queue) Rewind() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.read = q.ack
}

// Ack acknowledges rec and every record handed out before it. Records must
// be acknowledged in the order TryNext handed them out. A segment whose
// records are all acknowledged is deleted at once, and the last one too
// when the queue is empty, so no file stays behind.
func (q *Queue) Ack(rec Record) {
	if q.acknowledge(rec) {
		// The cursor's removal made durable, outside q.mu (an SD card
		// can take a while): a cursor that a power cut brought back
		// could name a segment written after it, and its offset would
		// skip that segment's records. Once per drained outage.
		syncDir(q.dir)
	}
}

// acknowledge is Ack under q.mu; it reports whether the queue emptied and
// its cursor was removed.
func (q *Queue) acknowledge(rec Record) (emptied bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || len(q.segs) == 0 {
		return false
	}
	end, ok := q.current(rec)
	if !ok || !q.ack.less(end) {
		return false // already acknowledged, or from a layout replaced since
	}
	q.ack = end
	if q.bytes-q.heldBytes() == rec.size {
		q.msgs--
	} else {
		// Records acked together (rec was not the oldest).
		q.msgs = q.countHeld()
	}
	q.settleAck()
	if len(q.segs) == 0 {
		if q.readOnly == nil {
			_ = os.Remove(q.cursorPath())
			emptied = true
		}
		q.ackSaved = q.ack
	}
	q.spaceFreed()
	q.broadcast()
	return emptied && q.readOnly == nil
}

// settleAck moves q.ack past damaged runs and deletes the segments it
// has left behind, then sets q.bytes; the caller holds q.mu.
func (q *Queue) settleAck() {
	for len(q.segs) > 0 {
		q.ack = q.skipHoles(q.ack)
		head := q.segs[0]
		if !(head.seq < q.ack.seq || (head.seq == q.ack.seq && q.ack.off >= head.size)) {
			break
		}
		if len(q.segs) == 1 {
			// Everything is acknowledged: nothing is left to fsync.
			if q.w != nil {
				q.w.Close()
				q.w = nil
			}
			q.forgetUnsynced()
		}
		q.removeHead()
	}
	if q.read.less(q.ack) {
		// Only after a rewrite (durable.go), which hands out again
		// what was in flight: an ack from before it may pass read.
		q.read = q.ack
	}
	q.bytes = q.heldBytes()
}

// heldBytes is what the segments hold from q.ack on.
func (q *Queue) heldBytes() int64 {
	var b int64
	for _, s := range q.segs {
		switch {
		case s.seq == q.ack.seq:
			b += max(s.size-q.ack.off, 0)
		case s.seq > q.ack.seq:
			b += s.size
		}
	}
	return b
}

// countHeld counts the records from q.ack on by reading the segments.
func (q *Queue) countHeld() int64 {
	var n int64
	for _, s := range q.segs {
		switch {
		case s.seq == q.ack.seq:
			c, _, _ := q.countFrom(s, q.ack.off)
			n += c
		case s.seq > q.ack.seq:
			c, _, _ := q.countFrom(s, 0)
			n += c
		}
	}
	return n
}

func (q *Queue) removeHead() {
	s := q.segs[0]
	if q.r != nil && q.rSeq == s.seq {
		q.r.Close()
		q.r = nil
	}
	if q.readOnly == nil {
		if err := os.Remove(q.segPath(s.seq)); err != nil {
			q.log.Error("spool: cannot delete a drained segment", "file", q.segPath(s.seq), "err", err)
		}
	}
	q.segs = q.segs[1:]
	if len(q.segs) > 0 {
		if q.ack.less(pos{seq: q.segs[0].seq}) {
			q.ack = pos{seq: q.segs[0].seq}
		}
		if q.read.less(q.ack) {
			q.read = q.ack
		}
	}
}

// Close flushes what was appended, saves the cursor and releases the
// files. Records not acknowledged are delivered after the next Open.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.serve()
	q.broadcast()
	q.mu.Unlock()
	close(q.stop)
	<-q.done

	err := q.syncOnce()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failBatch(ErrClosed)
	if q.w != nil {
		q.w.Close()
		q.w = nil
	}
	if q.r != nil {
		q.r.Close()
		q.r = nil
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}
