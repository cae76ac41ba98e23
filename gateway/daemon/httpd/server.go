package httpd

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// The defaults suit a scrape or a control call: small requests, small
// answers, a client on the same host or LAN.
const (
	DefaultMaxConns          = 32
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
)

// Server is an http.Server with its limits always set. Its zero value
// serves http.DefaultServeMux with the defaults above; set the fields
// before Serve.
type Server struct {
	Handler http.Handler
	// Logger receives net/http's own complaints (bad requests, TLS
	// errors) at warn level; nil is slog's default logger.
	Logger *slog.Logger

	// MaxConns bounds the connections held at once; beyond it new ones
	// wait in the kernel's backlog, taking no descriptor of ours, until
	// one closes. 0 is DefaultMaxConns.
	MaxConns int
	// ReadHeaderTimeout bounds a request's header from the moment the
	// connection is ready to read; ReadTimeout the whole request, body
	// included; WriteTimeout the request and its answer; IdleTimeout the
	// wait for a keep-alive connection's next request. 0 is the default.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	once sync.Once
	hs   *http.Server
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Server) http() *http.Server {
	s.once.Do(func() {
		log := s.Logger
		if log == nil {
			log = slog.Default()
		}
		s.hs = &http.Server{
			Handler:           s.Handler,
			ReadHeaderTimeout: orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
			ReadTimeout:       orDefault(s.ReadTimeout, DefaultReadTimeout),
			WriteTimeout:      orDefault(s.WriteTimeout, DefaultWriteTimeout),
			IdleTimeout:       orDefault(s.IdleTimeout, DefaultIdleTimeout),
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	})
	return s.hs
}

// Serve accepts connections on l, at most MaxConns at a time, until
// Shutdown or Close; then it returns http.ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error {
	n := s.MaxConns
	if n <= 0 {
		n = DefaultMaxConns
	}
	return s.http().Serve(LimitListener(l, n))
}

// Shutdown stops accepting, closes idle connections and waits for active
// ones until ctx is done; then it closes what is left. Serve returns once
// it is called.
func (s *Server) Shutdown(ctx context.Context) error {
	hs := s.http()
	err := hs.Shutdown(ctx)
	if err != nil {
		hs.Close()
	}
	return err
}
