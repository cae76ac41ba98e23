package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// waitWaiters waits until n Appends are in the line.
func waitWaiters(t testing.TB, q *Queue, n int) {
	t.Helper()
	gatewaytest.Eventually(t, fmt.Sprintf("%d waiters in line", n), func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.waiters) == n
	})
}

// TestWaitersServedInOrder fills the queue, lines up Appends of
// different sizes, and acknowledges one record at a time: they must get
// in in the order they came, a large one ahead of a small one behind it
// that would fit sooner, and each ack must wake only the waiters it made
// room for.
func TestWaitersServedInOrder(t *testing.T) {
	const rec = headerSize + 11 // "record-NNNN"
	q, _ := testOpen(t, t.TempDir(), Options{MaxBytes: 10 * rec})
	for _, s := range numbered(0, 10) {
		mustAppend(t, q, s)
	}
	// w0 needs the room of two records; the others one each.
	payloads := []string{"big-w0-" + strings.Repeat("x", 11+headerSize-7), "w1-xxxxxxxx", "w2-xxxxxxxx", "w3-xxxxxxxx"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []string
	for i, p := range payloads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Append(context.Background(), []byte(p)); err != nil {
				t.Errorf("Append %s: %v", p, err)
			}
			mu.Lock()
			order = append(order, p)
			mu.Unlock()
		}()
		waitWaiters(t, q, i+1)
	}
	wakeups := func() uint64 {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.wakeups
	}
	ackOne := func() {
		rec, ok, err := q.TryNext()
		if !ok || err != nil {
			t.Fatalf("TryNext: %v %v", ok, err)
		}
		q.Ack(rec)
	}
	// One ack makes room for one small record, not for w0: nobody may
	// get in, neither w0 nor w1 behind it.
	ackOne()
	if w := wakeups(); w != 0 {
		t.Errorf("%d waiters woken by an ack that made room for nobody at the head, want 0", w)
	}
	// The second makes room for w0 alone.
	ackOne()
	waitWaiters(t, q, 3)
	if w := wakeups(); w != 1 {
		t.Errorf("%d waiters woken, want 1 (w0)", w)
	}
	// Then one each.
	for i := 2; i <= 4; i++ {
		ackOne()
		waitWaiters(t, q, 4-i)
		if w := wakeups(); w != uint64(i) {
			t.Errorf("after ack %d: %d waiters woken, want %d", i+1, w, i)
		}
	}
	wg.Wait()
	if len(order) != len(payloads) {
		t.Fatalf("%d Appends returned, want %d", len(order), len(payloads))
	}
	got := drain(t, q, true)
	if got, want := strings.Join(got[len(got)-4:], " "), strings.Join(payloads, " "); got != want {
		t.Errorf("waiters got in as %q, want first come, first served: %q", got, want)
	}
}

// A waiter that gives up (its board went away) leaves the line and
// hands on its turn.
func TestWaiterGivingUpHandsOn(t *testing.T) {
	const rec = headerSize + 11
	q, _ := testOpen(t, t.TempDir(), Options{MaxBytes: 2 * rec})
	mustAppend(t, q, "record-0000")
	mustAppend(t, q, "record-0001")
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- q.Append(ctx, []byte("record-gone")) }()
	waitWaiters(t, q, 1)
	done := make(chan error, 1)
	go func() { done <- q.Append(context.Background(), []byte("record-0002")) }()
	waitWaiters(t, q, 2)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Append = %v, want context.Canceled", err)
	}
	rec0, _, _ := q.TryNext()
	q.Ack(rec0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := drain(t, q, true); strings.Join(got, ",") != "record-0001,record-0002" {
		t.Errorf("got %q", got)
	}
}

