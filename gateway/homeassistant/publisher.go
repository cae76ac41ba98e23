package homeassistant

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
)

// Broker is what the Publisher needs of the MQTT bridge.
type Broker interface {
	// Publish sends payload on topic at QoS 1, retained or not, and
	// returns once the broker acknowledged it; an error when it did not
	// (the broker is unreachable, ctx ended). It queues nothing.
	Publish(ctx context.Context, topic string, retained bool, payload []byte) error
	// Subscribe calls handler with each message on filter, from now on and
	// after every reconnect. handler must return at once.
	Subscribe(filter string, handler func(topic string, payload []byte)) error
}

// ErrDiscoveryOff is returned by Forget when mqtt.homeassistant is off.
var ErrDiscoveryOff = errors.New("homeassistant: discovery is off (mqtt.homeassistant: false)")

// Options configure a Publisher.
type Options struct {
	Names Names
	// Discovery publishes the discovery configs (mqtt.homeassistant);
	// without it only the state JSON is published.
	Discovery bool
	// FW returns a connected board's fw=, "" if unknown. Nil: none. It is
	// called from the Publisher's own goroutines, never under its lock.
	FW     func(board string) string
	Logger *slog.Logger
	// RetryWait is the pause before a board's messages are tried again
	// after the broker refused or was away; 0 means a second.
	RetryWait time.Duration
}

// publishers is how many boards' messages are on their way at once: the
// broker's round trip bounds each, not the CPU.
const publishers = 4

// Publisher is the Uplink in front of the bridge that also publishes, on
// the side, each state line's JSON and the discovery configs of the boards.
// The line itself goes to the bridge first, unchanged, and its receipt
// waits for the bridge alone: a state message is a view of a line already
// safe on P/G/B/up, published after it, at QoS 1 but never queued on disk.
//
// A board's messages are published in order by one goroutine at a time:
// configs before the state that needs them. While the broker is away or
// slow, only a board's latest state waits (the older ones are replaced:
// Home Assistant shows the latest), so memory stays one state per board.
type Publisher struct {
	next   gateway.Uplink
	broker Broker
	opt    Options
	log    *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond // signalled when ready grows or at Close
	names  Names      // opt.Names, or those of Rename
	boards map[string]*known
	work   map[string]*pending // "" is the gateway itself
	ready  []string
	closed bool

	stats struct{ states, replaced, configs, failures atomic.Uint64 }
}

// known is what the Publisher remembers of a board.
type known struct {
	fw        string
	keys      []string
	announced bool // its configs are on their way since the last hello
}

// pending is a board's messages waiting to be published.
type pending struct {
	remove   []string // config topics to empty (forget)
	announce bool     // every config of the board
	newKeys  []string // the sensor configs of these keys
	state    []byte
	busy     bool // a goroutine is publishing them
	queued   bool // in ready
}

func (w *pending) empty() bool {
	return len(w.remove) == 0 && !w.announce && len(w.newKeys) == 0 && w.state == nil
}

// NewPublisher starts a Publisher sending lines to next and its own
// messages to broker. With discovery on it announces the gateway, and
// subscribes to DISCOVERY/status, to announce every board again when Home
// Assistant comes online, and to DISCOVERY/sensor/+/+/config, to learn
// from the retained configs of this gateway the keys of boards announced
// by an earlier run (so that Forget removes their sensors too). MQTT
// cannot filter on part of a level, so the broker sends every retained
// sensor config at each connect, other integrations' too; they are read
// and dropped, once per connect.
func NewPublisher(next gateway.Uplink, broker Broker, opt Options) (*Publisher, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.RetryWait <= 0 {
		opt.RetryWait = time.Second
	}
	p := &Publisher{next: next, broker: broker, opt: opt, log: opt.Logger, names: opt.Names,
		boards: map[string]*known{}, work: map[string]*pending{}}
	p.cond = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if opt.Discovery {
		n := opt.Names
		if err := broker.Subscribe(n.StatusTopic(), p.haStatus); err != nil {
			return nil, err
		}
		if err := broker.Subscribe(n.DiscoveryPrefix+"/sensor/+/+/config", p.retainedSensor); err != nil {
			return nil, err
		}
		p.mu.Lock()
		p.pending("").announce = true
		p.schedule("")
		p.mu.Unlock()
	}
	p.wg.Add(publishers)
	for range publishers {
		go p.run()
	}
	return p, nil
}

// Send hands line to the bridge and, once the bridge has made it safe,
// publishes its state JSON and any config it calls for. Its error and
// done's are the bridge's: the receipt depends on nothing else.
func (p *Publisher) Send(ctx context.Context, board string, line []byte, done func(error)) error {
	pairs, perr := ParseState(line) // line is valid only during Send
	return p.next.Send(ctx, board, line, func(err error) {
		if err == nil {
			p.taken(board, pairs, perr)
		}
		done(err)
	})
}

