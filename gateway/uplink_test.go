package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/board"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// fakeUplink implements Uplink as its contract says (uplink.go) and lets
// a test decide when each line is done. Every Send is recorded; a line is
// held (done not called) until the test calls it, unless ack is set.
type fakeUplink struct {
	// refuse, if set, answers Send for a line with an error: the line
	// is not taken.
	refuse func(line string) error
	// block, if set, makes Send for a line wait until its ctx ends, and
	// then fail, or with takeLate take the line a little later.
	block    func(line string) bool
	takeLate bool
	// ack, if set, calls done(nil) this long after Send, on another
	// goroutine; 0 leaves done to the test.
	ack time.Duration

	mu    sync.Mutex
	sends []*fakeSend
	added chan *fakeSend
}

type fakeSend struct {
	board, line string
	ctx         context.Context
	done        func(error)
	err         error         // what Send returned
	returned    chan struct{} // closed when Send returns
}

func newFakeUplink() *fakeUplink { return &fakeUplink{added: make(chan *fakeSend, 1000)} }

func (u *fakeUplink) Send(ctx context.Context, b string, line []byte, done func(error)) error {
	s := &fakeSend{board: b, line: string(line), ctx: ctx, done: done, returned: make(chan struct{})}
	defer close(s.returned)
	if u.refuse != nil {
		s.err = u.refuse(s.line)
	}
	if s.err == nil && ctx.Err() != nil {
		s.err = ctx.Err()
	}
	u.record(s)
	if s.err != nil {
		return s.err
	}
	if u.block != nil && u.block(s.line) {
		<-ctx.Done()
		if u.takeLate {
			// Taken as the context ends, as a queue that found room at
			// that moment may.
			time.Sleep(100 * time.Millisecond)
			done(nil)
			return nil
		}
		s.err = ctx.Err()
		return s.err
	}
	if u.ack > 0 {
		time.AfterFunc(u.ack, func() { done(nil) })
	}
	return nil
}

func (u *fakeUplink) record(s *fakeSend) {
	u.mu.Lock()
	u.sends = append(u.sends, s)
	u.mu.Unlock()
	u.added <- s
}

// next returns the next Send, or fails the test.
func (u *fakeUplink) next(t *testing.T) *fakeSend {
	t.Helper()
	select {
	case s := <-u.added:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no Send within 10s")
		return nil
	}
}

func (u *fakeUplink) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.sends)
}

// serveUplink serves line framing with u as the Uplink.
func serveUplink(t *testing.T, p Policy, u Uplink) (*Server, string, *gatewaytest.Buffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Framing = FramingLine
	s := &Server{Policy: p, Uplink: u}
	logs := serveForTest(t, s, l)
	return s, l.Addr().String(), logs
}

// nothingYet checks that nothing can be read for a moment. It can miss a
// line written late, never report one that was not.
func (c *lineClient) nothingYet() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if line, err := c.r.ReadString('\n'); line != "" || err == nil {
		c.t.Fatalf("read %q before it was due", line)
	}
	c.r.Reset(c.nc)
}

// Receipts come back in the order of the lines whatever order the Uplink
// finishes them in, for a named board and a client that never said hello.
func TestUplinkReceiptsInLineOrder(t *testing.T) {
	for _, hello := range []bool{true, false} {
		t.Run(fmt.Sprintf("hello=%v", hello), func(t *testing.T) {
			u := newFakeUplink()
			_, addr, _ := serveUplink(t, Policy{}, u)
			c := dialLines(t, addr)
			want := "b1"
			if hello {
				c.hello("b1")
			} else {
				want = "ip-127-0-0-1"
			}
			const n = 6
			for i := range n {
				c.send(fmt.Sprintf("line %d\n", i)) // without waiting
			}
			sends := make([]*fakeSend, n)
			for i := range sends {
				sends[i] = u.next(t)
				if got := sends[i].line; got != fmt.Sprintf("line %d", i) || sends[i].board != want {
					t.Fatalf("Send %d = %s %q, want %s %q", i, sends[i].board, got, want, fmt.Sprintf("line %d", i))
				}
			}
			// done from other goroutines, out of order.
			var wg sync.WaitGroup
			for _, i := range []int{3, 1, 5} {
				wg.Add(1)
				go func() { defer wg.Done(); sends[i].done(nil) }()
			}
			wg.Wait()
			c.nothingYet() // line 0 is not done
			sends[0].done(nil)
			c.expect("line 0\n")
			c.expect("line 1\n")
			c.nothingYet()
			sends[2].done(nil)
			c.expect("line 2\n")
			c.expect("line 3\n")
			sends[4].done(nil)
			c.expect("line 4\n")
			c.expect("line 5\n")
			sends[4].done(nil) // a second call is ignored
			c.send("!ping\n")
			if hello {
				c.expect("!pong\n")
			} else {
				u.next(t).done(nil)
				c.expect("!ping\n") // data to an anonymous client
			}
		})
	}
}

