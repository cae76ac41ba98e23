package bridge

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// downlinkQueue bounds the downlinks waiting for one board. Delivering
// one can take up to the board's write timeout, and paho's router must
// never wait that long: its reader also reads the PUBACKs lines wait for.
const downlinkQueue = 256

// errDownlinkQueueFull drops a downlink for a board that is not reading
// its deliveries as fast as they come.
var errDownlinkQueueFull = errors.New("bridge: downlink queue full")

// downlinks holds the messages on their way to each board: a FIFO per
// board with one goroutine emptying it while it holds anything, so a
// board gets its messages in the order the broker sent them and a slow
// board holds up no other.
type downlinks struct {
	mu     sync.Mutex
	queues map[string][][]byte // present while a goroutine serves it
	closed bool
}

// downlink is the subscription's handler, called by paho's router in
// order: P/G/B/down goes to board B, queued so the call returns at once
// (paho sends the PUBACK after it returns).
func (b *Bridge) downlink(_ mqtt.Client, m mqtt.Message) {
	b.mu.Lock()
	prefix := b.topic("", "")
	b.mu.Unlock()
	rest, ok := strings.CutPrefix(m.Topic(), prefix)
	board, ok2 := strings.CutSuffix(rest, "/down")
	if !ok || !ok2 || board == "" || strings.Contains(board, "/") {
		return
	}
	b.queueDownlink(board, m.Payload())
}

// queueDownlink queues payload for board, or drops it (counted) when the
// bridge is closing or the board's queue is full.
func (b *Bridge) queueDownlink(board string, payload []byte) {
	d := &b.downq
	d.mu.Lock()
	q, served := d.queues[board]
	switch {
	case d.closed:
		d.mu.Unlock()
		b.dropped(board, ErrClosed)
		return
	case len(q) >= downlinkQueue:
		d.mu.Unlock()
		b.dropped(board, errDownlinkQueueFull)
		return
	}
	if d.queues == nil {
		d.queues = map[string][][]byte{}
	}
	d.queues[board] = append(q, bytes.Clone(payload))
	if !served {
		// Under d.mu, so Close sees either this Add or closed set.
		b.wg.Add(1)
		go b.serveDownlinks(board)
	}
	d.mu.Unlock()
}

// serveDownlinks delivers board's queued downlinks in order and ends when
// its queue is empty.
func (b *Bridge) serveDownlinks(board string) {
	defer b.wg.Done()
	d := &b.downq
	for {
		d.mu.Lock()
		q := d.queues[board]
		if len(q) == 0 {
			delete(d.queues, board)
			d.mu.Unlock()
			return
		}
		p := q[0]
		q[0] = nil
		d.queues[board] = q[1:]
		d.mu.Unlock()
		var err error
		if b.deliver == nil {
			err = errors.New("bridge: no boards to deliver to")
		} else {
			err = b.deliver(board, p)
		}
		if err != nil {
			b.dropped(board, err)
			continue
		}
		b.stats.downDelivered.Add(1)
	}
}

func (b *Bridge) dropped(board string, err error) {
	b.stats.downDropped.Add(1)
	b.log.Debug("bridge: downlink dropped", "board", board, "err", err)
}

// closeDownlinks stops taking downlinks; those queued are still handed
// to deliver by their goroutines, which Close waits for.
func (b *Bridge) closeDownlinks() {
	b.downq.mu.Lock()
	b.downq.closed = true
	b.downq.mu.Unlock()
}
