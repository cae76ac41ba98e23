package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/board"
	"github.com/gatewayd/gatewayd/gateway/daemon/httpd"
)

// Bounds that keep one stuck or greedy client of the socket from holding
// the daemon's resources.
const (
	maxConns     = 16
	maxBodyBytes = 64 << 10
)

// Server answers the control API from the functions it is given. All three
// must be set before Serve; each is called on an HTTP handler's goroutine.
type Server struct {
	Status  func() Status
	Boards  func() []gateway.BoardInfo
	Deliver func(id string, payload []byte) error
	// Reload reads the configuration file again and applies it, returning
	// every problem when the file is bad (and nothing was changed). Nil
	// means the daemon cannot reload: POST /v1/reload answers 501.
	Reload func(ctx context.Context) error
	// DeadLetters lists the lines the broker refused; nil without a
	// bridge.
	DeadLetters func() ([]DeadLetter, error)
	// Forget removes a board's Home Assistant discovery configs. Nil
	// means discovery is off: POST /v1/boards/ID/forget answers 409.
	Forget func(id string) error
	// Logger receives the HTTP server's own errors at warn. Nil means
	// slog.Default().
	Logger *slog.Logger

	mu   sync.Mutex
	http *httpd.Server
}

// Handler is the API, for Serve and for tests.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("GET /v1/boards", func(w http.ResponseWriter, _ *http.Request) {
		infos := s.Boards()
		out := make([]Board, len(infos))
		for i, b := range infos {
			out[i] = BoardFrom(b)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /v1/boards/{id}/messages", s.deliver)
	mux.HandleFunc("POST /v1/reload", s.reload)
	mux.HandleFunc("GET /v1/mqtt/dead-letters", s.deadLetters)
	mux.HandleFunc("POST /v1/boards/{id}/forget", s.forget)
	return mux
}

func (s *Server) deliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !board.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad board ID %q: 1 to %d characters of A-Z a-z 0-9 . _ -", id, board.MaxIDBytes))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		writeError(w, http.StatusUnsupportedMediaType, "send the message as Content-Type: text/plain")
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a message is at most %d bytes", maxBodyBytes))
		return
	}
	// One line: a single trailing LF, as `echo` and files leave it, is
	// taken as its end.
	if n := len(payload); n > 0 && payload[n-1] == '\n' {
		payload = payload[:n-1]
	}
	err = s.Deliver(id, payload)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, gateway.ErrNoSuchBoard):
		writeError(w, http.StatusNotFound, fmt.Sprintf("board %q is not connected", id))
	case errors.Is(err, gateway.ErrBadPayload):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, gateway.ErrWriteTimeout):
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("board %q stopped reading and was dropped", id))
	default:
		writeError(w, http.StatusBadGateway, err.Error())
	}
}

// forget removes a board's Home Assistant configs; the board need not be
// connected, so a dead one can go.
func (s *Server) forget(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !board.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad board ID %q: 1 to %d characters of A-Z a-z 0-9 . _ -", id, board.MaxIDBytes))
		return
	}
	if s.Forget == nil {
		writeError(w, http.StatusConflict, "Home Assistant discovery is off (mqtt.homeassistant: false): there is nothing to forget")
		return
	}
	if err := s.Forget(id); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// reload answers once the reload is done, so that `systemctl reload`
// (ExecReload=gatewayctl reload) fails, with the problems, on a bad file.
func (s *Server) deadLetters(w http.ResponseWriter, _ *http.Request) {
	if s.DeadLetters == nil {
		writeError(w, http.StatusNotFound, "the MQTT bridge is off (mqtt.broker is empty)")
		return
	}
	dl, err := s.DeadLetters()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if dl == nil {
		dl = []DeadLetter{}
	}
	writeJSON(w, http.StatusOK, dl)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.Reload == nil {
		writeError(w, http.StatusNotImplemented, "this gatewayd cannot reload over the control socket")
		return
	}
	if err := s.Reload(r.Context()); err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, apiError{Error: msg})
}

// Serve answers the API on l until Shutdown, then returns nil. At most
// maxConns clients are served at once; the rest wait in the backlog.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.http != nil {
		s.mu.Unlock()
		return errors.New("control: Serve called twice")
	}
	s.http = &httpd.Server{
		Handler:  s.Handler(),
		Logger:   s.Logger,
		MaxConns: maxConns,
		// A delivery waits at most the write timeout for a slow board,
		// and a reload for the LED worker to hand over its pins.
		WriteTimeout: time.Minute,
		IdleTimeout:  time.Minute,
	}
	hs := s.http
	s.mu.Unlock()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops Serve, letting requests in progress finish until ctx
// ends, and closes the listener, which removes the socket file.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	hs := s.http
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	return hs.Shutdown(ctx)
}
