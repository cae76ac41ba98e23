package gpio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrWorkerStuck means the LED worker did not stop within
// RigOptions.HaltTimeout: a GPIO write is hanging. The LEDs it drives stay
// as they are until the process exits.
var ErrWorkerStuck = errors.New("gpio: the LED worker is stuck in a pin write; restart gatewayd")

// DefaultHaltTimeout is how long Apply and Close wait for the LED worker
// to stop when RigOptions.HaltTimeout is zero.
const DefaultHaltTimeout = 2 * time.Second

// Rig is a running daemon's LEDs: the Board holding the lines, the
// Controller driving them, and the swap from one LED list to the next on
// reload. Notify and ClientsChanged only touch atomics, so the network
// path never waits on it; Apply, Totals and Close may be called from any
// goroutine.
type Rig struct {
	log         *slog.Logger
	healthy     func() error
	haltTimeout time.Duration
	open        func(Driver, []LED, *slog.Logger) (*Board, error) // Open, or a test's spy

	clients atomic.Int64
	// reloading is set while Apply swaps workers, when the old one has
	// stopped on purpose.
	reloading atomic.Bool
	run       atomic.Pointer[generation]

	mu     sync.Mutex // serialises Apply and Close, and guards the fields below
	board  *Board
	driver Driver // as asked for, so that auto is not resolved again on every Apply
	leds   []LED  // the running worker's, as bound to the board
	stop   context.CancelFunc
	before Totals // what the workers replaced by Apply did
	closed bool
}

// generation is one worker's life: its controller and the events the rig
// passed to it.
type generation struct {
	ctrl     *Controller
	notified tally
}

// RigOptions tune a Rig. The zero value is usable.
type RigOptions struct {
	// Healthy gates the heartbeat LEDs, as Options.Healthy does.
	Healthy func() error
	// Logger receives driver choices, failures and, for the sim driver,
	// every LED change. Nil means slog.Default().
	Logger *slog.Logger
	// HaltTimeout bounds the wait for a worker to stop on Apply or Close,
	// so that one stuck in a pin write holds up neither. Zero means
	// DefaultHaltTimeout.
	HaltTimeout time.Duration
}

// Totals are a Rig's counters since it was made, across every Apply.
type Totals struct {
	Changes uint64 // pin writes that succeeded
	Errors  uint64 // pin writes that failed
	// Coalesced counts events passed to Notify, for an LED that shows
	// them, that folded into one already pending instead of being shown
	// on their own.
	Coalesced uint64
}

func (t Totals) add(u Totals) Totals {
	return Totals{t.Changes + u.Changes, t.Errors + u.Errors, t.Coalesced + u.Coalesced}
}

// NewRig opens driver d, claims leds' lines and starts the LED worker,
// which drives them all off first. On error nothing stays claimed.
func NewRig(d Driver, leds []LED, opts RigOptions) (*Rig, error) {
	return rigOnBoard(nil, d, leds, opts)
}

// rigOnBoard is NewRig on board, when not nil, already opened for d: a test
// plants pins in it that the sim driver cannot provide.
func rigOnBoard(board *Board, d Driver, leds []LED, opts RigOptions) (*Rig, error) {
	r := &Rig{log: opts.Logger, healthy: opts.Healthy, haltTimeout: opts.HaltTimeout, open: Open, board: board, driver: d}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.haltTimeout <= 0 {
		r.haltTimeout = DefaultHaltTimeout
	}
	if err := validate(leds); err != nil {
		return nil, err
	}
	board, leds, pins, err := r.claim(d, leds)
	if err != nil {
		return nil, err
	}
	ctrl, err := r.controller(leds, pins)
	if err != nil {
		board.Close()
		return nil, err
	}
	r.start(board, d, leds, ctrl)
	return r, nil
}

// validate reports the first LED that a Controller would refuse, before
// any line is claimed or any worker stopped.
func validate(leds []LED) error {
	for _, l := range leds {
		if err := l.WithDefaults().Validate(); err != nil {
			return fmt.Errorf("gpio: led %q: %w", l.Name, err)
		}
	}
	return nil
}

// claim opens driver d (reusing the running board when the driver is
// unchanged) and claims leds' lines on it. On error the running LEDs are
// untouched and nothing new stays claimed. Driver none gets no LEDs.
func (r *Rig) claim(d Driver, leds []LED) (*Board, []LED, map[string]Output, error) {
	board := r.board
	if board == nil || d != r.driver {
		var err error
		if board, err = r.open(d, leds, r.log); err != nil {
			return nil, nil, nil, err
		}
	}
	if board.Driver() == DriverNone {
		leds = nil
	}
	pins, err := board.Claim(leds)
	if err != nil {
		if board != r.board {
			board.Close()
		}
		return nil, nil, nil, err
	}
	return board, leds, pins, nil
}

