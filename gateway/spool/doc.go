// Package spool is gatewayd's durable on-disk FIFO: the queue that holds
// receipted messages while the MQTT broker is unreachable or behind.
//
// A Queue is a directory of segment files, each a run of records framed as
// length, CRC-32C and payload. Append returns once the record is in the
// kernel (one write(2) call), so it survives SIGKILL of the process; the
// data is fsynced every SyncInterval (1 s by default), so a power cut loses
// at most the records of the last interval. On Open every segment is read
// through and checked: a torn or corrupt tail is cut off with one log line,
// so a crash never leaves a record that wedges the next start.
//
// The reader hands records out with Next and the consumer Acks them in
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
