package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// logBuf collects log lines for a test to look at.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func testOpen(t *testing.T, dir string, opt Options) (*Queue, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	opt.Logger = slog.New(slog.NewTextHandler(lb, nil))
	q, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q, lb
}

func mustAppend(t *testing.T, q *Queue, s string) {
	t.Helper()
	if err := q.Append(context.Background(), []byte(s)); err != nil {
		t.Fatalf("Append(%q): %v", s, err)
	}
}

// drain reads every record left, acking each when ack is set.
func drain(t *testing.T, q *Queue, ack bool) []string {
	t.Helper()
	var got []string
	for {
		rec, ok, err := q.TryNext()
		if err != nil {
			t.Fatalf("TryNext: %v", err)
		}
		if !ok {
			return got
		}
		got = append(got, string(rec.Data))
		if ack {
			q.Ack(rec)
		}
	}
}

func numbered(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("record-%04d", i))
	}
	return s
}

func TestFIFOAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	opt := Options{SegmentBytes: minSegmentBytes}
	q, _ := testOpen(t, dir, opt)
	all := numbered(0, 1000) // about 19 KiB: several segments
	for _, s := range all {
		mustAppend(t, q, s)
	}
	// Hand out 400, acknowledge 300: the other 100 must come again.
	for i := 0; i < 400; i++ {
		rec, ok, err := q.TryNext()
		if !ok || err != nil {
			t.Fatalf("TryNext %d: %v %v", i, ok, err)
		}
		if i < 300 {
			q.Ack(rec)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	q2, _ := testOpen(t, dir, opt)
	if msgs, _ := q2.Len(); msgs != 700 {
		t.Errorf("Len after reopen = %d msgs, want 700", msgs)
	}
	got := drain(t, q2, false)
	if want := all[300:]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after reopen got %d records starting %q, want %d starting %q", len(got), got[:1], len(want), want[0])
	}
}

func TestDiskUsedOnlyWhileHolding(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	q, _ := testOpen(t, dir, Options{SegmentBytes: minSegmentBytes, SyncInterval: time.Millisecond})
	if got := gatewaytest.DirNames(t, dir); got != nil {
		t.Fatalf("Open created %v; want nothing on disk before the first Append", got)
	}
	for _, s := range numbered(0, 1000) {
		mustAppend(t, q, s)
	}
	// Segments only: the sync loop writes the cursor (through a
	// temporary file) while the queue drains, which comes and goes.
	segments := func() int {
		n := 0
		for _, name := range gatewaytest.DirNames(t, dir) {
			if strings.HasSuffix(name, ".seg") {
				n++
			}
		}
		return n
	}
	start := segments()
	if start < 3 {
		t.Fatalf("%d files for 19 KiB in 4 KiB segments, want several", start)
	}
	// Draining deletes segments as it goes.
	shrank := false
	for i := 0; ; i++ {
		rec, ok, err := q.TryNext()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		q.Ack(rec)
		if i == 500 {
			shrank = segments() < start
		}
	}
	if !shrank {
		t.Errorf("half drained, still %d segments; want fewer than %d", segments(), start)
	}
	time.Sleep(10 * time.Millisecond) // a sync tick passes: it must write nothing
	if got := gatewaytest.DirNames(t, dir); len(got) != 0 {
		t.Errorf("drained queue left %v; want no file", got)
	}
	if msgs, b := q.Len(); msgs != 0 || b != 0 {
		t.Errorf("Len = %d, %d; want 0, 0", msgs, b)
	}
	// And it works again after emptying.
	mustAppend(t, q, "again")
	if got := drain(t, q, true); len(got) != 1 || got[0] != "again" {
		t.Errorf("after emptying got %q, want [again]", got)
	}
}

