package logging

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestPriority(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  int
	}{
		{slog.LevelError + 4, 3},
		{slog.LevelError, 3},
		{slog.LevelWarn, 4},
		{slog.LevelWarn + 1, 4},
		{slog.LevelInfo, 6},
		{slog.LevelInfo + 2, 6},
		{slog.LevelDebug, 7},
		{slog.LevelDebug - 4, 7},
	} {
		if got := Priority(tc.level); got != tc.want {
			t.Errorf("Priority(%v) = %d, want %d", tc.level, got, tc.want)
		}
	}
}

// TestJournalLines: under the journal each line starts with its priority
// and has no time; elsewhere it has a time and no prefix.
func TestJournalLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want []string // one regexp per line, in order
	}{
		{"journal text", Options{Journal: true, Level: slog.LevelDebug}, []string{
			`^<3>level=ERROR msg=e k=v$`,
			`^<4>level=WARN msg=w k=v$`,
			`^<6>level=INFO msg=i k=v$`,
			`^<7>level=DEBUG msg=d k=v data="x"$`,
		}},
		{"journal json", Options{Journal: true, JSON: true}, []string{
			`^<3>\{"level":"ERROR","msg":"e","k":"v"\}$`,
			`^<4>\{"level":"WARN","msg":"w","k":"v"\}$`,
			`^<6>\{"level":"INFO","msg":"i","k":"v"\}$`,
		}},
		{"terminal text", Options{}, []string{
			`^time=\S+ level=ERROR msg=e k=v$`,
			`^time=\S+ level=WARN msg=w k=v$`,
			`^time=\S+ level=INFO msg=i k=v$`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, tc.o).With("k", "v")
			log.Error("e")
			log.Warn("w")
			log.Info("i")
			log.Debug("d", "data", "x")
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(got), len(tc.want), buf.String())
			}
			for i, re := range tc.want {
				if !regexp.MustCompile(re).MatchString(got[i]) {
					t.Errorf("line %d = %q, want %s", i, got[i], re)
				}
			}
		})
	}
}

// TestJournalLevelChanges: a LevelVar set later (a reload) takes effect.
func TestJournalLevelChanges(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	log := New(&buf, Options{Journal: true, Level: level})
	log.Debug("hidden")
	level.Set(slog.LevelDebug)
	log.Debug("shown")
	if got, want := buf.String(), "<7>level=DEBUG msg=shown\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJournalLinesDoNotInterleave: lines of every priority written at once
// each keep their prefix at the start.
func TestJournalLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, Options{Journal: true})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if g%2 == 0 {
					log.Error("e", "pad", strings.Repeat("x", 100))
				} else {
					log.Info("i", "pad", strings.Repeat("y", 100))
				}
			}
		}()
	}
	wg.Wait()
	line := regexp.MustCompile(`^(<3>level=ERROR msg=e pad=x{100}|<6>level=INFO msg=i pad=y{100})$`)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("got %d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("mangled line %q", l)
		}
	}
}
