package bridge

import "fmt"

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
}

// Stats returns the current figures.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	s := Stats{Connected: b.link != nil, Broker: b.broker.addr}
	b.mu.Unlock()
	s.QueueMessages, s.QueueBytes = b.q.Len()
	s.Published = b.stats.published.Load()
	s.Acked = b.stats.acked.Load()
	s.Spooled = b.stats.spooled.Load()
	s.Redelivered = b.stats.redelivered.Load()
	s.DownlinkDelivered = b.stats.downDelivered.Load()
	s.DownlinkDropped = b.stats.downDropped.Load()
	s.DeadLetters = b.stats.deadLetters.Load()
	return s
}

// Health returns nil while the broker is connected, else an error
// "bridge: broker unreachable: HOST:PORT" for /healthz and STATUS=.
func (b *Bridge) Health() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.link != nil {
		return nil
	}
	return fmt.Errorf("bridge: broker unreachable: %s", b.broker.addr)
}
