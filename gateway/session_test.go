package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lineClient speaks the `!` protocol to a server in a test.
type lineClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialLines(t *testing.T, addr string) *lineClient {
	t.Helper()
	nc := dial(t, addr)
	return &lineClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *lineClient) send(line string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, line); err != nil {
		c.t.Fatalf("write %q: %v", line, err)
	}
}

// readLine returns the next line, LF included, or fails the test.
func (c *lineClient) readLine() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: got %q, %v", line, err)
	}
	return line
}

func (c *lineClient) expect(want string) {
	c.t.Helper()
	if got := c.readLine(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectEOF checks that the server has closed the connection.
func (c *lineClient) expectEOF() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := c.r.ReadString('\n')
	if rest != "" || err == nil {
		c.t.Fatalf("read %q, %v; want the connection closed", rest, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after 10s; want it closed")
	}
}

// hello says hello as id and expects the !ok.
func (c *lineClient) hello(id string) {
	c.t.Helper()
	c.send("!hello " + id + "\n")
	c.expect("!ok " + id + "\n")
}

func linePolicy() Policy { return Policy{Framing: FramingLine} }

func TestBoardSession(t *testing.T) {
	s, addr, logs := startServer(t, linePolicy(), Hooks{})
	c := dialLines(t, addr)
	c.send("!hello kitchen-1 fw=1.4.2\n")
	c.expect("!ok kitchen-1\n")
	steps := []struct{ send, want string }{
		{"temp=21.5\n", "temp=21.5\n"}, // the receipt
		{"!ping\n", "!pong\n"},
		{"!reboot now\n", "!err unknown-command\n"},
		{"!ping\r\n", "!pong\n"},
		{"still here\n", "still here\n"},
		// The server counts a receipt after writing it, so the client
		// can read it before it is counted; a reply comes after, in
		// order, and so is a barrier.
		{"!ping\n", "!pong\n"},
	}
	for _, st := range steps {
		c.send(st.send)
		c.expect(st.want)
	}
	local := c.nc.LocalAddr().String()
	want := fmt.Sprintf("msg=\"board hello\" board=kitchen-1 remote=%s fw=1.4.2", local)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
	bs := s.Boards()
	if len(bs) != 1 || bs[0].ID != "kitchen-1" || bs[0].Remote.String() != local || bs[0].FW != "1.4.2" || bs[0].TLS {
		t.Fatalf("Boards() = %+v, want kitchen-1 at %s", bs, local)
	}
	// In: the hello and six lines; out: two receipts (replies are not
	// messages).
	if b := bs[0]; b.MessagesIn != 7 || b.MessagesOut != 2 || b.BytesIn == 0 || b.BytesOut == 0 || b.LastSeen.Before(b.Since) {
		t.Errorf("figures = %+v", b)
	}
	c.nc.Close()
	gatewaytest.Eventually(t, "the disconnect logged", func() bool {
		return strings.Contains(logs.String(), "msg=\"client disconnected\" board=kitchen-1 remote="+local)
	})
	if bs := s.Boards(); len(bs) != 0 {
		t.Errorf("Boards() after the board left = %+v", bs)
	}
}

// A client that never says hello is served exactly as before: a line that
// starts with ! is data to it.
func TestAnonymousBangLinesAreData(t *testing.T) {
	s, addr, _ := startServer(t, linePolicy(), Hooks{})
	c := dialLines(t, addr)
	for _, line := range []string{"hi\n", "!ping\n", "!err x\n", "!msg y\n"} {
		c.send(line)
		c.expect(line)
	}
	if bs := s.Boards(); len(bs) != 0 {
		t.Errorf("Boards() = %+v, want none", bs)
	}
}

func TestHelloUnderRawFramingIsData(t *testing.T) {
	s, addr, _ := startServer(t, Policy{Framing: FramingRaw, RequireHello: true}, Hooks{})
	c := dial(t, addr)
	for _, msg := range []string{"!hello b1\n", "no hello here\n"} {
		if got, err := roundTrip(c, []byte(msg)); err != nil || string(got) != msg {
			t.Fatalf("raw echo of %q = %q, %v", msg, got, err)
		}
	}
	if bs := s.Boards(); len(bs) != 0 {
		t.Errorf("Boards() = %+v, want none under raw framing", bs)
	}
}

// Every !err that answers a hello comes with a close and one log line that
// names the remote and never the token.
func TestHelloRefused(t *testing.T) {
	tokens := map[string]string{"b1": "s3cret-t0ken"}
	tests := []struct {
		name   string
		policy Policy
		send   string
		want   string // the first line of the answer
	}{
		{"bad ID", linePolicy(), "!hello b/1\n", "!err bad-hello the ID may hold only A-Z a-z 0-9 . _ -\n"},
		{"no ID", linePolicy(), "!hello\n", "!err bad-hello want !hello ID [token=TOKEN] [fw=VERSION]\n"},
		{"stray word", linePolicy(), "!hello b1 extra\n", "!err bad-hello a word without key= after the ID\n"},
		{"unknown key", linePolicy(), "!hello b1 colour=red\n", "!err bad-hello unknown key \"colour\" (want token= or fw=)\n"},
		{"too long", linePolicy(), "!hello b1 fw=" + strings.Repeat("v", 250) + "\n", "!err bad-hello longer than 256 bytes\n"},
		{"not the first line", linePolicy(), "data\n!hello b1\n", "data\n"},
		{"reserved", linePolicy(), "!hello ip-10-0-0-1\n", "!err reserved IDs starting with \"ip-\" name clients that never said hello\n"},
		{"hello required", Policy{Framing: FramingLine, RequireHello: true}, "data\n", "!err hello-required the first line must be !hello ID\n"},
		{"unknown board", Policy{Framing: FramingLine, Tokens: tokens, RequireToken: true}, "!hello b2 token=s3cret-t0ken\n", "!err unknown-board not listed in tokens_file\n"},
		{"wrong token", Policy{Framing: FramingLine, Tokens: tokens}, "!hello b1 token=s3cret-t0kem\n", "!err bad-token\n"},
		{"missing token", Policy{Framing: FramingLine, Tokens: tokens}, "!hello b1\n", "!err bad-token\n"},
		{"token for another board", Policy{Framing: FramingLine, Tokens: map[string]string{"b1": "x", "b2": "s3cret-t0ken"}}, "!hello b1 token=s3cret-t0ken\n", "!err bad-token\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, logs := startServer(t, tt.policy, Hooks{})
			c := dialLines(t, addr)
			c.send(tt.send)
			c.expect(tt.want)
			if tt.name == "not the first line" {
				c.expect("!err bad-hello a hello must be the first line\n")
			}
			c.expectEOF()
			local := c.nc.LocalAddr().String()
			gatewaytest.Eventually(t, "the disconnect logged", func() bool { return strings.Contains(logs.String(), "client disconnected") })
			out := logs.String()
			if n := strings.Count(out, "msg=\"board hello refused\" remote="+local); n != 1 {
				t.Errorf("%d refusal lines naming remote %s, want 1:\n%s", n, local, out)
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("logs show the token:\n%s", out)
			}
			if len(s.Boards()) != 0 {
				t.Errorf("Boards() = %+v, want none", s.Boards())
			}
		})
	}
}

func TestHelloAccepted(t *testing.T) {
	tokens := map[string]string{"b1": "s3cret-t0ken"}
	tests := []struct {
		name   string
		policy Policy
		send   string
	}{
		{"right token", Policy{Framing: FramingLine, Tokens: tokens, RequireToken: true}, "!hello b1 token=s3cret-t0ken fw=2\n"},
		{"unlisted board, tokens optional", Policy{Framing: FramingLine, Tokens: tokens}, "!hello b2\n"},
		{"hello required and given", Policy{Framing: FramingLine, RequireHello: true, HelloTimeout: time.Minute}, "!hello b1\n"},
		{"Arduino println", linePolicy(), "!hello b1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr, logs := startServer(t, tt.policy, Hooks{})
			c := dialLines(t, addr)
			c.send(tt.send)
			id := strings.Fields(tt.send)[1]
			c.expect("!ok " + id + "\n")
			c.send("x\n")
			c.expect("x\n")
			if bs := s.Boards(); len(bs) != 1 || bs[0].ID != id {
				t.Errorf("Boards() = %+v, want %s", bs, id)
			}
			// The debug log of payloads hides the token too.
			if strings.Contains(logs.String(), "s3cret") {
				t.Errorf("logs show the token:\n%s", logs)
			}
		})
	}
}

func TestHelloTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, addr, logs := startServer(t, Policy{Framing: FramingLine, RequireHello: true, HelloTimeout: timeout, IdleTimeout: time.Minute}, Hooks{})

	// The clock starts before the dial: the server may accept, and start
	// its own, before the dial returns here.
	start := time.Now()
	silent := dialLines(t, addr)
	silent.expectEOF()
	if waited := time.Since(start); waited < timeout {
		t.Errorf("closed after %v, before the hello timeout of %v", waited, timeout)
	}
	gatewaytest.Eventually(t, "the reason logged", func() bool { return strings.Contains(logs.String(), `reason="no hello within hello_timeout"`) })

	// A partial first line is no hello either.
	partial := dialLines(t, addr)
	partial.send("!hello b")
	partial.expectEOF()

	// Once named, the hello timeout no longer applies.
	named := dialLines(t, addr)
	named.hello("b1")
	time.Sleep(2 * timeout)
	named.send("!ping\n")
	named.expect("!pong\n")
}

func TestReplacement(t *testing.T) {
	var ups, downs atomic.Int32
	s, addr, logs := startServer(t, linePolicy(), Hooks{})
	s.OnBoard(func(e BoardEvent) {
		if e.Up {
			ups.Add(1)
		} else {
			downs.Add(1)
		}
	})
	old := dialLines(t, addr)
	old.hello("b1")
	fresh := dialLines(t, addr)
	fresh.hello("b1")
	old.expect("!err replaced\n")
	old.expectEOF()
	fresh.send("after\n")
	fresh.expect("after\n")
	bs := s.Boards()
	if len(bs) != 1 || bs[0].Remote.String() != fresh.nc.LocalAddr().String() {
		t.Fatalf("Boards() = %+v, want only the new session at %s", bs, fresh.nc.LocalAddr())
	}
	gatewaytest.Eventually(t, "the replaced session's disconnect", func() bool {
		return strings.Contains(logs.String(), "reason=\"replaced by a newer session with the same board ID\"")
	})
	if u, d := ups.Load(), downs.Load(); u != 1 || d != 0 {
		t.Errorf("BoardUp %d, BoardDown %d times; want 1, 0: the board never left", u, d)
	}
	fresh.nc.Close()
	gatewaytest.Eventually(t, "BoardDown", func() bool { return downs.Load() == 1 })
}

