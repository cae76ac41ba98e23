package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
)

// fleet is one measurement's boards, each on its own TCP connection to
// the gateway. Their IDs start with a tag of the measurement's own, so the
// subscriber counts no straggler of an earlier one.
type fleet struct {
	boards []*board
	size   int
	echoes bool

	echo *load.Histogram // send → receipt, when the gateway echoes
}

type board struct {
	id   string
	c    net.Conn
	r    *bufio.Reader
	seq  uint64        // lines written; owned by the board's goroutine
	sent atomic.Uint64 // lines written in full
	rcpt atomic.Uint64 // lines whose receipt came back
}

// receiptWait is how long a board waits for the receipt of its last line
// after the run ends; gatewayd may be writing it to disk, or reconnecting.
const receiptWait = 15 * time.Second

// dialFleet connects n boards to addr. With echoes, each says
// `!hello ID` first and waits for `!ok ID`, as CONTRACT.md's board
// sessions have it.
func dialFleet(ctx context.Context, addr, tag string, n, size int, echoes bool) (*fleet, error) {
	f := &fleet{size: size, echoes: echoes, echo: load.NewHistogram()}
	var d net.Dialer
	for i := range n {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("board %d of %d: %w", i+1, n, err)
		}
		b := &board{id: fmt.Sprintf("%sb%04d", tag, i), c: c, r: bufio.NewReaderSize(c, 4096)}
		f.boards = append(f.boards, b)
		if !echoes {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(c, "!hello %s\n", b.id); err != nil {
			f.close()
			return nil, fmt.Errorf("board %s: hello: %w", b.id, err)
		}
		line, err := b.r.ReadString('\n')
		if want := "!ok " + b.id + "\n"; line != want {
			f.close()
			return nil, fmt.Errorf("board %s: answer to !hello: got %q (%v), want %q", b.id, line, err, want)
		}
		_ = c.SetDeadline(time.Time{})
	}
	return f, nil
}

func (f *fleet) close() {
	for _, b := range f.boards {
		b.c.Close()
	}
}

// run drives every board for d. With rate > 0 the boards together offer
// rate lines per second, each board on its own schedule; with rate 0 each
// sends its next line as soon as the previous one is receipted (closed
// loop, gateways that echo only). A board that echoes keeps one line in
// flight, as a board waiting for its receipt does. Latency is measured
// from when a line was due, so a gateway that stalls the sender cannot
// hide the wait.
func (f *fleet) run(ctx context.Context, rate float64, d time.Duration) {
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, b := range f.boards {
		wg.Go(func() { f.drive(ctx, b, rate, end) })
	}
	wg.Wait()
}

func (f *fleet) drive(ctx context.Context, b *board, rate float64, end time.Time) {
	line := make([]byte, 0, f.size)
	var interval time.Duration
	due := time.Now()
	if rate > 0 {
		interval = time.Duration(float64(len(f.boards)) / rate * float64(time.Second))
		due = due.Add(rand.N(interval + 1)) // spread the boards' first lines
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		if interval > 0 {
			if w := time.Until(due); w > 0 {
				timer.Reset(w)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		} else {
			due = time.Now()
		}
		if !due.Before(end) {
			return
		}
		b.seq++
		line = f.fill(line[:0], b.id, b.seq, due)
		// A write that cannot finish by the end is the gateway not reading:
		// that line is not counted as sent.
		_ = b.c.SetWriteDeadline(end.Add(receiptWait))
		if _, err := b.c.Write(line); err != nil {
			return
		}
		b.sent.Add(1)
		if f.echoes {
			_ = b.c.SetReadDeadline(time.Now().Add(receiptWait))
			echo, err := b.r.ReadSlice('\n')
			if err != nil || !bytes.Equal(echo, line) {
				return
			}
			b.rcpt.Add(1)
			f.echo.Record(time.Since(due))
		}
		due = due.Add(interval)
	}
}

// fill appends one line of f.size bytes, LF included:
// "ID SEQ DUE_UNIXNANO xxxx…".
func (f *fleet) fill(line []byte, id string, seq uint64, due time.Time) []byte {
	line = append(line, id...)
	line = append(line, ' ')
	line = strconv.AppendUint(line, seq, 10)
	line = append(line, ' ')
	line = strconv.AppendInt(line, due.UnixNano(), 10)
	line = append(line, ' ')
	for len(line) < f.size-1 {
		line = append(line, 'x')
	}
	return append(line, '\n')
}

// counts returns, per board, the last sequence number the gateway is
// answerable for (receipted when it echoes, else written), and the totals
// of lines written and receipted.
func (f *fleet) counts() (upTo map[string]uint64, sent, receipted uint64) {
	upTo = make(map[string]uint64, len(f.boards))
	for _, b := range f.boards {
		s, r := b.sent.Load(), b.rcpt.Load()
		sent += s
		receipted += r
		if f.echoes {
			upTo[b.id] = r
		} else {
			upTo[b.id] = s
		}
	}
	return upTo, sent, receipted
}