// A line the Uplink refuses with a *board.Error is answered `!err CODE` in
// its place, and the session goes on; a control line's answer keeps its
// place too.
func TestUplinkTooLargeAnsweredInOrder(t *testing.T) {
	u := newFakeUplink()
	u.refuse = func(line string) error {
		if len(line) > 10 {
			return &board.Error{Code: board.CodeTooLarge}
		}
		return nil
	}
	_, addr, _ := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	c.send("a\n" + strings.Repeat("x", 11) + "\n!ping\nb\n")
	a := u.next(t)
	if big := u.next(t); big.err == nil {
		t.Fatalf("Send(%q) = nil, want too-large", big.line)
	}
	b := u.next(t)
	c.nothingYet()
	b.done(nil)
	c.nothingYet()
	a.done(nil)
	c.expect("a\n")
	c.expect("!err too-large\n")
	c.expect("!pong\n")
	c.expect("b\n")
	c.send("c\n")
	u.next(t).done(nil)
	c.expect("c\n")
}

// 32 lines are in flight at once; the 33rd is not read until a receipt
// frees a slot.
func TestUplinkBackpressureAt32(t *testing.T) {
	u := newFakeUplink()
	_, addr, _ := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	const n = maxInFlight + 8
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d\n", i)
	}
	c.send(b.String())
	var sends []*fakeSend
	for range maxInFlight {
		sends = append(sends, u.next(t))
	}
	time.Sleep(100 * time.Millisecond)
	if got := u.count(); got != maxInFlight {
		t.Fatalf("%d lines with the Uplink, want %d", got, maxInFlight)
	}
	sends[1].done(nil) // not the head: frees nothing
	time.Sleep(50 * time.Millisecond)
	if got := u.count(); got != maxInFlight {
		t.Fatalf("%d lines with the Uplink after a receipt that cannot be written, want %d", got, maxInFlight)
	}
	sends[0].done(nil)
	c.expect("0\n")
	c.expect("1\n")
	for range 2 {
		sends = append(sends, u.next(t))
	}
	for i, s := range sends {
		if i > 1 {
			s.done(nil)
		}
	}
	for i := 2; i < n; i++ {
		if i >= len(sends) {
			sends = append(sends, u.next(t))
			sends[i].done(nil)
		}
		c.expect(fmt.Sprintf("%d\n", i))
	}
}

// A done(err) ends the connection without that receipt, after the
// receipts before it.
func TestUplinkDoneErrorCloses(t *testing.T) {
	u := newFakeUplink()
	_, addr, logs := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	c.send("a\nb\nc\n")
	a, b, cc := u.next(t), u.next(t), u.next(t)
	cc.done(nil)
	b.done(errors.New("broker said no"))
	a.done(nil)
	c.expect("a\n")
	c.expectEOF()
	gatewaytest.Eventually(t, "the disconnect logged", func() bool {
		return strings.Contains(logs.String(), `reason="uplink: broker said no"`)
	})
}