// Pairs of sessions race for the same ID: each pair ends with exactly one
// session, the other told it was replaced, and no listing ever shows two.
func TestReplacementRace(t *testing.T) {
	const pairs = 100
	s, addr, _ := startServer(t, linePolicy(), Hooks{})

	stop := make(chan struct{})
	var listErr atomic.Value
	var lister sync.WaitGroup
	lister.Add(1)
	go func() {
		defer lister.Done()
		for {
			seen := map[string]bool{}
			for _, b := range s.Boards() {
				if seen[b.ID] {
					listErr.Store(fmt.Sprintf("Boards() lists %s twice", b.ID))
				}
				seen[b.ID] = true
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()

	type result struct {
		pair, side int
		replaced   bool
	}
	results := make(chan result, 2*pairs)
	conns := make([][2]*lineClient, pairs)
	var wg sync.WaitGroup
	for p := range pairs {
		for side := range 2 {
			c := dialLines(t, addr)
			conns[p][side] = c
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("b%d", p)
				c.nc.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := io.WriteString(c.nc, "!hello "+id+"\n"); err != nil {
					t.Errorf("pair %d: %v", p, err)
					return
				}
				if line, err := c.r.ReadString('\n'); line != "!ok "+id+"\n" {
					t.Errorf("pair %d: got %q, %v; want !ok", p, line, err)
					return
				}
				// The loser's next line is !err replaced; the winner's
				// never comes, until the test closes it.
				line, _ := c.r.ReadString('\n')
				results <- result{p, side, line == "!err replaced\n"}
			}()
		}
	}
	replaced := make([]int, pairs)
	winner := make([]int, pairs)
	for range pairs {
		select {
		case r := <-results:
			if !r.replaced {
				t.Fatalf("pair %d side %d: connection ended without !err replaced", r.pair, r.side)
			}
			replaced[r.pair]++
			winner[r.pair] = 1 - r.side
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for the replaced sessions")
		}
	}
	close(stop)
	lister.Wait()
	if e := listErr.Load(); e != nil {
		t.Error(e)
	}
	bs := s.Boards()
	if len(bs) != pairs {
		t.Errorf("Boards() has %d sessions, want %d", len(bs), pairs)
	}
	for _, b := range bs {
		var p int
		fmt.Sscanf(b.ID, "b%d", &p)
		if replaced[p] != 1 {
			t.Errorf("pair %d: %d sessions replaced, want 1", p, replaced[p])
		}
		if want := conns[p][winner[p]].nc.LocalAddr().String(); b.Remote.String() != want {
			t.Errorf("board %s at %s, want the surviving session at %s", b.ID, b.Remote, want)
		}
	}
	for p := range conns {
		for _, c := range conns[p] {
			c.nc.Close()
		}
	}
	wg.Wait()
}

// Every board listener hears every board coming and going, in the order
// the listeners were added: none wraps or replaces another.
func TestBoardListeners(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	listen := func(name string) func(BoardEvent) {
		return func(e BoardEvent) {
			mu.Lock()
			defer mu.Unlock()
			heard = append(heard, fmt.Sprintf("%s %s up=%v clean=%v", name, e.ID, e.Up, e.Reason == nil))
		}
	}
	s, addr, _ := startServer(t, linePolicy(), Hooks{})
	s.OnBoard(listen("first"))
	s.OnBoard(listen("second"))
	b := dialLines(t, addr)
	b.hello("b1")
	b.send("x\n")
	b.expect("x\n")
	b.nc.Close()
	want := []string{"first b1 up=true clean=true", "second b1 up=true clean=true", "first b1 up=false clean=true", "second b1 up=false clean=true"}
	gatewaytest.Eventually(t, "both listeners told of b1 going", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(heard) == len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(heard, want) {
		t.Errorf("heard %q, want %q", heard, want)
	}
}
