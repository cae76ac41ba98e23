package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// damage counts the damaged runs skipped since Open.
type damage struct {
	corrupt uint64
}

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
	for i, seq := range seqs {
		q.nextSeq = max(q.nextSeq, seq+1)
		if haveCur && seq < cur.seq {
			// Fully acknowledged before the last run stopped.
			if err := q.removeFile(q.segPath(seq)); err != nil {
				return err
			}
			continue
		}
		s, err := q.check(seq, i == len(seqs)-1)
		if err != nil {
			return err
		}
		if s.size == 0 {
			if err := q.removeFile(q.segPath(seq)); err != nil {
				return err
			}
			continue
		}
		q.segs = append(q.segs, s)
	}
	if len(q.segs) > 0 {
		q.ack = pos{seq: q.segs[0].seq}
		if haveCur && cur.seq == q.segs[0].seq {
			// A cursor that is not on a record boundary is not
			// trusted, and the whole segment is delivered again.
			if _, ok, err := q.countFrom(q.segs[0], cur.off); err != nil {
				return err
			} else if ok {
				q.ack = cur
			} else {
				q.log.Warn("spool: cursor not on a record, delivering the segment again", "dir", q.dir)
			}
		}
		q.settleAck()
		q.msgs = q.countHeld()
		q.read, q.ackSaved = q.ack, q.ack
	}
	if len(q.segs) == 0 && haveCur {
		// Everything was delivered, but the cursor's removal was
		// lost: new segments are numbered past it, and it goes.
		q.nextSeq = max(q.nextSeq, cur.seq+1)
		if err := q.removeFile(q.cursorPath()); err != nil {
			return err
		}
		syncDir(q.dir)
	}
	return nil
}

// removeFile removes a file load no longer needs. On a directory that
// cannot be written it notes why and leaves the file.
func (q *Queue) removeFile(path string) error {
	err := os.Remove(path)
	switch {
	case err == nil, errors.Is(err, os.ErrNotExist):
		return nil
	case isReadOnly(err):
		q.readOnly = firstErr(q.readOnly, err)
		return nil
	}
	return fmt.Errorf("spool: %w", err)
}

// firstErr returns a if set, else b.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// check reads a segment through. Damaged runs become holes that the
// reader skips, each counted and logged once. Damage at the end of the
// last segment is a torn tail, what a crash or power cut leaves of the
// last write: it is cut off. Any other segment was sealed, and fsynced,
// before the next one was started, so damage at its end is damage, not a
// tear: it is skipped like the rest, and the segment kept.
func (q *Queue) check(seq uint64, last bool) (segment, error) {
	path := q.segPath(seq)
	data, err := os.ReadFile(path)
	if err != nil {
		return segment{}, fmt.Errorf("spool: %w", err)
	}
	holes, good := scanSegment(data)
	s := segment{seq: seq, size: int64(len(data)), holes: holes}
	if good < s.size {
		if last {
			q.log.Warn("spool: cut a torn tail", "file", path, "offset", good, "dropped_bytes", s.size-good)
			if err := os.Truncate(path, good); err != nil {
				if !isReadOnly(err) {
					return segment{}, fmt.Errorf("spool: %w", err)
				}
				// Cut in memory only; nothing is appended to a
				// queue that cannot be written.
				q.readOnly = firstErr(q.readOnly, err)
			}
			s.size = good
		} else {
			s.holes = append(s.holes, span{off: good, end: s.size})
		}
	}
	for _, h := range s.holes {
		q.skipped(path, h)
	}
	return s, nil
}

// skipped counts and logs one damaged run.
func (q *Queue) skipped(path string, h span) {
	q.corrupt++
	q.log.Warn("spool: skipped a damaged record", "file", path, "offset", h.off, "bytes", h.end-h.off)
}

// scanSegment walks a segment's bytes. It returns the damaged runs that
// are followed by a good record, and where the trailing damage begins
// (len(data) when there is none).
func scanSegment(data []byte) (holes []span, good int64) {
	off := 0
	for off < len(data) {
		if _, n, err := decodeRecord(data[off:]); err == nil {
			off += n
			continue
		}
		next := resync(data[off:])
		if next < 0 {
			return holes, int64(off)
		}
		holes = append(holes, span{off: int64(off), end: int64(off + next)})
		off += next
	}
	return holes, int64(len(data))
}

// resync finds the first good record after the start of b, or -1. A
// false match needs a CRC-32C to agree by chance (about 1 in 4 billion
// per offset), and even then yields a record whose checksum is right.
func resync(b []byte) int {
	for p := 1; p+headerSize <= len(b); p++ {
		if _, _, err := decodeRecord(b[p:]); err == nil {
			return p
		}
	}
	return -1
}

// holeAt records damage found at p in q.segs[i] after load (the card
// rotted under a record already checked): the reader skips to the next
// good record, and the run is counted and logged like those found by
// load.
func (q *Queue) holeAt(i int, p pos) error {
	s := &q.segs[i]
	path := q.segPath(s.seq)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	data := make([]byte, s.size-p.off)
	if _, err := f.ReadAt(data, p.off); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("spool: %w", err)
	}
	h := span{off: p.off, end: s.size}
	if next := resync(data); next >= 0 {
		h.end = p.off + int64(next)
	}
	s.holes = append(s.holes, h)
	slices.SortFunc(s.holes, func(a, b span) int { return int(a.off - b.off) })
	q.skipped(path, h)
	q.msgs = q.countHeld()
	return nil
}

// countFrom counts the records of s from offset off on, skipping its
// holes, and says whether off falls on a record boundary.
func (q *Queue) countFrom(s segment, off int64) (msgs int64, ok bool, err error) {
	data, err := os.ReadFile(q.segPath(s.seq))
	if err != nil {
		return 0, false, fmt.Errorf("spool: %w", err)
	}
	data = data[:min(int64(len(data)), s.size)]
	o := int64(0)
	for o < int64(len(data)) {
		if o == off {
			ok = true
		}
		if h, in := holeStarting(s.holes, o); in {
			o = h.end
			continue
		}
		_, n, err := decodeRecord(data[o:])
		if err != nil {
			break
		}
		if o >= off {
			msgs++
		}
		o += int64(n)
	}
	if o == off {
		ok = true
	}
	return msgs, ok, nil
}

func holeStarting(holes []span, off int64) (span, bool) {
	for _, h := range holes {
		if h.off == off {
			return h, true
		}
	}
	return span{}, false
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
	if q.ack == q.ackSaved || len(q.segs) == 0 || q.readOnly != nil {
		return
	}
	tmp := q.cursorPath() + ".tmp"
	err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", q.ack.seq, q.ack.off), 0o640)
	if err == nil {
		err = os.Rename(tmp, q.cursorPath())
	}
	if err != nil {
		_ = os.Remove(tmp)
		if !isNoSpace(err) {
			// A full disk is already told once (space.go); the
			// cursor is tried again at the next tick.
			q.log.Error("spool: cannot save the cursor", "dir", q.dir, "err", err)
		}
		return
	}
	q.ackSaved = q.ack
}

// checkWritable says why dir, or the directory it would be created in,
// cannot be written: a read-only file system or no permission. Open asks
// before anything is written, so that a read-only card shows at start,
// not at the first outage.
func checkWritable(dir string) error {
	p := filepath.Clean(dir)
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
	if err := unix.Access(p, unix.W_OK); err != nil && isReadOnly(err) {
		return &os.PathError{Op: "access", Path: p, Err: err}
	}
	return nil
}
