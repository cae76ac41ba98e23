package gateway

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// stallRun is one client that sends as fast as it can and never reads,
// watched until the server drops it.
type stallRun struct {
	lastMove time.Time // when the client's receive queue last grew
	dropped  time.Time // when the Disconnect hook ran
	reason   error
}

// stalledAfter is how long after its echoes stopped arriving the client
// was dropped.
func (r stallRun) stalledAfter() time.Duration { return r.dropped.Sub(r.lastMove) }

// sendWithoutPause writes 16 KiB chunks of fill to c as fast as c takes
// them until the returned stop is called; stop waits for the writer to
// end. A write that times out is retried, any other error ends it.
func sendWithoutPause(c net.Conn, fill byte) (stop func()) {
	stopWriting := make(chan struct{})
	var wrote sync.WaitGroup
	wrote.Go(func() {
		chunk := bytes.Repeat([]byte{fill}, 16<<10)
		for {
			select {
			case <-stopWriting:
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Write(chunk); err != nil && !isTimeout(err) {
				return
			}
		}
	})
	return func() {
		close(stopWriting)
		wrote.Wait()
	}
}

// runStalledClient serves one client that never reads under timeout and
// reports when its echoes stopped moving and when it was dropped. The
// first instant is read from the client's side: the bytes queued in its
// receive buffer (SIOCINQ), polled every millisecond.
func runStalledClient(tb testing.TB, timeout time.Duration) stallRun {
	tb.Helper()
	var mu sync.Mutex
	var run stallRun
	gone := make(chan struct{})
	_, addr, _ := startServer(tb, Policy{WriteTimeout: timeout}, Hooks{
		Disconnect: func(_ netip.AddrPort, _ int, r error) {
			mu.Lock()
			run.dropped, run.reason = time.Now(), r
			mu.Unlock()
			close(gone)
		},
	})
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	queued := func() int {
		var n int
		raw.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
		return n
	}

	defer sendWithoutPause(c, 's')()

	last, lastMove := queued(), time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	limit := time.After(20 * timeout)
	for {
		select {
		case <-gone:
			mu.Lock()
			defer mu.Unlock()
			run.lastMove = lastMove
			return run
		case <-limit:
			tb.Fatalf("client that never reads still connected after %v", 20*timeout)
		case <-tick.C:
			if n := queued(); n != last {
				last, lastMove = n, time.Now()
			}
		}
	}
}

// TestWriteTimeoutCountsFromLastProgress: a client that never reads is
// dropped write_timeout after its echoes stopped moving, within the slack
// Policy.WriteTimeout states (an eighth of the timeout) plus three times
// as much again for a busy or emulated test machine (CI's arm64 pass under
// qemu-user saw 1.253 s); not at a multiple of the timeout, as the defect
// this guards against did (1.9 times it), and not before it.
func TestWriteTimeoutCountsFromLastProgress(t *testing.T) {
	const timeout = time.Second
	run := runStalledClient(t, timeout)
	if run.reason != ErrWriteTimeout {
		t.Fatalf("reason = %v, want %v", run.reason, ErrWriteTimeout)
	}
	got := run.stalledAfter()
	if lo, hi := timeout-timeout/4, timeout+timeout/2; got < lo || got > hi {
		t.Errorf("dropped %v after its echoes stopped moving; want within [%v, %v]", got, lo, hi)
	}
}

// TestWriteTimeoutKeepsSlowReader: a client that reads steadily but far
// slower than it sends keeps the server's writes blocked most of the time,
// yet it is draining, so it is kept.
func TestWriteTimeoutKeepsSlowReader(t *testing.T) {
	const timeout = time.Second
	var reason error
	var mu sync.Mutex
	_, addr, _ := startServer(t, Policy{WriteTimeout: timeout}, Hooks{
		Disconnect: func(_ netip.AddrPort, _ int, r error) {
			mu.Lock()
			reason = r
			mu.Unlock()
		},
	})
	c := dial(t, addr)

	defer sendWithoutPause(c, 'w')()

	// 16 KiB every 100ms: far slower than the echoes come, but steady,
	// a few loopback segments per timeout.
	buf := make([]byte, 16<<10)
	var read int
	start := time.Now()
	for time.Since(start) < 4*timeout {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		read += n
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("slow reader dropped after %v and %d bytes: %v (server's reason: %v)", time.Since(start), read, err, reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkWriteTimeoutDrop reports how long after its echoes stopped
// moving a client that never reads is dropped, with a 2s write timeout:
// go test -run '^$' -bench WriteTimeoutDrop -benchtime 9x ./gateway
func BenchmarkWriteTimeoutDrop(b *testing.B) {
	const timeout = 2 * time.Second
	var after []time.Duration
	for b.Loop() {
		after = append(after, runStalledClient(b, timeout).stalledAfter())
	}
	slices.Sort(after)
	b.ReportMetric(after[0].Seconds(), "min-s")
	b.ReportMetric(after[len(after)/2].Seconds(), "median-s")
	b.ReportMetric(after[len(after)-1].Seconds(), "max-s")
	b.Logf("drop times after echoes stopped moving (write_timeout %v): %v", timeout, after)
}
