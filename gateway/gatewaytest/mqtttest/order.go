package mqtttest

import (
	"fmt"
	"strconv"
	"strings"
)

// Order is what CheckOrder found.
type Order struct {
	// Next is, for each board, the number of its lines that arrived
	// (lines 0..Next-1, each at least once).
	Next       map[string]int64
	Lines      int // distinct lines
	Duplicates int // lines that arrived again
	Replays    int // runs of lines sent again after a restart
}

// CheckOrder checks the board lines "ID SEQ[ ...]" published on
// P/G/ID/up, in the order they arrived, board by board: each new line is
// the next of its board; a line may arrive again right after itself (at
// least once: the broker's PUBACK was lost, the line was queued and sent
// again), but once line n has arrived no line below n arrives, except in
// a replay: a run m, m+1, ... of lines sent again, in their order, from
// the first one not known to be delivered. A gatewayd killed sends again
// what its queue had not marked delivered; one whose connection was lost
// sends again every line that was in flight on it. replays is how many
// such runs a board may show (the kills and lost connections of the
// test). Messages on other topics are ignored.
func CheckOrder(msgs []Message, replays int) (Order, error) {
	o := Order{Next: map[string]int64{}}
	type state struct {
		replay int64 // the next line of a replay in progress; -1: none
		runs   int
	}
	st := map[string]*state{}
	for _, m := range msgs {
		if !strings.HasSuffix(m.Topic, "/up") {
			continue
		}
		f := strings.Fields(m.Payload)
		if len(f) < 2 {
			return o, fmt.Errorf("bad payload %q on %s", m.Payload, m.Topic)
		}
		id := f[0]
		seq, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return o, fmt.Errorf("bad payload %q on %s", m.Payload, m.Topic)
		}
		if !strings.HasSuffix(m.Topic, "/"+id+"/up") {
			return o, fmt.Errorf("line %q on topic %s, want one ending in /%s/up", m.Payload, m.Topic, id)
		}
		s := st[id]
		if s == nil {
			s = &state{replay: -1}
			st[id] = s
		}
		next := o.Next[id]
		switch {
		case seq == next:
			s.replay = -1
			o.Next[id]++
			o.Lines++
		case seq > next:
			return o, fmt.Errorf("board %s: line %d arrived when %d was next: out of order or lost", id, seq, next)
		case seq == s.replay:
			s.replay++
			o.Duplicates++
		case seq == next-1:
			s.replay = -1
			o.Duplicates++
		case s.runs < replays:
			s.runs++
			o.Replays++
			s.replay = seq + 1
			o.Duplicates++
		default:
			return o, fmt.Errorf("board %s: line %d arrived after line %d: out of order", id, seq, next-1)
		}
	}
	return o, nil
}
