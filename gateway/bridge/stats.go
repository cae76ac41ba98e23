package bridge

import (
	"errors"
	"fmt"
)

// Stats is a snapshot for metrics and status.
type Stats struct {
	Connected         bool
	Broker            string // HOST:PORT
	QueueMessages     int64  // lines in the spool, not yet acknowledged
	QueueBytes        int64
	Published         uint64 // PUBLISH packets sent for lines, first tries and from the spool
	Acked             uint64 // PUBACKs received for them
	Spooled           uint64 // lines written to the spool
	Redelivered       uint64 // lines published from the spool
	DownlinkDelivered uint64
	DownlinkDropped   uint64 // the board was not connected
	DeadLetters       uint64 // lines in the dead-letter file
	// The spool's troubles since start: damaged records skipped, fsyncs
	// that failed, writes that found the disk full.
	QueueCorruptRecords, QueueFsyncErrors, QueueNoSpaceErrors uint64
}

// Stats returns the current figures.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	s := Stats{Connected: b.link != nil, Broker: b.broker.addr}
	b.mu.Unlock()
	qs := b.q.Stats()
	s.QueueMessages, s.QueueBytes = qs.Messages, qs.Bytes
	s.QueueCorruptRecords, s.QueueFsyncErrors, s.QueueNoSpaceErrors = qs.CorruptRecords, qs.FsyncErrors, qs.NoSpaceErrors
	s.Published = b.stats.published.Load()
	s.Acked = b.stats.acked.Load()
	s.Spooled = b.stats.spooled.Load()
	s.Redelivered = b.stats.redelivered.Load()
	s.DownlinkDelivered = b.stats.downDelivered.Load()
	s.DownlinkDropped = b.stats.downDropped.Load()
	s.DeadLetters = b.stats.deadLetters.Load()
	return s
}

// Health returns nil while the broker is connected and the spool works,
// else one line for each trouble, for /healthz and STATUS=:
// "bridge: broker unreachable: HOST:PORT", and the spool's "queue: ..."
// lines (a read-only directory, a full disk, a failed fsync).
func (b *Bridge) Health() error {
	b.mu.Lock()
	connected, addr := b.link != nil, b.broker.addr
	b.mu.Unlock()
	var errs []error
	if !connected {
		errs = append(errs, fmt.Errorf("bridge: broker unreachable: %s", addr))
	}
	if err := b.q.Health(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
