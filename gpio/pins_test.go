package gpio

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	periphgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// recPin is a gpiotest.Pin that records every write with its time, and can
// be made to fail or to hang, as a broken GPIO line would.
type recPin struct {
	*gpiotest.Pin

	fail atomic.Pointer[error] // non-nil: Out returns it

	// block, when set, makes Out wait until it is closed; entered is
	// signalled (without blocking) each time Out starts waiting.
	block   atomic.Pointer[chan struct{}]
	entered chan struct{}

	mu     sync.Mutex
	writes []write
}

var _ periphgpio.PinOut = &recPin{}

type write struct {
	at    time.Time
	level periphgpio.Level
}

func newRecPin(name string) *recPin {
	return &recPin{Pin: &gpiotest.Pin{N: name, Num: -1, Fn: "Out"}, entered: make(chan struct{}, 1)}
}

func (p *recPin) Out(l periphgpio.Level) error {
	if ch := p.block.Load(); ch != nil {
		select {
		case p.entered <- struct{}{}:
		default:
		}
		<-*ch
	}
	if err := p.fail.Load(); err != nil {
		return *err
	}
	at := time.Now()
	p.mu.Lock()
	p.writes = append(p.writes, write{at, l})
	p.mu.Unlock()
	return p.Pin.Out(l)
}

func (p *recPin) failWith(err error) {
	if err == nil {
		p.fail.Store(nil)
		return
	}
	p.fail.Store(&err)
}

// hang makes the next writes wait until the returned function is called.
func (p *recPin) hang() (release func()) {
	ch := make(chan struct{})
	p.block.Store(&ch)
	return func() {
		p.block.Store(nil)
		close(ch)
	}
}

// history returns a copy of every write so far.
func (p *recPin) history() []write {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]write(nil), p.writes...)
}

func (p *recPin) numWrites() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.writes)
}

// lit says whether the LED on p is lit, given its polarity.
func (p *recPin) lit(activeLow bool) bool {
	return bool(p.Read()) != activeLow
}

// spell is a stretch of time during which an LED kept one state.
type spell struct {
	lit        bool
	start, end time.Time
}

func (s spell) length() time.Duration { return s.end.Sub(s.start) }

// spells turns writes into the LED's complete lit and dark spells: runs of
// writes of one level, from the first write of a level to the first write
// of the other. The last, unfinished spell is left out.
func spells(ws []write, activeLow bool) []spell {
	var out []spell
	for i := 0; i < len(ws); {
		j := i + 1
		for j < len(ws) && ws[j].level == ws[i].level {
			j++
		}
		if j == len(ws) {
			break
		}
		out = append(out, spell{lit: bool(ws[i].level) != activeLow, start: ws[i].at, end: ws[j].at})
		i = j
	}
	return out
}

// transitionsToLit counts the writes that lit the LED when it was dark.
func transitionsToLit(ws []write, activeLow bool) int {
	n := 0
	for i, w := range ws {
		lit := bool(w.level) != activeLow
		if lit && (i == 0 || bool(ws[i-1].level) == activeLow) {
			n++
		}
	}
	return n
}

var errBroken = errors.New("line broken")
