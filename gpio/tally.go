package gpio

import (
	"math/rand/v2"
	"sync/atomic"
)

// tally counts events by kind for Rig.Notify, which every connection's
// goroutine calls once per message. One shared counter would make busy
// connections on different cores fight over its cache line on every
// message, which is the contention gateway keeps its own counters per
// connection to avoid. So the count is spread over stripes, each on a
// cache line of its own, picked at random per call (math/rand/v2's
// top-level functions use per-thread state and take no lock), and summed
// when read.
type tally struct {
	stripes [tallyStripes]tallyStripe
}

const tallyStripes = 16 // a power of two, at least the cores of a Pi 4 or 5 with room to spare

type tallyStripe struct {
	n [numEvents]atomic.Uint64
	// Pad to 128 bytes: a whole cache line plus its neighbour, which
	// some CPUs prefetch as a pair.
	_ [128 - numEvents*8]byte
}

func (t *tally) add(e Event) {
	t.stripes[rand.Uint32()&(tallyStripes-1)].n[e].Add(1)
}

func (t *tally) load(e Event) uint64 {
	var sum uint64
	for i := range t.stripes {
		sum += t.stripes[i].n[e].Load()
	}
	return sum
}
