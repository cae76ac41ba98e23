package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// cardSync stands in for fsync on a failing SD card, as Linux reports
// it: a failed writeback returns EIO, and the dirty pages it failed to
// write are dropped, so what the disk holds (and a restart reads) is not
// what was written; here the bytes written since the file's last good
// fsync read back as zeroes. A retried fsync finds nothing dirty and
// succeeds.
type cardSync struct {
	mu     sync.Mutex
	fail   bool
	delay  time.Duration
	calls  int
	errors int
	synced map[string]int64 // each file's size at its last good fsync
}

func injectSync(t testing.TB, c *cardSync) {
	t.Helper()
	c.synced = map[string]int64{}
	old := syncFile
	syncFile = c.sync
	t.Cleanup(func() { syncFile = old })
}

func (c *cardSync) sync(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	time.Sleep(c.delay)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if !c.fail {
		c.synced[f.Name()] = fi.Size()
		return nil
	}
	c.errors++
	from := c.synced[f.Name()]
	if n := fi.Size() - from; n > 0 {
		w, err := os.OpenFile(f.Name(), os.O_WRONLY, 0)
		if err == nil {
			_, _ = w.WriteAt(make([]byte, n), from)
			w.Close()
		}
	}
	c.synced[f.Name()] = fi.Size() // the next fsync has nothing to write
	return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
}

func (c *cardSync) set(fail bool) {
	c.mu.Lock()
	c.fail = fail
	c.mu.Unlock()
}

func (c *cardSync) counts() (calls, errors int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.errors
}

// TestFsyncErrorRewritesFromMemory: records receipted (Append returned)
// before an fsync that fails must survive it, though the failed writeback
// dropped them from the file: they are written again from memory. The
// failure is an ERROR line, a count and a Health error until an fsync
// succeeds again.
func TestFsyncErrorRewritesFromMemory(t *testing.T) {
	card := &cardSync{}
	injectSync(t, card)
	dir := t.TempDir()
	q, lb := testOpen(t, dir, Options{SyncInterval: 5 * time.Millisecond})
	all := numbered(0, 100)
	for _, s := range all[:50] {
		mustAppend(t, q, s)
	}
	gatewaytest.Eventually(t, "a first fsync", func() bool { c, _ := card.counts(); return c > 0 })
	card.set(true)
	for _, s := range all[50:] {
		mustAppend(t, q, s)
	}
	gatewaytest.Eventually(t, "the fsync error counted", func() bool { return q.Stats().FsyncErrors > 0 })
	if err := q.Health(); err == nil || !strings.Contains(err.Error(), "queue: fsync failed: input/output error") {
		t.Errorf("Health() = %v, want the fsync error", err)
	}
	if !strings.Contains(lb.String(), `level=ERROR msg="spool: fsync failed`) {
		t.Errorf("no ERROR line for the fsync error:\n%s", lb)
	}
	time.Sleep(20 * time.Millisecond) // more ticks fail: still unhealthy
	if q.Health() == nil {
		t.Errorf("Health() = nil while fsyncs fail")
	}
	card.set(false)
	gatewaytest.Eventually(t, "Health() nil once fsync works", func() bool { return q.Health() == nil })
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	syncFile = (*os.File).Sync
	q2, _ := testOpen(t, dir, Options{})
	if got := drain(t, q2, false); strings.Join(got, ",") != strings.Join(all, ",") {
		t.Errorf("after the fsync error and a restart, got %d records, want all %d in order", len(got), len(all))
	}
}

