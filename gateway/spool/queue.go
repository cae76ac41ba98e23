package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// (0 = DefaultSyncInterval).
	SyncInterval time.Duration
	// Logger receives the torn-tail and I/O error lines (nil = slog.Default()).
	Logger *slog.Logger
}

// pos is a place in the queue: a segment and a byte offset inside it.
type pos struct {
	seq uint64
	off int64
}

type segment struct {
	seq  uint64
	size int64
}

// A Record is one payload handed out by Next, to be given back to Ack.
type Record struct {
	Data []byte
	end  pos
	size int64
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
	dirty    bool          // appended since the last fsync
	changed  chan struct{} // closed and replaced at every change
	closed   bool

	stop chan struct{}
	done chan struct{}
}

// Open opens the queue kept in dir, creating nothing until the first
// Append. Records left by an earlier run, acknowledged or not as the cursor
// file says, are checked, and a torn tail is cut off and logged.
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
		done:    make(chan struct{}),
		nextSeq: 1,
	}
	if err := q.load(); err != nil {
		return nil, err
	}
	go q.syncLoop()
	return q, nil
}

func (q *Queue) segPath(seq uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%020d.seg", seq))
}

func (q *Queue) cursorPath() string { return filepath.Join(q.dir, "cursor") }

// load reads what an earlier run left in dir.
func (q *Queue) load() error {
	entries, err := os.ReadDir(q.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	cur, haveCur := q.readCursor()
	for _, seq := range seqs {
		q.nextSeq = max(q.nextSeq, seq+1)
		if haveCur && seq < cur.seq {
			// Fully acknowledged before the last run stopped.
			if err := os.Remove(q.segPath(seq)); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		size, err := q.check(seq)
		if err != nil {
			return err
		}
		if size == 0 {
			if err := os.Remove(q.segPath(seq)); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			continue
		}
		q.segs = append(q.segs, segment{seq: seq, size: size})
	}
	if len(q.segs) == 0 {
		if haveCur {
			// Everything was delivered, but the cursor's removal was
			// lost: new segments are numbered past it, and it goes.
			q.nextSeq = max(q.nextSeq, cur.seq+1)
			_ = os.Remove(q.cursorPath())
			syncDir(q.dir)
		}
		return nil
	}
	q.ack = pos{seq: q.segs[0].seq}
	if haveCur && cur.seq == q.segs[0].seq {
		q.ack = cur
	}
	// Count what is left after the cursor; a cursor that is not on a
	// record boundary is not trusted, and everything is delivered again.
	n, b, ok, err := q.countFrom(q.ack)
	if err != nil {
		return err
	}
	if !ok {
		q.log.Warn("spool: cursor not on a record, delivering the segment again", "dir", q.dir)
		q.ack = pos{seq: q.segs[0].seq}
		if n, b, _, err = q.countFrom(q.ack); err != nil {
			return err
		}
	}
	for _, s := range q.segs {
		if s.seq != q.ack.seq {
			b += s.size
		}
	}
	q.msgs, q.bytes = n, b
	q.read, q.ackSaved = q.ack, q.ack
	for _, s := range q.segs[1:] {
		c, _, _, err := q.countFrom(pos{seq: s.seq})
		if err != nil {
			return err
		}
		q.msgs += c
	}
	return nil
}

// check reads a segment through, cuts it at the first record that is torn
// or corrupt, and returns its good size.
func (q *Queue) check(seq uint64) (int64, error) {
	path := q.segPath(seq)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	off := 0
	for off < len(data) {
		_, n, err := decodeRecord(data[off:])
		if err != nil {
			q.log.Warn("spool: cut a torn tail", "file", path, "offset", off,
				"dropped_bytes", len(data)-off, "reason", err)
			if err := os.Truncate(path, int64(off)); err != nil {
				return 0, fmt.Errorf("spool: %w", err)
			}
			break
		}
		off += n
	}
	return int64(off), nil
}

// countFrom counts the records and bytes of p's segment from p on, and
// says whether p fell on a record boundary.
func (q *Queue) countFrom(p pos) (msgs, bytes int64, ok bool, err error) {
	data, err := os.ReadFile(q.segPath(p.seq))
	if err != nil {
		return 0, 0, false, fmt.Errorf("spool: %w", err)
	}
	off := int64(0)
	for off < int64(len(data)) {
		if off == p.off {
			ok = true
		}
		_, n, err := decodeRecord(data[off:])
		if err != nil {
			break
		}
		if off >= p.off {
			msgs++
			bytes += int64(n)
		}
		off += int64(n)
	}
	if off == p.off {
		ok = true
	}
	return msgs, bytes, ok, nil
}

func (q *Queue) readCursor() (pos, bool) {
	b, err := os.ReadFile(q.cursorPath())
	if err != nil {
		return pos{}, false
	}
	var p pos
	if _, err := fmt.Sscanf(string(b), "%d %d\n", &p.seq, &p.off); err != nil {
		return pos{}, false
	}
	return p, true
}

// writeCursor records the ack position so a restart does not deliver
// everything again. It is not fsynced: a stale cursor only means records
// are delivered twice, which at-least-once allows.
func (q *Queue) writeCursor() {
	if q.ack == q.ackSaved || len(q.segs) == 0 {
		return
	}
	tmp := q.cursorPath() + ".tmp"
	err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", q.ack.seq, q.ack.off), 0o640)
	if err == nil {
		err = os.Rename(tmp, q.cursorPath())
	}
	if err != nil {
		q.log.Error("spool: cannot save the cursor", "dir", q.dir, "err", err)
		return
	}
	q.ackSaved = q.ack
}

// broadcast wakes every waiter; the caller holds q.mu.
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
// reaches the disk within SyncInterval. While the queue is full, Append
// waits for room until ctx is done.
func (q *Queue) Append(ctx context.Context, payload []byte) error {
	need := int64(headerSize + len(payload))
	if len(payload) > MaxRecordBytes || need > q.opt.MaxBytes {
		return fmt.Errorf("spool: record of %d bytes is larger than the queue bound of %d bytes", len(payload), q.opt.MaxBytes)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && q.bytes+need > q.opt.MaxBytes {
		ch := q.changed
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			q.mu.Lock()
			return ctx.Err()
		}
		q.mu.Lock()
	}
	if q.closed {
		return ErrClosed
	}
	if err := q.prepareTail(need); err != nil {
		return err
	}
	buf := appendRecord(make([]byte, 0, need), payload)
	tail := &q.segs[len(q.segs)-1]
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
	q.dirty = true
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
		// A finished segment is flushed now, so that at most the tail's
		// last interval is ever at risk.
		if err := q.w.Sync(); err != nil {
			q.log.Error("spool: fsync", "file", q.w.Name(), "err", err)
		}
		q.w.Close()
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

// TryNext hands out the next record not yet handed out, or false when
// there is none. Records stay in the queue until acknowledged.
func (q *Queue) TryNext() (Record, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return Record{}, false, ErrClosed
	}
	for i := 0; i < len(q.segs); i++ {
		s := q.segs[i]
		if s.seq < q.read.seq {
			continue
		}
		if s.seq > q.read.seq {
			q.read = pos{seq: s.seq}
		}
		if q.read.off >= s.size {
			continue
		}
		data, n, err := q.readAt(q.read)
		if err != nil {
			return Record{}, false, err
		}
		q.read.off += n
		return Record{Data: data, end: q.read, size: n}, true, nil
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
		return nil, 0, fmt.Errorf("spool: %s at %d: %w", q.r.Name(), p.off, err)
	}
	size, _, _ := decodeHeader(h[:])
	buf := make([]byte, headerSize+int(size))
	if _, err := q.r.ReadAt(buf, p.off); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("spool: %s at %d: %w", q.r.Name(), p.off, err)
	}
	data, n, err := decodeRecord(buf)
	if err != nil {
		return nil, 0, fmt.Errorf("spool: %s at %d: %w", q.r.Name(), p.off, err)
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
	if rec.end.seq < q.ack.seq || (rec.end.seq == q.ack.seq && rec.end.off <= q.ack.off) {
		return false // already acknowledged
	}
	q.ack = rec.end
	q.msgs--
	q.bytes -= rec.size
	// Records acked together (rec was not the oldest) are accounted
	// by recounting from the segments.
	q.recount()
	for len(q.segs) > 0 && q.ack.seq == q.segs[0].seq && q.ack.off >= q.segs[0].size {
		if len(q.segs) == 1 {
			if q.w != nil {
				q.w.Close()
				q.w = nil
			}
			q.dirty = false
		}
		q.removeHead()
	}
	if len(q.segs) == 0 {
		_ = os.Remove(q.cursorPath())
		q.ackSaved = q.ack
		emptied = true
	}
	q.broadcast()
	return emptied
}

// recount sets msgs and bytes from the segments when an ack skipped over
// records; it is cheap in the usual case where nothing was skipped.
func (q *Queue) recount() {
	var b int64
	for _, s := range q.segs {
		switch {
		case s.seq == q.ack.seq:
			b += s.size - q.ack.off
		case s.seq > q.ack.seq:
			b += s.size
		}
	}
	if b == q.bytes {
		return
	}
	// Bytes tell that records were skipped; count them again.
	q.bytes = b
	var n int64
	for _, s := range q.segs {
		switch {
		case s.seq == q.ack.seq:
			c, _, _, _ := q.countFrom(q.ack)
			n += c
		case s.seq > q.ack.seq:
			c, _, _, _ := q.countFrom(pos{seq: s.seq})
			n += c
		}
	}
	q.msgs = n
}

func (q *Queue) removeHead() {
	s := q.segs[0]
	if q.r != nil && q.rSeq == s.seq {
		q.r.Close()
		q.r = nil
	}
	if err := os.Remove(q.segPath(s.seq)); err != nil {
		q.log.Error("spool: cannot delete a drained segment", "file", q.segPath(s.seq), "err", err)
	}
	q.segs = q.segs[1:]
	if len(q.segs) > 0 {
		q.ack = pos{seq: q.segs[0].seq}
		if q.read.seq < q.ack.seq {
			q.read = q.ack
		}
	}
}

// syncLoop fsyncs appended data and saves the cursor every SyncInterval.
// It ends on Close.
func (q *Queue) syncLoop() {
	defer close(q.done)
	t := time.NewTicker(q.opt.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
		}
		q.mu.Lock()
		q.writeCursor()
		f := q.w
		dirty := q.dirty
		q.dirty = false
		q.mu.Unlock()
		if !dirty || f == nil {
			continue
		}
		// fsync outside the lock: an SD card can take a while, and
		// Append must not wait for it.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			q.log.Error("spool: fsync", "file", f.Name(), "err", err)
			q.mu.Lock()
			q.dirty = true
			q.mu.Unlock()
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
	q.broadcast()
	q.mu.Unlock()
	close(q.stop)
	<-q.done

	q.mu.Lock()
	defer q.mu.Unlock()
	var err error
	q.writeCursor()
	if q.w != nil {
		if serr := q.w.Sync(); serr != nil {
			err = fmt.Errorf("spool: %w", serr)
		}
		q.w.Close()
		q.w = nil
	}
	if q.r != nil {
		q.r.Close()
		q.r = nil
	}
	return err
}