// taken queues the state JSON and the new configs of a line the bridge
// made safe. It must not block: it runs as the bridge's done.
func (p *Publisher) taken(board string, pairs []Pair, perr error) {
	var state []byte
	if perr == nil {
		state = StateJSON(pairs)
	}
	if state == nil && !p.opt.Discovery {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	w := p.pending(board)
	if p.opt.Discovery {
		k := p.known(board)
		if !k.announced {
			k.announced = true
			k.keys, _ = AddKeys(k.keys, pairs)
			w.announce = true
		} else {
			for _, pr := range pairs {
				if !slices.Contains(k.keys, pr.Key) {
					k.keys = append(k.keys, pr.Key)
					w.newKeys = append(w.newKeys, pr.Key)
				}
			}
		}
	}
	if state != nil {
		if w.state != nil {
			p.stats.replaced.Add(1)
		}
		w.state = state
	}
	p.schedule(board)
}

// BoardUp announces board's configs, with its fw= as it is now. Call it
// at each hello: it returns at once, and may be called under the board
// registry's lock.
func (p *Publisher) BoardUp(board string) {
	if !p.opt.Discovery {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.known(board).announced = true
	p.pending(board).announce = true
	p.schedule(board)
}

// Forget removes board's discovery configs from the broker (empty
// retained messages) and forgets its keys. A board still sending is
// announced again by its next line or hello.
func (p *Publisher) Forget(board string) error {
	if !p.opt.Discovery {
		return ErrDiscoveryOff
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	if k := p.boards[board]; k != nil {
		keys = k.keys
	}
	delete(p.boards, board)
	w := p.pending(board)
	w.announce, w.newKeys, w.state = false, nil, nil
	w.remove = append(w.remove, p.names.BoardTopics(Board{ID: board, Keys: keys})...)
	p.schedule(board)
	return nil
}

// Rename moves state and discovery to new topic prefix and gateway ID
// (a reload changed them) and announces everything again under them. The
// configs under the old names stay on the broker: forget the boards
// first to remove them. The discovery prefix cannot change: its
// subscriptions were made at start.
func (p *Publisher) Rename(topicPrefix, gatewayID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || (p.names.TopicPrefix == topicPrefix && p.names.GatewayID == gatewayID) {
		return
	}
	p.names.TopicPrefix, p.names.GatewayID = topicPrefix, gatewayID
	if p.opt.Discovery {
		p.announceAll()
	}
}

// announceAll marks the gateway and every board known to be announced
// again; p.mu is held.
func (p *Publisher) announceAll() {
	p.pending("").announce = true
	p.schedule("")
	for id := range p.boards {
		p.pending(id).announce = true
		p.schedule(id)
	}
}

// Stats are the Publisher's counters.
type Stats struct {
	States   uint64 // state messages acknowledged by the broker
	Replaced uint64 // states replaced by a newer one before they were sent
	Configs  uint64 // discovery configs (and removals) acknowledged
	Failures uint64 // publishes that failed, to be tried again
}

func (p *Publisher) Stats() Stats {
	return Stats{States: p.stats.states.Load(), Replaced: p.stats.replaced.Load(),
		Configs: p.stats.configs.Load(), Failures: p.stats.failures.Load()}
}

// Close stops publishing; what is pending is dropped. Lines still go to
// the bridge: stop the server first.
func (p *Publisher) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// haStatus is DISCOVERY/status: Home Assistant (re)started and asks for
// every config again.
func (p *Publisher) haStatus(_ string, payload []byte) {
	if string(payload) != "online" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.announceAll()
}

// retainedSensor learns, from a retained sensor config of this gateway's,
// that its board has sent its key.
func (p *Publisher) retainedSensor(topic string, payload []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	board, key, ok := parseRetainedSensor(p.names, topic, payload)
	if !ok {
		return
	}
	k := p.known(board)
	if !slices.Contains(k.keys, key) {
		k.keys = append(k.keys, key)
	}
}

// parseRetainedSensor reads a message on DISCOVERY/sensor/NODE/KEY/config:
// it is this gateway's config of board's sensor key when its state topic
// is P/G/B/state and NODE is NodeID(G, B). Anything else on the broker,
// other gateways' and other integrations' configs among it, is not ok.
func parseRetainedSensor(n Names, topic string, payload []byte) (board, key string, ok bool) {
	levels := strings.Split(topic, "/")
	if len(payload) == 0 || len(levels) < 5 || levels[len(levels)-1] != "config" {
		return "", "", false
	}
	node, key := levels[len(levels)-3], levels[len(levels)-2]
	var cfg struct {
		StateTopic string `json:"state_topic"`
	}
	if json.Unmarshal(payload, &cfg) != nil || !ValidKey(key) {
		return "", "", false
	}
	board, ok1 := strings.CutPrefix(cfg.StateTopic, n.TopicPrefix+"/"+n.GatewayID+"/")
	board, ok2 := strings.CutSuffix(board, "/state")
	if !ok1 || !ok2 || board == "" || strings.Contains(board, "/") || NodeID(n.GatewayID, board) != node {
		return "", "", false
	}
	return board, key, true
}

// known and pending return board's entries, made if missing; p.mu is held.
func (p *Publisher) known(board string) *known {
	k := p.boards[board]
	if k == nil {
		k = &known{}
		p.boards[board] = k
	}
	return k
}

func (p *Publisher) pending(board string) *pending {
	w := p.work[board]
	if w == nil {
		w = &pending{}
		p.work[board] = w
	}
	return w
}

// schedule puts board in the ready queue unless it is there or being
// published; p.mu is held.
func (p *Publisher) schedule(board string) {
	w := p.work[board]
	if w.busy || w.queued || w.empty() {
		return
	}
	w.queued = true
	p.ready = append(p.ready, board)
	p.cond.Signal()
}

// run publishes ready boards' messages until Close.
func (p *Publisher) run() {
	defer p.wg.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for len(p.ready) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed {
			return
		}
		board := p.ready[0]
		p.ready = p.ready[1:]
		w := p.work[board]
		w.queued, w.busy = false, true
		job := *w
		w.remove, w.announce, w.newKeys, w.state = nil, false, nil, nil
		var b Board
		if k := p.boards[board]; k != nil {
			b = Board{ID: board, FW: k.fw, Keys: slices.Clone(k.keys)}
		}
		names := p.names
		p.mu.Unlock()
		left, fw := p.publish(names, board, b, job)
		p.mu.Lock()
		if k := p.boards[board]; k != nil && fw != "" {
			k.fw = fw
		}
		if left != nil {
			// Not sent: put back, behind nothing newer.
			w.remove = append(left.remove, w.remove...)
			w.announce = w.announce || left.announce
			w.newKeys = append(left.newKeys, w.newKeys...)
			if w.state == nil {
				w.state = left.state
			}
			p.mu.Unlock()
			select {
			case <-p.ctx.Done():
			case <-time.After(p.opt.RetryWait):
			}
			p.mu.Lock()
		}
		// Busy until after the retry wait, so that a line coming in
		// meanwhile does not hand the board to another worker at once:
		// one try per RetryWait while the broker is away, not one a line.
		w.busy = false
		if w.empty() && !w.busy && !w.queued {
			delete(p.work, board)
		} else {
			p.schedule(board)
		}
	}
}

// publish sends job's messages in order: removals, configs, state. It
// returns what was not sent (nil if all was) and the board's fw= if it
// looked it up.
func (p *Publisher) publish(n Names, board string, b Board, job pending) (left *pending, fw string) {
	fail := func(topic string, err error) {
		p.stats.failures.Add(1)
		p.log.Debug("homeassistant: not published yet", "topic", topic, "err", err)
	}
	for i, topic := range job.remove {
		if err := p.broker.Publish(p.ctx, topic, true, nil); err != nil {
			fail(topic, err)
			job.remove = job.remove[i:]
			return &job, ""
		}
		p.stats.configs.Add(1)
	}
	job.remove = nil
	var configs []Config
	switch {
	case board == "" && job.announce:
		configs = n.GatewayConfigs()
	case board == "" || b.ID == "":
		// The gateway with nothing to announce, or a board forgotten
		// since: no configs.
	default:
		if p.opt.FW != nil {
			if fw = p.opt.FW(board); fw != "" {
				b.FW = fw
			}
		}
		if job.announce {
			configs = n.BoardConfigs(b)
		} else {
			for _, key := range job.newKeys {
				configs = append(configs, n.SensorConfig(b, key))
			}
		}
	}
	for _, c := range configs {
		if err := p.broker.Publish(p.ctx, c.Topic, true, c.Payload); err != nil {
			fail(c.Topic, err)
			return &job, fw // all of them again: configs are idempotent
		}
		p.stats.configs.Add(1)
	}
	job.announce, job.newKeys = false, nil
	if job.state != nil {
		topic := n.StateTopic(board)
		if err := p.broker.Publish(p.ctx, topic, false, job.state); err != nil {
			fail(topic, err)
			return &job, fw
		}
		p.stats.states.Add(1)
	}
	return nil, fw
}
