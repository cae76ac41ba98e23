package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
)

// upFilter matches P/G/B/up, gatewayd's topic for board data; the
// Node-RED flow publishes to the same shape.
const upFilter = "+/+/+/up"

// subscriber is the application at the other end: one MQTT client on the
// broker, subscribed at QoS 1, counting what arrives per board and
// sequence number. It speaks MQTT 3.1.1 with clean_session false, as
// gatewaytest/mqtttest's subscriber does, so its session outlives a
// broker restart (mosquitto with persistence) and what the gateway
// delivered is never lost on the way to it.
type subscriber struct {
	c   mqtt.Client
	cur atomic.Pointer[tally]
	up  chan error // the first subscription's outcome

	// sessionLost counts reconnections on which the broker had no session
	// for the subscriber: whatever was published until it subscribed
	// again went nowhere, and a loss counted then is not the gateway's.
	connects    atomic.Int64
	sessionLost atomic.Int64
}

func subscribe(ctx context.Context, brokerURL string) (*subscriber, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return nil, err
	}
	s := &subscriber{up: make(chan error, 1)}
	s.cur.Store(newTally("\x00"))
	opts := mqtt.NewClientOptions().
		AddBroker("tcp://" + u.Host).
		SetClientID(fmt.Sprintf("mqttbench-sub-%d", time.Now().UnixNano())).
		SetProtocolVersion(4).
		// clean_session stays off even on the first connection (the client
		// ID is new, so there is no old session to resume): mosquitto
		// 2.0.11 persists no session that began clean, and a restart then
		// loses the subscription.
		SetCleanSession(false).
		SetKeepAlive(30 * time.Second).
		// The subscriber reconnects by itself (connect, on connection
		// lost) rather than by paho's automatic reconnection, which drops
		// the CONNACK's session present flag that sessionLost needs.
		SetAutoReconnect(false).
		SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).
		// One message at a time, in the order they arrive, so the tally's
		// reordering is the broker's and the gateway's, not the handler's.
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s.cur.Load().add(m.Topic(), m.Payload(), time.Now())
		}).
		SetConnectionLostHandler(func(c mqtt.Client, _ error) { s.connect(c) })
	s.c = mqtt.NewClient(opts)
	go s.connect(s.c)
	select {
	case err := <-s.up:
		if err != nil {
			s.close()
			return nil, fmt.Errorf("subscribing to %s on %s: %w", upFilter, brokerURL, err)
		}
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		s.close()
		return nil, fmt.Errorf("subscriber: no subscription to %s on %s within 10s", upFilter, brokerURL)
	}
	return s, nil
}

// connect connects c, retrying until the broker answers or close is
// called, counts a session the broker did not keep, and subscribes again.
// It reports the outcome of the first subscription on s.up.
func (s *subscriber) connect(c mqtt.Client) {
	tok := c.Connect()
	tok.Wait()
	if err := tok.Error(); err != nil { // close was called while retrying
		s.report(err)
		return
	}
	if s.connects.Add(1) > 1 && !tok.(*mqtt.ConnectToken).SessionPresent() {
		s.sessionLost.Add(1)
	}
	sub := c.Subscribe(upFilter, 1, nil)
	sub.Wait()
	s.report(sub.Error())
}

func (s *subscriber) report(err error) {
	select {
	case s.up <- err:
	default:
	}
}

// count starts counting the boards whose IDs begin with tag, from now.
func (s *subscriber) count(tag string) *tally {
	t := newTally(tag)
	s.cur.Store(t)
	return t
}

func (s *subscriber) close() { s.c.Disconnect(1000) }

// tally is what one measurement's boards delivered, as the subscriber saw it.
type tally struct {
	tag string

	arrived atomic.Uint64 // distinct (board, seq) pairs
	last    atomic.Int64  // UnixNano of the latest arrival

	mu        sync.Mutex
	boards    map[string]*seqs
	dups      uint64
	reordered uint64 // arrived after a higher sequence number of its board
	misrouted uint64 // on a topic not naming the board in the payload
	latency   *load.Histogram
}

