package main

import (
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/gatewayd/gatewayd/configs"
)

// newLogger builds the daemon's logger: text (key=value) or JSON on
// stderr, at a level that SIGHUP can change through level. Under systemd,
// journald stamps each line, so the time is left out.
func newLogger(cfg *configs.Config, level *slog.LevelVar, w io.Writer) *slog.Logger {
	underJournal := os.Getenv("JOURNAL_STREAM") != ""
	opts := &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && underJournal {
				return slog.Attr{}
			}
			return a
		},
	}
	var h slog.Handler
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
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
		h = slog.NewTextHandler(w, &text)
	}
	logger := slog.New(h)
	// periph reports through the standard log package; keep one stream.
	slog.SetDefault(logger)
	log.SetFlags(0)
	return logger
}