// unclaim releases what claim took for a swap that will not happen: the
// whole board if it is a new one, else the lines the running LEDs do not
// use.
func (r *Rig) unclaim(board *Board) {
	if board != r.board {
		board.Close()
		return
	}
	board.Keep(r.leds)
}

// controller builds the LED worker for leds, which drives them all off.
func (r *Rig) controller(leds []LED, pins map[string]Output) (*Controller, error) {
	return NewController(leds, pins, Options{
		Healthy: r.healthy,
		Clients: func() int { return int(r.clients.Load()) },
		Logger:  r.log,
	})
}

// start makes ctrl the running worker; r.mu is held or r is not yet
// shared.
func (r *Rig) start(board *Board, d Driver, leds []LED, ctrl *Controller) {
	ctx, cancel := context.WithCancel(context.Background())
	r.board, r.driver, r.leds, r.stop = board, d, leds, cancel
	if old := r.run.Load(); old != nil {
		r.before = r.before.add(old.totals())
	}
	r.run.Store(&generation{ctrl: ctrl})
	go ctrl.Run(ctx)
}

// Apply replaces the LEDs with leds on driver d. The new lines are
// claimed first: if that fails, the old LEDs keep working and the error
// says why. Only then is the old worker stopped (driving its LEDs off), so
// that no two workers ever write one line, and the new one started. If
// the old worker does not stop, Apply releases what it claimed and
// returns ErrWorkerStuck.
func (r *Rig) Apply(d Driver, leds []LED) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("gpio: LEDs applied after Close")
	}
	if err := validate(leds); err != nil {
		return err
	}
	board, leds, pins, err := r.claim(d, leds)
	if err != nil {
		return err
	}
	r.reloading.Store(true)
	defer r.reloading.Store(false)
	if !r.halt() {
		// The stuck worker may yet write its own lines; it is told to
		// stop, and the next Apply or Close waits for it again.
		r.unclaim(board)
		return ErrWorkerStuck
	}
	// Bound before the new controller drives them off, so that a reused
	// sim line logs that under its new LED.
	board.Bind(leds)
	ctrl, err := r.controller(leds, pins)
	if err != nil {
		// validate and claim rule this out; were it to happen, the old
		// LEDs are off and stay off, and their lines stay held.
		r.unclaim(board)
		return err
	}
	if board != r.board {
		r.board.Close()
	}
	board.Keep(leds)
	r.start(board, d, leds, ctrl)
	r.log.Info("LEDs applied", "driver", board.Driver().String(), "leds", len(leds))
	return nil
}

// halt stops the worker and waits until it has driven its LEDs off. It
// reports false if the worker did not stop within the halt timeout.
func (r *Rig) halt() bool {
	r.stop()
	t := time.NewTimer(r.haltTimeout)
	defer t.Stop()
	select {
	case <-r.run.Load().ctrl.Done():
		return true
	case <-t.C:
		r.log.Error("the LED worker did not stop; a GPIO write is hanging", "waited", r.haltTimeout)
		return false
	}
}

// Close drives every LED off and releases the lines. If the worker is
// stuck in a pin write it returns ErrWorkerStuck and leaves the lines
// held, since the worker may still write them.
func (r *Rig) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if !r.halt() {
		return ErrWorkerStuck
	}
	r.closed = true
	r.board.Close()
	return nil
}

// Notify passes e to the LED worker. It never blocks and is safe from any
// goroutine.
func (r *Rig) Notify(e Event) {
	g := r.run.Load()
	if g.ctrl.Shows(e) {
		g.notified.add(e)
	}
	g.ctrl.Notify(e)
}

// ClientsChanged adds delta (+1 on a connect, -1 on a disconnect) to the
// rig's count of connected clients, which LEDs on EventClients show. The
// count is the rig's own and survives Apply.
func (r *Rig) ClientsChanged(delta int) {
	r.clients.Add(int64(delta))
	r.run.Load().ctrl.ClientsChanged()
}

// Healthy reports nil while the LED worker is alive: not stopped, and not
// stuck in one step for longer than limit. While Apply swaps workers it
// reports nil.
func (r *Rig) Healthy(limit time.Duration) error {
	if r.reloading.Load() {
		return nil
	}
	ctrl := r.run.Load().ctrl
	select {
	case <-ctrl.Done():
		return errors.New("gpio: LED worker stopped")
	default:
	}
	return ctrl.Healthy(limit)
}

// Totals are the LED counters since the rig was made, across reloads.
func (r *Rig) Totals() Totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.before.add(r.run.Load().totals())
}

// totals counts what g's worker did with what the rig passed it.
func (g *generation) totals() Totals {
	// Taken first: every event taken was notified before, so the notified
	// count read after it is never the smaller.
	st := g.ctrl.Stats()
	t := Totals{Changes: st.Changes, Errors: st.Errors}
	for e := range numEvents {
		if n := g.notified.load(e); n > st.Taken[e] {
			t.Coalesced += n - st.Taken[e]
		}
	}
	return t
}
