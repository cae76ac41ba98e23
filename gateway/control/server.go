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
)

// Bounds that keep one stuck or greedy client of the socket from holding
// the daemon's resources.
const (
	maxConns       = 16
	maxBodyBytes   = 64 << 10
	maxHeaderBytes = 8 << 10
)

// Server answers the control API from the functions it is given. All three
// must be set before Serve; each is called on an HTTP handler's goroutine.
type Server struct {
	Status  func() Status
	Boards  func() []gateway.BoardInfo
	Deliver func(id string, payload []byte) error
	// Logger receives the HTTP server's own errors at warn. Nil means
	// slog.Default().
	Logger *slog.Logger

	mu   sync.Mutex
	http *http.Server
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
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A delivery waits at most the write timeout for a slow board.
		WriteTimeout:   time.Minute,
		IdleTimeout:    time.Minute,
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.http != nil {
		s.mu.Unlock()
		return errors.New("control: Serve called twice")
	}
	s.http = hs
	s.mu.Unlock()
	if err := hs.Serve(limitListener(l, maxConns)); !errors.Is(err, http.ErrServerClosed) {
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
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
		return err
	}
	return nil
}