// A connection whose goroutine waits in Send, reading nothing, ends when
// its client resets or closes it: its context ends with the cause, its
// max_clients slot is free at once, and none of its later lines is taken.
func TestUplinkClientGoneWhileBlocked(t *testing.T) {
	for _, reset := range []bool{true, false} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			u := newFakeUplink()
			u.block = func(line string) bool { return line == "stuck" }
			s, addr, logs := serveUplink(t, Policy{MaxClients: 1}, u)
			c := dialLines(t, addr)
			c.hello("b1")
			c.send("ok\nstuck\nlater\n")
			u.next(t).done(nil)
			c.expect("ok\n")
			stuck := u.next(t)
			if reset {
				c.nc.(*net.TCPConn).SetLinger(0)
			}
			c.nc.Close()
			select {
			case <-stuck.returned:
			case <-time.After(10 * time.Second):
				t.Fatal("Send still waiting 10s after the client left")
			}
			if cause := context.Cause(stuck.ctx); !errors.Is(cause, ErrClientGone) {
				t.Errorf("context's cause = %v, want ErrClientGone", cause)
			}
			gatewaytest.Eventually(t, "the slot freed", func() bool { return s.Stats().Clients == 0 })
			d := dialLines(t, addr)
			d.hello("b2") // admitted: the slot is free
			d.send("new\n")
			if got := u.next(t); got.line != "new" {
				t.Fatalf("Send after the client left = %q, want only the new client's line", got.line)
			}
			gatewaytest.Eventually(t, "a disconnect line with the reason", func() bool {
				return strings.Contains(logs.String(), "reason=\"client closed the connection while its lines waited for the uplink\"")
			})
		})
	}
}

// A session replaced by a newer one with the same ID has its context
// ended before the new session's first line reaches the Uplink, and that
// line waits until the old session's Send has returned: even a line taken
// as its context ended is taken before the board's newer ones.
func TestUplinkReplacedEndsContextFirst(t *testing.T) {
	u := newFakeUplink()
	u.block = func(line string) bool { return line == "old" }
	u.takeLate = true
	_, addr, _ := serveUplink(t, Policy{}, u)
	a := dialLines(t, addr)
	a.hello("b1")
	a.send("old\n")
	old := u.next(t)
	b := dialLines(t, addr)
	b.hello("b1")
	b.send("new\n")
	nw := u.next(t)
	if old.ctx.Err() == nil {
		t.Fatalf("the new session's line reached the Uplink while the old one's context had not ended")
	}
	select {
	case <-old.returned:
	default:
		t.Fatalf("the new session's line reached the Uplink while the old session's Send had not returned")
	}
	if cause := context.Cause(old.ctx); !errors.Is(cause, ErrReplaced) {
		t.Errorf("old context's cause = %v, want ErrReplaced", cause)
	}
	nw.done(nil)
	b.expect("new\n")
}

// With an Uplink, bytes after the last LF when the connection ends are
// not a line: never passed on, counted on the disconnect line.
func TestUplinkUnfinishedTailDropped(t *testing.T) {
	u := newFakeUplink()
	u.ack = time.Millisecond
	_, addr, logs := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	c.send("whole\nhalf a li")
	c.expect("whole\n")
	c.nc.(*net.TCPConn).CloseWrite()
	c.expectEOF()
	gatewaytest.Eventually(t, "the disconnect logged", func() bool {
		return strings.Contains(logs.String(), "client disconnected")
	})
	if !strings.Contains(logs.String(), " dropped_bytes=9") {
		t.Errorf("disconnect line lacks dropped_bytes=9:\n%s", logs)
	}
	if n := u.count(); n != 1 {
		t.Errorf("%d lines passed to the Uplink, want 1 (the whole one)", n)
	}
}

// A half-closing client still gets the receipts of its lines in flight.
func TestUplinkHalfCloseGetsReceipts(t *testing.T) {
	u := newFakeUplink()
	u.ack = 20 * time.Millisecond
	_, addr, _ := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.send("a\nb\nc\n")
	c.nc.(*net.TCPConn).CloseWrite()
	for _, l := range []string{"a\n", "b\n", "c\n"} {
		c.expect(l)
	}
	c.expectEOF()
}

// Deliveries and pipelined receipts share the socket as whole lines.
func TestUplinkDeliveriesBetweenReceipts(t *testing.T) {
	u := newFakeUplink()
	u.ack = time.Millisecond
	s, addr, _ := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	const n = 300
	go func() {
		for i := range n {
			s.Deliver("b1", []byte(fmt.Sprintf("cmd %d", i)))
		}
	}()
	go func() {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", 200))
		}
		c.nc.Write([]byte(b.String()))
	}()
	receipts, msgs := 0, 0
	for receipts < n {
		line := c.readLine()
		switch {
		case strings.HasPrefix(line, "!msg cmd "):
			if want := fmt.Sprintf("!msg cmd %d\n", msgs); line != want {
				t.Fatalf("delivery %q, want %q", line, want)
			}
			msgs++
		case line == fmt.Sprintf("line %d %s\n", receipts, strings.Repeat("x", 200)):
			receipts++
		default:
			t.Fatalf("line %q: not whole, or out of order (receipt %d next)", line, receipts)
		}
	}
}