// Records handed out before the rewrite and acknowledged after it still
// count, and nothing is lost or left behind.
func TestAckAcrossRewrite(t *testing.T) {
	card := &cardSync{}
	injectSync(t, card)
	q, _ := testOpen(t, t.TempDir(), Options{SyncInterval: time.Hour})
	all := numbered(0, 20)
	for _, s := range all {
		mustAppend(t, q, s)
	}
	var handed []Record
	for range 5 {
		rec, _, _ := q.TryNext()
		handed = append(handed, rec)
	}
	q.Ack(handed[1])
	card.set(true)
	q.syncOnce() // fails, and so does the rewrite
	if rec, ok, _ := q.TryNext(); ok {
		t.Errorf("TryNext handed out %q from a file whose fsync failed, before the rewrite", rec.Data)
	}
	card.set(false)
	q.syncOnce() // the rewrite
	if n, _ := q.Len(); n != 18 {
		t.Errorf("Len after the rewrite = %d, want 18", n)
	}
	q.Ack(handed[4]) // handed out before the rewrite
	if n, _ := q.Len(); n != 15 {
		t.Errorf("Len after acking the fifth = %d, want 15", n)
	}
	if got := drain(t, q, true); strings.Join(got, ",") != strings.Join(all[5:], ",") {
		t.Errorf("got %q, want %q", got, all[5:])
	}
	if n, b := q.Len(); n != 0 || b != 0 {
		t.Errorf("Len = %d, %d; want 0, 0", n, b)
	}
}

// Under SyncOnCommit an Append returns only after an fsync that covers
// its record.
func TestCommitWaitsForFsync(t *testing.T) {
	card := &cardSync{delay: 2 * time.Millisecond}
	injectSync(t, card)
	q, _ := testOpen(t, t.TempDir(), Options{SyncOnCommit: true, SyncInterval: time.Hour})
	for i, s := range numbered(0, 20) {
		mustAppend(t, q, s)
		q.mu.Lock()
		name, size := q.w.Name(), q.segs[len(q.segs)-1].size
		q.mu.Unlock()
		card.mu.Lock()
		synced := card.synced[name]
		card.mu.Unlock()
		if synced < size {
			t.Fatalf("Append %d returned with %d of %d bytes fsynced", i, synced, size)
		}
	}
}

// Group commit: Appends arriving during an fsync share the next one.
func TestGroupCommit(t *testing.T) {
	card := &cardSync{delay: 10 * time.Millisecond}
	injectSync(t, card)
	q, _ := testOpen(t, t.TempDir(), Options{SyncOnCommit: true, SyncInterval: time.Hour})
	const writers, each = 40, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := q.Append(context.Background(), fmt.Appendf(nil, "w%02d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	calls, _ := card.counts()
	if calls > writers*each/4 {
		t.Errorf("%d fsyncs for %d Appends from %d writers; want them shared", calls, writers*each, writers)
	}
	t.Logf("%d fsyncs for %d Appends", calls, writers*each)
}

// Under SyncOnCommit an fsync error fails the Appends it covered, so no
// receipt is given for them; the queue recovers by itself.
func TestFsyncErrorFailsCommitAppends(t *testing.T) {
	card := &cardSync{}
	injectSync(t, card)
	dir := t.TempDir()
	q, lb := testOpen(t, dir, Options{SyncOnCommit: true, SyncInterval: 5 * time.Millisecond})
	mustAppend(t, q, "before")
	card.set(true)
	err := q.Append(context.Background(), []byte("during"))
	if err == nil || !strings.Contains(err.Error(), "fsync") || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append while fsync fails = %v, want the fsync error", err)
	}
	if st := q.Stats(); st.FsyncErrors == 0 {
		t.Errorf("FsyncErrors = 0")
	}
	if q.Health() == nil {
		t.Errorf("Health() = nil after an fsync error")
	}
	if !strings.Contains(lb.String(), "level=ERROR") {
		t.Errorf("no ERROR line:\n%s", lb)
	}
	card.set(false)
	mustAppend(t, q, "after")
	gatewaytest.Eventually(t, "Health() nil once fsync works", func() bool { return q.Health() == nil })
	q.Close()
	syncFile = (*os.File).Sync
	q2, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	// "during" got no receipt, so its board sends it again; it may be
	// delivered too (at least once), and nothing receipted is lost.
	if got := strings.Join(drain(t, q2, false), ","); got != "before,during,after" && got != "before,after" {
		t.Errorf("got %q, want before,[during,]after", got)
	}
}
