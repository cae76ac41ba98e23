package logging

import (
	"io"
	"log/slog"
	"os"
)

// Options say how to log.
type Options struct {
	// JSON selects JSON lines; otherwise key=value text.
	JSON bool
	// Level is the least level logged; nil is info.
	Level slog.Leveler
	// Journal marks the output as journald's stream: a priority prefix on
	// each line and no timestamps. UnderJournal tells whether it is.
	Journal bool
}

// UnderJournal reports whether stderr is connected to journald, as
// systemd says through JOURNAL_STREAM.
func UnderJournal() bool { return os.Getenv("JOURNAL_STREAM") != "" }

// New returns a logger writing to w as o says.
func New(w io.Writer, o Options) *slog.Logger {
	if !o.Journal {
		return slog.New(handler(w, o))
	}
	return slog.New(newPriorityHandler(w, func(w io.Writer) slog.Handler { return handler(w, o) }))
}

// handler is one slog handler for w.
func handler(w io.Writer, o Options) slog.Handler {
	opts := &slog.HandlerOptions{
		Level: o.Level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && o.Journal {
				return slog.Attr{}
			}
			return a
		},
	}
	if o.JSON {
		return slog.NewJSONHandler(w, opts)
	}
	text := *opts
	text.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		a = opts.ReplaceAttr(groups, a)
		// The text handler quotes a []byte always, Go-style, so a
		// payload reads data="..." even when it is one plain word.
		if a.Key == "data" && a.Value.Kind() == slog.KindString {
			return slog.Any("data", []byte(a.Value.String()))
		}
		return a
	}
	return slog.NewTextHandler(w, &text)
}