func TestFullQueueMakesAppendWait(t *testing.T) {
	dir := t.TempDir()
	const max = 10 * (headerSize + 11)
	q, _ := testOpen(t, dir, Options{MaxBytes: max})
	for _, s := range numbered(0, 10) {
		mustAppend(t, q, s)
	}
	if _, b := q.Len(); b != max {
		t.Fatalf("Len bytes = %d, want %d", b, max)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Append(ctx, []byte("record-0010")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append on a full queue = %v, want it to wait until the deadline", err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Append(context.Background(), []byte("record-0010")) }()
	select {
	case err := <-done:
		t.Fatalf("Append returned %v on a full queue; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	rec, _, _ := q.TryNext()
	q.Ack(rec)
	if err := <-done; err != nil {
		t.Fatalf("Append after room was made: %v", err)
	}
	got := drain(t, q, true)
	if want := numbered(1, 11); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := q.Append(context.Background(), make([]byte, max)); err == nil || !strings.Contains(err.Error(), "larger than the queue bound") {
		t.Errorf("Append of a record larger than the bound = %v, want a clear error", err)
	}
}

func TestTornTailIsCutAndLogged(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"record cut short", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()-3); err != nil {
				t.Fatal(err)
			}
		}},
		{"zeroes after the last record", func(t *testing.T, path string) {
			appendBytes(t, path, make([]byte, 4096))
		}},
		{"garbage after the last record", func(t *testing.T, path string) {
			appendBytes(t, path, []byte("\x05\x00\x00\x00garbagegarbage"))
		}},
		{"half a header", func(t *testing.T, path string) {
			appendBytes(t, path, []byte{9, 0, 0})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			q, _ := testOpen(t, dir, Options{})
			for _, s := range numbered(0, 5) {
				mustAppend(t, q, s)
			}
			q.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			if len(segs) != 1 {
				t.Fatalf("segments %v, want 1", segs)
			}
			tt.damage(t, segs[0])

			q2, lb := testOpen(t, dir, Options{})
			mustAppend(t, q2, "after")
			got := drain(t, q2, false)
			want := numbered(0, 5)
			if tt.name == "record cut short" {
				want = numbered(0, 4)
			}
			want = append(want, "after")
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("got %q, want %q", got, want)
			}
			if n := strings.Count(lb.String(), "torn tail"); n != 1 {
				t.Errorf("%d torn-tail log lines, want 1; log:\n%s", n, lb)
			}
			q2.Close()
			// The cut is made once: the next start finds nothing to log.
			_, lb3 := testOpen(t, dir, Options{})
			if strings.Contains(lb3.String(), "torn tail") {
				t.Errorf("second reopen logged again:\n%s", lb3)
			}
		})
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestRewindHandsOutUnackedAgain(t *testing.T) {
	q, _ := testOpen(t, t.TempDir(), Options{})
	for _, s := range numbered(0, 4) {
		mustAppend(t, q, s)
	}
	r0, _, _ := q.TryNext()
	q.Ack(r0)
	q.TryNext()
	q.TryNext()
	q.Rewind()
	got := drain(t, q, true)
	if want := numbered(1, 4); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("after Rewind got %q, want %q", got, want)
	}
}

func TestClosed(t *testing.T) {
	q, _ := testOpen(t, t.TempDir(), Options{})
	q.Close()
	if err := q.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, _, err := q.TryNext(); !errors.Is(err, ErrClosed) {
		t.Errorf("TryNext after Close = %v, want ErrClosed", err)
	}
}

// A drained queue's cursor is removed, and a power cut can undo a
// removal that had not reached the disk. A cursor with no segment must
// then never come to name a segment written since, even if its removal
// is lost once more: its offset would skip that segment's first records.
func TestRevivedCursorSkipsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	cursor := filepath.Join(dir, "cursor")
	q, _ := testOpen(t, dir, Options{})
	for _, s := range numbered(0, 10) {
		mustAppend(t, q, s)
	}
	for range 5 {
		rec, _, _ := q.TryNext()
		q.Ack(rec)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.ReadFile(cursor) // half way through the first segment
	if err != nil {
		t.Fatalf("no cursor after closing half acknowledged: %v", err)
	}
	q2, _ := testOpen(t, dir, Options{})
	drain(t, q2, true)
	if err := q2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gatewaytest.DirNames(t, dir); len(got) != 0 {
		t.Fatalf("drained queue left %v; want no file", got)
	}

	// The power cut: the segment's removal reached the disk, the
	// cursor's did not.
	if err := os.WriteFile(cursor, stale, 0o640); err != nil {
		t.Fatal(err)
	}
	q3, _ := testOpen(t, dir, Options{})
	want := numbered(100, 110)
	for _, s := range want {
		mustAppend(t, q3, s)
	}
	if err := q3.Close(); err != nil {
		t.Fatal(err)
	}
	// And again, with the new records on disk.
	if err := os.WriteFile(cursor, stale, 0o640); err != nil {
		t.Fatal(err)
	}
	q4, _ := testOpen(t, dir, Options{})
	if got := drain(t, q4, false); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("with the stale cursor %q back, got %q, want %q", stale, got, want)
	}
}
