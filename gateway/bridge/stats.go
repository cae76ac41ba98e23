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
	NoSubscribers     uint64 // of those, PUBACKs saying no subscriber matched (0x10)
	Spooled           uint64 // lines written to the spool
	Redelivered       uint64 // lines published from the spool
	DownlinkDelivered uint64
	DownlinkDropped   uint64 // the board was not connected
}

// Stats returns the current figures.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	s := Stats{Connected: b.connected, Broker: b.broker.addr}
	b.mu.Unlock()
	s.QueueMessages, s.QueueBytes = b.q.Len()
	s.Published = b.stats.published.Load()
	s.Acked = b.stats.acked.Load()
	s.NoSubscribers = b.stats.noSubscribers.Load()
	s.Spooled = b.stats.spooled.Load()
	s.Redelivered = b.stats.redelivered.Load()
	s.DownlinkDelivered = b.stats.downDelivered.Load()
	s.DownlinkDropped = b.stats.downDropped.Load()
	return s
}

// Health returns nil while the broker is connected, else an error
// "bridge: broker unreachable: HOST:PORT" for /healthz and STATUS=.
func (b *Bridge) Health() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.connected {
		return nil
	}
	return fmt.Errorf("bridge: broker unreachable: %s", b.broker.addr)
}