// Over TLS a receipt is never written from done (a TLS write may wait):
// the connection's goroutine or a flusher writes it, in order, whole,
// between deliveries, whether done comes inside Send or later.
func TestUplinkTLSPipelined(t *testing.T) {
	for _, ack := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			pk := newTLSPKI(t)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{Policy: Policy{Framing: FramingLine}, TLS: pk.store(t, true).Config(), Uplink: ackUplink{ack}}
			serveForTest(t, s, l)
			c, err := dialTLS(t, l.Addr().String(), pk.client(t, pk.dir, "b1"))
			if err != nil {
				t.Fatal(err)
			}
			lc := &lineClient{t: t, nc: c, r: bufio.NewReader(c)}
			lc.hello("b1")
			const n = 200
			go func() {
				for i := range n / 4 {
					s.Deliver("b1", []byte(fmt.Sprintf("cmd %d", i)))
				}
			}()
			go func() {
				var b strings.Builder
				for i := range n {
					fmt.Fprintf(&b, "line %d\n", i)
				}
				c.Write([]byte(b.String()))
			}()
			receipts, msgs := 0, 0
			for receipts < n || msgs < n/4 {
				line := lc.readLine()
				switch line {
				case fmt.Sprintf("!msg cmd %d\n", msgs):
					msgs++
				case fmt.Sprintf("line %d\n", receipts):
					receipts++
				default:
					t.Fatalf("line %q: not whole, or out of order (receipt %d, delivery %d next)", line, receipts, msgs)
				}
			}
		})
	}
}

// Shutdown writes the receipts of the lines in flight before the client
// sees EOF.
func TestUplinkShutdownWritesReceiptsInFlight(t *testing.T) {
	u := newFakeUplink()
	s, addr, _ := serveUplink(t, Policy{}, u)
	c := dialLines(t, addr)
	c.hello("b1")
	c.send("a\nb\nc\n")
	var sends []*fakeSend
	for range 3 {
		sends = append(sends, u.next(t))
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown under way
	for i := len(sends) - 1; i >= 0; i-- {
		sends[i].done(nil)
	}
	for _, l := range []string{"a\n", "b\n", "c\n"} {
		c.expect(l)
	}
	c.expectEOF()
	c.nc.Close()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// A board that sends without reading its receipts is dropped at the write
// timeout, as without an Uplink: receipts written from done never wait.
func TestUplinkStalledReaderDropped(t *testing.T) {
	for _, ack := range []time.Duration{0, time.Millisecond} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			reasons := make(chan error, 1)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s := &Server{Policy: Policy{Framing: FramingLine, WriteTimeout: 300 * time.Millisecond}, Uplink: ackUplink{ack},
				Hooks: Hooks{Disconnect: func(_ netip.AddrPort, _ int, reason error) { reasons <- reason }}}
			serveForTest(t, s, smallSendBuffers{l})
			c := dial(t, l.Addr().String())
			c.SetReadBuffer(4 << 10)
			stopped := make(chan struct{})
			defer close(stopped)
			go func() {
				chunk := []byte(strings.Repeat(strings.Repeat("y", 99)+"\n", 160))
				for {
					select {
					case <-stopped:
						return
					default:
					}
					c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
					if _, err := c.Write(chunk); err != nil && !isTimeout(err) {
						return
					}
				}
			}()
			select {
			case reason := <-reasons:
				if !errors.Is(reason, ErrWriteTimeout) {
					t.Errorf("dropped for %v, want the write timeout", reason)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("a client that never reads its receipts still connected after 20s: %+v", s.Stats())
			}
		})
	}
}

// smallSendBuffers gives accepted connections a small send buffer, so that
// receipts a client does not read fill it soon: on loopback the kernel
// would otherwise take megabytes, and the client's own sending may stall
// first.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}
