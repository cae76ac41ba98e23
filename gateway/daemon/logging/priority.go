package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// Priority is the sd-daemon(3) syslog priority journald files a line at
// when the line starts with "<N>": error 3, warn 4, info 6, debug 7. A
// level between two of slog's takes the priority of the one below it.
func Priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}

var priorityLevels = [...]slog.Level{slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug}

// priorityHandler sends each record to one of four inner handlers, one per
// priority, each writing through a prefixWriter with its "<N>". The slog
// handlers write a record in one Write, so the prefix starts exactly its
// line, and formatting stays concurrent as in a plain handler.
type priorityHandler struct {
	by [len(priorityLevels)]slog.Handler
}

func newPriorityHandler(w io.Writer, build func(io.Writer) slog.Handler) *priorityHandler {
	mu := new(sync.Mutex) // one writer under four handlers
	h := new(priorityHandler)
	for i, l := range priorityLevels {
		h.by[i] = build(&prefixWriter{w: w, mu: mu, prefix: "<" + string(rune('0'+Priority(l))) + ">"})
	}
	return h
}

func (h *priorityHandler) pick(l slog.Level) slog.Handler {
	for i, pl := range priorityLevels {
		if l >= pl {
			return h.by[i]
		}
	}
	return h.by[len(h.by)-1]
}

func (h *priorityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h *priorityHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h *priorityHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := new(priorityHandler)
	for i, in := range h.by {
		n.by[i] = in.WithAttrs(as)
	}
	return n
}

func (h *priorityHandler) WithGroup(name string) slog.Handler {
	n := new(priorityHandler)
	for i, in := range h.by {
		n.by[i] = in.WithGroup(name)
	}
	return n
}

// prefixWriter puts prefix before each Write, in the same Write, so two
// lines never interleave.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte // guarded by mu
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(append(p.buf[:0], p.prefix...), b...)
	if _, err := p.w.Write(p.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
