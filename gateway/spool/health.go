package spool

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrReadOnly is returned by Append on a queue whose directory cannot be
// written.
var ErrReadOnly = errors.New("spool: queue directory cannot be written")

// Stats are a queue's figures since Open.
type Stats struct {
	Messages, Bytes int64 // not yet acknowledged
	// CorruptRecords counts the damaged runs skipped: each is at least
	// one record, and a run of damage is counted once.
	CorruptRecords uint64
	FsyncErrors    uint64 // fsyncs that failed
	NoSpaceErrors  uint64 // writes that found the disk full (ENOSPC, EDQUOT)
}

// Stats returns the current figures.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{
		Messages: q.msgs, Bytes: q.bytes,
		CorruptRecords: q.corrupt,
		FsyncErrors:    q.fsyncErrors,
		NoSpaceErrors:  q.noSpaceErrors,
	}
}

// Writable returns nil if records can be appended, else why not (the
// directory is on a read-only file system, or not ours to write).
func (q *Queue) Writable() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.readOnly
}

// Health returns nil while the queue works, else one line for each way
// it does not, each starting "queue: ", for /healthz:
//
//	queue: cannot write DIR: read-only file system
//	queue: no space left on device
//	queue: fsync failed: input/output error
//
// The fsync line stays until a later fsync succeeds.
func (q *Queue) Health() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	if q.readOnly != nil {
		errs = append(errs, fmt.Errorf("queue: cannot write %s: %s", q.dir, errnoText(q.readOnly)))
	}
	if q.noSpace != nil {
		errs = append(errs, errors.New("queue: no space left on device"))
	}
	if q.fsyncErr != nil {
		errs = append(errs, fmt.Errorf("queue: fsync failed: %s", errnoText(q.fsyncErr)))
	}
	return errors.Join(errs...)
}

// errnoText is the system's words for err, without the path and call
// that an *os.PathError adds.
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
