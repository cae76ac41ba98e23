package statuspage

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

//go:embed assets
var assets embed.FS

// Source is where the page's figures come from. Status and Boards are
// required; the rest may be nil.
type Source struct {
	GatewayID string // the MQTT gateway ID, or the host name
	Version   string
	Started   time.Time
	Status    func() control.Status
	Boards    func() []gateway.BoardInfo
	// LastLine returns a board's last line as text (Tap.LastLine).
	LastLine func(board string) string
	// Interval is how often a snapshot is built and sent if it changed;
	// 0 means half a second.
	Interval time.Duration
}

// maxStreams bounds the pages open at once, each holding a connection;
// the metrics listener holds 32 (httpd.DefaultMaxConns).
const maxStreams = 8

// keepAlive is how long a page waits at most for a word from the server,
// so proxies and the page itself see the stream alive.
const keepAlive = 15 * time.Second

// Page is the status page's handler. Close ends the pages' streams, which
// otherwise last as long as the page is open: call it before shutting the
// HTTP server down.
type Page struct {
	src     Source
	mux     *http.ServeMux
	streams chan struct{} // a slot per open stream
	done    chan struct{}
	once    sync.Once

	mu    sync.Mutex
	built time.Time
	snap  []byte // the latest snapshot, without its time
}

// New returns the page for src.
func New(src Source) *Page {
	if src.Interval <= 0 {
		src.Interval = 500 * time.Millisecond
	}
	p := &Page{src: src, mux: http.NewServeMux(), streams: make(chan struct{}, maxStreams), done: make(chan struct{})}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	p.mux.Handle("GET /{$}", files)
	p.mux.Handle("GET /page.css", files)
	p.mux.Handle("GET /page.js", files)
	p.mux.HandleFunc("GET /events", p.events)
	p.mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, src.Status()) })
	p.mux.HandleFunc("GET /v1/boards", func(w http.ResponseWriter, _ *http.Request) {
		infos := src.Boards()
		out := make([]control.Board, len(infos))
		for i, b := range infos {
			out[i] = control.BoardFrom(b)
		}
		writeJSON(w, out)
	})
	return p
}

func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// The page loads nothing from elsewhere and runs only its own script.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	p.mux.ServeHTTP(w, r)
}

// Close ends every open stream; the pages see the connection go.
func (p *Page) Close() { p.once.Do(func() { close(p.done) }) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// snapshot is one event's data.
type snapshot struct {
	Gateway gatewayView `json:"gateway"`
	Broker  *brokerView `json:"broker"` // null without a bridge
	Boards  []boardView `json:"boards"`
	Time    *time.Time  `json:"time,omitempty"` // the server's clock, for the page's "ago"
}

type gatewayView struct {
	ID      string    `json:"id"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	Healthy bool      `json:"healthy"`
	Health  string    `json:"health"`
	Clients int       `json:"clients"`
}

type brokerView struct {
	Broker        string  `json:"broker"`
	Connected     bool    `json:"connected"`
	QueueMessages int64   `json:"queue_messages"`
	QueueBytes    int64   `json:"queue_bytes"`
	DeadLetters   *uint64 `json:"dead_letters"` // null: not counted
}

type boardView struct {
	control.Board
	LastLine string `json:"last_line"`
}

// current returns the latest snapshot, building it if the one held is
// older than the interval: one build serves every open page.
func (p *Page) current(now time.Time) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap != nil && now.Sub(p.built) < p.src.Interval/2 {
		return p.snap
	}
	st := p.src.Status()
	s := snapshot{Gateway: gatewayView{ID: p.src.GatewayID, Version: p.src.Version, Started: p.src.Started.UTC(),
		Healthy: st.Healthy, Health: st.Health, Clients: st.Clients}}
	if m := st.MQTT; m != nil {
		s.Broker = &brokerView{Broker: m.Broker, Connected: m.Connected, QueueMessages: m.QueueMessages, QueueBytes: m.QueueBytes}
		n := m.DeadLetters
		s.Broker.DeadLetters = &n
	}
	s.Boards = []boardView{}
	for _, b := range p.src.Boards() {
		v := boardView{Board: control.BoardFrom(b)}
		if p.src.LastLine != nil {
			v.LastLine = p.src.LastLine(b.ID)
		}
		s.Boards = append(s.Boards, v)
	}
	p.snap, _ = json.Marshal(s) // encoding/json escapes <, > and & too
	p.built = now
	return p.snap
}

// events is the server-sent event stream: a "snapshot" event whenever the
// snapshot changed, checked every interval, and a comment line after
// keepAlive of silence.
func (p *Page) events(w http.ResponseWriter, r *http.Request) {
	select {
	case p.streams <- struct{}{}:
		defer func() { <-p.streams }()
	default:
		http.Error(w, "too many status pages open", http.StatusServiceUnavailable)
		return
	}
	rc := http.NewResponseController(w)
	// The listener's read and write timeouts suit a scrape; a stream is
	// read once and written for as long as the page is open.
	rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	t := time.NewTicker(p.src.Interval)
	defer t.Stop()
	var last []byte
	var buf bytes.Buffer
	quiet := time.Now()
	write := func(now time.Time, msg []byte) bool {
		rc.SetWriteDeadline(now.Add(10 * time.Second))
		if _, err := w.Write(msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(time.Now(), []byte("retry: 2000\n\n")) {
		return
	}
	for {
		now := time.Now()
		snap := p.current(now)
		switch {
		case !bytes.Equal(snap, last):
			last = snap
			buf.Reset()
			buf.WriteString("event: snapshot\ndata: ")
			buf.Write(snap[:len(snap)-1]) // the closing brace: add the time
			ts, _ := now.UTC().MarshalJSON()
			buf.WriteString(`,"time":`)
			buf.Write(ts)
			buf.WriteString("}\n\n")
			if !write(now, buf.Bytes()) {
				return
			}
			quiet = now
		case now.Sub(quiet) >= keepAlive:
			if !write(now, []byte(": alive\n\n")) {
				return
			}
			quiet = now
		}
		select {
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		case <-t.C:
		}
	}
}
