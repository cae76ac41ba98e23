package spool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "SPOOL_CRASH_CHILD_DIR"

// crashOptions are small enough that the child rolls segments, deletes
// drained ones and runs into the bound within a few milliseconds.
var crashOptions = Options{MaxBytes: 64 << 10, SegmentBytes: 4 << 10, SyncInterval: 5 * time.Millisecond}

// crashChild appends numbered records as fast as it can, printing "w N"
// once Append has returned, while a consumer acknowledges records a little
// more slowly, printing "a N" before each Ack. It runs until killed.
func crashChild(dir string) {
	start, _ := strconv.Atoi(os.Getenv("SPOOL_CRASH_CHILD_START"))
	opt := crashOptions
	opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	q, err := Open(dir, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		for i := 0; ; i++ {
			rec, ok, err := q.TryNext()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if !ok {
				<-q.Changed()
				continue
			}
			fmt.Fprintf(os.Stdout, "a %s\n", rec.Data)
			q.Ack(rec)
			if i%8 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	for n := start; ; n++ {
		if err := q.Append(context.Background(), []byte(strconv.Itoa(n))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stdout, "w %d\n", n)
	}
}

// TestSIGKILLLosesNothingWritten kills a process writing to the queue at
// random instants, many times over the same directory, and checks after
// each kill that every record the process reported as written and had not
// begun to acknowledge is there, in order, and that reopening never fails.
// SPOOL_CRASH_ITERATIONS sets the number of kills (default 25).
func TestSIGKILLLosesNothingWritten(t *testing.T) {
	iterations := 25
	if s := os.Getenv("SPOOL_CRASH_ITERATIONS"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	dir := filepath.Join(t.TempDir(), "q")
	written := map[int]bool{}
	maxAcked := -1
	totalWritten := 0
	for it := range iterations {
		start := it * 10_000_000
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "SPOOL_CRASH_CHILD_START="+strconv.Itoa(start))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			_, _ = io.Copy(io.Discard, out)
		}()
		// Kill at a random instant once the child has written something.
		var deadline <-chan time.Time
		killed := false
		for l := range lines {
			if deadline == nil {
				deadline = time.After(time.Duration(rand.IntN(30_000)) * time.Microsecond)
			}
			if !killed {
				select {
				case <-deadline:
					_ = cmd.Process.Signal(syscall.SIGKILL)
					killed = true
				default:
				}
			}
			kind, num, _ := strings.Cut(l, " ")
			n, err := strconv.Atoi(num)
			if err != nil {
				t.Fatalf("child printed %q", l)
			}
			switch kind {
			case "w":
				written[n] = true
				totalWritten++
			case "a":
				maxAcked = max(maxAcked, n)
			}
		}
		if !killed {
			t.Fatalf("child ended before it was killed: %s", stderr.String())
		}
		_ = cmd.Wait()
		if strings.Contains(stderr.String(), "spool:") && !strings.Contains(stderr.String(), "torn tail") {
			t.Fatalf("child %d failed: %s", it, stderr.String())
		}

		q, err := Open(dir, Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("reopen after kill %d: %v", it, err)
		}
		present := map[int]bool{}
		last := -1
		for {
			rec, ok, err := q.TryNext()
			if err != nil {
				t.Fatalf("kill %d: TryNext: %v", it, err)
			}
			if !ok {
				break
			}
			n, err := strconv.Atoi(string(rec.Data))
			if err != nil {
				t.Fatalf("kill %d: record %q is not one the child wrote", it, rec.Data)
			}
			if n <= last {
				t.Fatalf("kill %d: record %d after %d: out of order", it, n, last)
			}
			last = n
			present[n] = true
		}
		q.Close()
		for n := range written {
			if n > maxAcked && !present[n] {
				t.Fatalf("kill %d: record %d was reported written, never acknowledged, and is gone", it, n)
			}
			if n <= maxAcked {
				delete(written, n) // settled: it was consumed
			}
		}
	}
	t.Logf("%d kills, %d records reported written, %d still queued at the end", iterations, totalWritten, len(written))
}
