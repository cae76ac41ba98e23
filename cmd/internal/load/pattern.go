package load

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// blockLen is the length of the shared random block messages are cut from.
// Odd, so that long messages do not repeat with a power-of-two period.
const blockLen = 64<<10 - 1

// randomBlock is generated once per process and only read afterwards.
var randomBlock = sync.OnceValue(func() []byte {
	b := make([]byte, blockLen)
	var r rand.ChaCha8
	_, _ = r.Read(b) // ChaCha8.Read never fails
	return b
})

// pattern makes a fresh message each time without the cost of generating
// Size random bytes: a copy of the shared random block from a random offset,
// whose first eight bytes are then mixed with a new random word. Two
// consecutive messages therefore differ, so a stale or repeated echo is
// caught, and filling a message costs a memmove.
type pattern struct {
	block []byte
	state uint64 // xorshift64, never zero
	lines bool
}

func newPattern(seed uint64, lines bool) *pattern {
	if seed == 0 {
		seed = 0x9e3779b97f4a7c15
	}
	return &pattern{block: randomBlock(), state: seed, lines: lines}
}

func (p *pattern) next() uint64 {
	x := p.state
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	p.state = x
	return x
}

// fill writes the next message into msg.
func (p *pattern) fill(msg []byte) {
	off := int(p.next() % uint64(len(p.block)))
	n := copy(msg, p.block[off:])
	for n < len(msg) {
		n += copy(msg[n:], p.block)
	}
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], p.next())
	for i := 0; i < len(msg) && i < len(w); i++ {
		msg[i] ^= w[i]
	}
	if p.lines {
		rest := msg[:len(msg)-1]
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			rest[i] = '\n' | 0x80
			rest = rest[i+1:]
		}
		msg[len(msg)-1] = '\n'
		// In a board session (-hello) a line that starts with "!" is a
		// control line, answered "!err unknown-command" instead of its
		// echo, and the connection would wait for an echo that never
		// comes: about one message in 256 did.
		if msg[0] == '!' {
			msg[0] |= 0x80
		}
	}
}

// differing counts the positions at which a and b, of equal length, differ.
func differing(a, b []byte) uint64 {
	var n uint64
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