// seqs is the set of sequence numbers (from 1) seen for one board.
type seqs struct {
	bits []uint64
	max  uint64
}

func newTally(tag string) *tally {
	return &tally{tag: tag, boards: map[string]*seqs{}, latency: load.NewHistogram()}
}

// add counts one message: "ID SEQ DUE_UNIXNANO PADDING".
func (t *tally) add(topic string, payload []byte, now time.Time) {
	id, rest, _ := bytes.Cut(payload, []byte(" "))
	if !bytes.HasPrefix(id, []byte(t.tag)) {
		return // another measurement's straggler
	}
	seqField, rest, _ := bytes.Cut(rest, []byte(" "))
	dueField, _, _ := bytes.Cut(rest, []byte(" "))
	seq, err1 := strconv.ParseUint(string(seqField), 10, 64)
	due, err2 := strconv.ParseInt(string(bytes.TrimSpace(dueField)), 10, 64)
	if err1 != nil || err2 != nil || seq == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !strings.Contains(topic, "/"+string(id)+"/") {
		t.misrouted++
	}
	b := t.boards[string(id)]
	if b == nil {
		b = &seqs{}
		t.boards[string(id)] = b
	}
	w, bit := (seq-1)/64, uint64(1)<<((seq-1)%64)
	for uint64(len(b.bits)) <= w {
		b.bits = append(b.bits, 0)
	}
	if b.bits[w]&bit != 0 {
		t.dups++
		return
	}
	b.bits[w] |= bit
	if seq < b.max {
		t.reordered++
	}
	b.max = max(b.max, seq)
	t.latency.Record(now.Sub(time.Unix(0, due)))
	t.arrived.Add(1)
	t.last.Store(now.UnixNano())
}

// missing counts, for each board, the sequence numbers 1..upTo[board] that
// never arrived.
func (t *tally) missing(upTo map[string]uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n uint64
	for id, last := range upTo {
		b := t.boards[id]
		for seq := uint64(1); seq <= last; seq++ {
			w, bit := (seq-1)/64, uint64(1)<<((seq-1)%64)
			if b == nil || w >= uint64(len(b.bits)) || b.bits[w]&bit == 0 {
				n++
			}
		}
	}
	return n
}

func (t *tally) duplicates() (dups, reordered, misrouted uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dups, t.reordered, t.misrouted
}

// settle waits until want messages have arrived, or none has arrived for
// quiet, or limit passes, whichever is first.
func (t *tally) settle(ctx context.Context, want uint64, quiet, limit time.Duration) {
	deadline := time.Now().Add(limit)
	start := time.Now()
	for ctx.Err() == nil && time.Now().Before(deadline) && t.arrived.Load() < want {
		last := time.Unix(0, t.last.Load())
		if last.Before(start) {
			last = start
		}
		if time.Since(last) > quiet {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gaps describes, for up to five boards, which sequence numbers in
// 1..upTo[board] never arrived, as ranges: "m5b0001: 9-16, 20".
func (t *tally) gaps(upTo map[string]uint64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for id, last := range upTo {
		b := t.boards[id]
		has := func(seq uint64) bool {
			w, bit := (seq-1)/64, uint64(1)<<((seq-1)%64)
			return b != nil && w < uint64(len(b.bits)) && b.bits[w]&bit != 0
		}
		var ranges []string
		for seq := uint64(1); seq <= last; seq++ {
			if has(seq) {
				continue
			}
			from := seq
			for seq < last && !has(seq+1) {
				seq++
			}
			if from == seq {
				ranges = append(ranges, strconv.FormatUint(from, 10))
			} else {
				ranges = append(ranges, fmt.Sprintf("%d-%d", from, seq))
			}
		}
		if len(ranges) > 0 && len(out) < 5 {
			out = append(out, id+": "+strings.Join(ranges, ", "))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}