// BenchmarkAckWithWaiters measures one ack on a full queue with 1 and
// with 1,000 Appends waiting for room; each ack makes room for one
// record, whose waiter writes it and lines up again. The figures are
// side by side: an ack should cost about the same whatever the line.
func BenchmarkAckWithWaiters(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run("waiters="+strconv.Itoa(n), func(b *testing.B) {
			const rec = headerSize + 11
			q, err := Open(b.TempDir(), Options{MaxBytes: 100 * rec, SyncInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			for i := range 100 {
				if err := q.Append(context.Background(), fmt.Appendf(nil, "record-%04d", i)); err != nil {
					b.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for q.Append(ctx, []byte("record-wait")) == nil {
					}
				}()
			}
			waitWaiters(b, q, n)
			b.ResetTimer()
			for range b.N {
				rec, ok, err := q.TryNext()
				if !ok || err != nil {
					b.Fatalf("TryNext on a full queue: %v %v", ok, err)
				}
				q.Ack(rec)
				// Untimed: the woken waiter lines up again, so that
				// every ack meets n waiters.
				b.StopTimer()
				for {
					q.mu.Lock()
					l := len(q.waiters)
					q.mu.Unlock()
					if l == n {
						break
					}
					runtime.Gosched()
				}
				b.StartTimer()
			}
			b.StopTimer()
			q.mu.Lock()
			woken := q.wakeups
			q.mu.Unlock()
			b.ReportMetric(float64(woken)/float64(b.N), "wakeups/ack")
			cancel()
			q.Close()
			wg.Wait()
		})
	}
}

// TestFullDiskWaits fills a small tmpfs: Append must wait, not fail;
// one WARN line, Health and the counter say so; and when acks free
// space the waiting Appends go on, losing nothing.
func TestFullDiskWaits(t *testing.T) {
	mnt := gatewaytest.Tmpfs(t, 64<<10)
	dir := filepath.Join(mnt, "q")
	q, lb := testOpen(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: minSegmentBytes, SyncInterval: 20 * time.Millisecond})
	appended := make(chan int, 10000)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		defer close(appended)
		for i := 0; ; i++ {
			if err := q.Append(ctx, fmt.Appendf(nil, "record-%06d-%s", i, strings.Repeat("x", 80))); err != nil {
				errc <- err
				return
			}
			appended <- i
		}
	}()
	gatewaytest.Eventually(t, "Health() to say queue: no space left on device", func() bool {
		err := q.Health()
		return err != nil && err.Error() == "queue: no space left on device"
	})
	select {
	case err := <-errc:
		t.Fatalf("Append on a full disk returned %v; want it to wait", err)
	case <-time.After(100 * time.Millisecond): // ticks retry the disk meanwhile
	}
	st := q.Stats()
	if st.NoSpaceErrors == 0 {
		t.Errorf("Stats().NoSpaceErrors = 0 on a full disk")
	}
	if n := strings.Count(lb.String(), `msg="spool: no space left`); n != 1 {
		t.Errorf("%d no-space log lines, want 1:\n%s", n, lb)
	}
	// Drain half: segments are deleted, space frees, Appends go on.
	var got []string
	half := st.Messages / 2
	for range int(half) {
		rec, ok, err := q.TryNext()
		if !ok || err != nil {
			t.Fatalf("TryNext: %v %v", ok, err)
		}
		got = append(got, string(rec.Data[:13]))
		q.Ack(rec)
	}
	gatewaytest.Eventually(t, "Appends to go on once space frees", func() bool { m, _ := q.Len(); return m > st.Messages-half })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("appender ended with %v", err)
	}
	last := -1
	for i := range appended {
		last = i
	}
	got = append(got, func() []string {
		var s []string
		for _, r := range drain(t, q, true) {
			s = append(s, r[:13])
		}
		return s
	}()...)
	// Drained, with nobody waiting to write: the file system is asked.
	gatewaytest.Eventually(t, "Health() nil once the queue has drained", func() bool { return q.Health() == nil })
	if len(got) != last+1 {
		t.Fatalf("%d records in the queue, want %d: every one Append took", len(got), last+1)
	}
	for i, s := range got {
		if want := fmt.Sprintf("record-%06d", i); s != want {
			t.Fatalf("record %d is %q, want %q", i, s, want)
		}
	}
}

// TestReadOnlyAtStart opens a queue left on a file system since
// remounted read-only, with a torn tail Open cannot cut: Open must
// succeed, hand out what is there, refuse Append at once, and say why.
func TestReadOnlyAtStart(t *testing.T) {
	mnt := gatewaytest.Tmpfs(t, 1<<20)
	dir := filepath.Join(mnt, "q")
	q, _ := testOpen(t, dir, Options{})
	for _, s := range numbered(0, 5) {
		mustAppend(t, q, s)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	appendBytes(t, segs[0], []byte{9, 0, 0})
	gatewaytest.Remount(t, mnt, "ro")
	defer gatewaytest.Remount(t, mnt, "rw")

	q2, lb := testOpen(t, dir, Options{})
	if err := q2.Writable(); err == nil {
		t.Errorf("Writable() = nil on a read-only file system")
	}
	if err := q2.Health(); err == nil || !strings.Contains(err.Error(), "queue: cannot write "+dir+": read-only file system") {
		t.Errorf("Health() = %v, want it to name the queue", err)
	}
	if n := strings.Count(lb.String(), "level=WARN"); n != 2 { // the torn tail, and read-only
		t.Errorf("%d WARN lines, want 2:\n%s", n, lb)
	}
	if err := q2.Append(context.Background(), []byte("new")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append = %v, want ErrReadOnly", err)
	}
	if got := drain(t, q2, true); strings.Join(got, ",") != strings.Join(numbered(0, 5), ",") {
		t.Errorf("got %q, want the 5 leftover records", got)
	}
	if msgs, _ := q2.Len(); msgs != 0 {
		t.Errorf("Len = %d after acking all", msgs)
	}
	if err := q2.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// Delivered but not deleted: the files are still there for the
	// next start (at least once).
	if names := gatewaytest.DirNames(t, dir); len(names) == 0 {
		t.Errorf("files of a read-only queue were deleted")
	}
	if _, err := os.Stat(segs[0]); err != nil {
		t.Error(err)
	}
}
