// Package spool is gatewayd's durable on-disk FIFO: the queue that holds
// receipted messages while the MQTT broker is unreachable or behind.
//
// A Queue is a directory of segment files, each a run of records framed as
// length, CRC-32C and payload. Append returns once the record is in the
// kernel (one write(2) call), so it survives SIGKILL of the process; the
// data is fsynced every SyncInterval (1 s by default), so a power cut loses
// at most the records of the last interval. With SyncOnCommit, Append
// returns only once an fsync covers the record, and nothing it returned
// for is lost to a power cut: group commit, one fsync for every Append
// that arrived while the previous one ran, so the cost is one flush per
// batch, not per record.
//
// # Damage
//
// On Open every segment is read through and checked. Damage at the end of
// the last segment is a torn tail, what a crash leaves of the last write:
// it is cut off, with one log line. Every other segment was fsynced before
// the next one was started, so damage in it, or in the middle of the last
// one, is the card failing: the damaged run is skipped up to the next
// record whose CRC holds, counted (Stats.CorruptRecords) and logged once,
// and the rest of the segment is kept. Damage found later, when a record
// is read, is handled the same way.
//
// # Full and read-only disks
//
// A write that finds the disk full (ENOSPC, EDQUOT) is treated as a full
// queue: the Append waits at the head of the line, nothing is lost, one
// WARN line is logged per spell, and Health says "queue: no space left on
// device" until a retry (on each ack and each sync tick) succeeds. Waiters
// for room, whether the queue or the disk is full, are served first come,
// first served, each woken once when its record is written.
//
// A directory that cannot be written at Open (a card that ext4 remounted
// read-only after errors) is not an error: the queue opens read-only,
// Append fails at once with ErrReadOnly (the bridge then publishes
// directly and receipts a line only on PUBACK), and what the queue holds
// is handed out but, acknowledged, not deleted: the files stay, and are
// delivered again after a start with a writable disk. Delivering twice is
// what at-least-once allows; keeping receipted lines from the broker until
// someone fixes the card is not.
//
// # fsync errors
//
// An fsync error is never only logged. Linux reports a failed writeback
// once, marks the pages it could not write clean, and may drop them: a
// retried fsync then succeeds without writing anything, and the file's
// cache no longer tells what is on disk. PostgreSQL relied on the retry
// until 2018 ("fsyncgate"); since then it treats a failed fsync as fatal
// (PANIC) and recovers from its WAL, the copy it knows to be durable. The
// queue does the same with the copy it has: every record appended since
// the last fsync that succeeded is kept in memory too, and after an fsync
// error those not yet acknowledged are written again to a fresh segment,
// which is fsynced; the files they were in are cut back to where the last
// good fsync left them, and the reader hands out the new copies (records
// in flight may go twice). Until that rewrite succeeds (it is tried again
// each tick) the records are not handed out from the suspect file. The
// error is an ERROR line, a count (Stats.FsyncErrors) and a Health error
// until a later fsync succeeds. With SyncOnCommit the Appends the failed
// fsync covered return the error, so their boards get no receipt and send
// the lines again.
//
// # Reading
//
// The reader hands records out with TryNext and the consumer Acks them in
// order once they are safe elsewhere; a segment whose records are all acked
// is deleted, and when the queue is empty no file is left, so the disk is
// touched only while the queue holds something. MaxBytes bounds the queue:
// a full queue makes Append wait (backpressure) instead of dropping.
//
// nsqio/go-diskqueue and bbolt were read and not used: go-diskqueue frames
// records with a length but no checksum, so a torn write can surface as a
// wrong message, it advances its read position when a message is handed
// out rather than when the consumer is done with it, and it has no bound on
// total bytes; bbolt fsyncs every transaction and its file never shrinks.
package spool
