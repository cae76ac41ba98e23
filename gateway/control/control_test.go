package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gatewayd/gatewayd/gateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestListenMode(t *testing.T) {
	old := syscall.Umask(0o077) // as systemd's UMask=0077 sets it
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "gatewayd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got.Type() != os.ModeSocket || got.Perm() != SocketMode {
		t.Errorf("mode = %v, want socket with %v", got, os.FileMode(SocketMode))
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getegid() {
		t.Errorf("group = %d, want the daemon's %d", gid, os.Getegid())
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after close: %v; want it removed", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatewayd.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false) // as a killed daemon leaves it
	stale.Close()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
}

func TestListenRefuses(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.sock")
	other, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
	}{
		{live, `control: "` + live + `" is in use: is another gatewayd running? Stop it or set control to another path`},
		{file, `control: "` + file + `" exists and is not a socket: remove it or set control to another path`},
	}
	for _, tt := range tests {
		l, err := Listen(tt.path)
		if err == nil {
			l.Close()
			t.Errorf("Listen(%s) succeeded; want it refused", tt.path)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Listen(%s) = %q, want %q", tt.path, err, tt.want)
		}
	}
	if data, _ := os.ReadFile(file); string(data) != "keep me" {
		t.Errorf("the file in the way was changed: %q", data)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the other daemon's socket no longer answers: %v", err)
	} else {
		c.Close()
	}
}

// startAPI serves a gateway with line framing and the control API over a
// real Unix socket.
func startAPI(t *testing.T) (*gateway.Server, string, *Client) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := &gateway.Server{Policy: gateway.Policy{Framing: gateway.FramingLine}, Logger: log}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { gw.Serve(tl); close(served) }()

	path := filepath.Join(t.TempDir(), "gatewayd.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	cs := &Server{
		Status: func() Status {
			st := gw.Stats()
			return Status{Version: "1.2.3", Healthy: true, Health: "ok", Clients: st.Clients, Boards: len(gw.Boards())}
		},
		Boards:  gw.Boards,
		Deliver: gw.Deliver,
		Logger:  log,
	}
	done := make(chan error, 1)
	go func() { done <- cs.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cs.Shutdown(ctx); err != nil {
			t.Errorf("control Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("control Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file after shutdown: %v; want it removed", err)
		}
		gw.Close()
		<-served
	})
	return gw, tl.Addr().String(), NewClient(path)
}

func TestAPI(t *testing.T) {
	_, addr, client := startAPI(t)
	ctx := context.Background()

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	// The !ping is a barrier: "first" is counted after it is written,
	// and the pong comes after that.
	io.WriteString(nc, "!hello b1 fw=0.9\nfirst\n!ping\n")
	for _, want := range []string{"!ok b1\n", "first\n", "!pong\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("board read %q, %v; want %q", got, err, want)
		}
	}

	bs, err := client.Boards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != "b1" || bs[0].Remote != nc.LocalAddr().String() || bs[0].FW != "0.9" || bs[0].MessagesIn != 3 || bs[0].MessagesOut != 1 || bs[0].TLS || bs[0].Since.IsZero() {
		t.Errorf("Boards() = %+v", bs)
	}

	if err := client.Tell(ctx, "b1", "led on"); err != nil {
		t.Fatalf("Tell: %v", err)
	}
	if got, err := r.ReadString('\n'); got != "!msg led on\n" {
		t.Errorf("board read %q, %v; want the delivery", got, err)
	}

	err = client.Tell(ctx, "b9", "x")
	if !errors.Is(err, ErrNoSuchBoard) || err.Error() != `gatewayd: board "b9" is not connected` {
		t.Errorf("Tell to an unknown board = %v", err)
	}
	err = client.Tell(ctx, "b1", "two\nlines")
	if err == nil || !strings.Contains(err.Error(), "a message must be one line") {
		t.Errorf("Tell of two lines = %v, want a one-line refusal", err)
	}

	st, err := client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "1.2.3" || !st.Healthy || st.Clients != 1 || st.Boards != 1 {
		t.Errorf("Status() = %+v", st)
	}
}

// Requests that gatewayctl never makes, as curl might send them.
func TestAPIRefusals(t *testing.T) {
	_, _, client := startAPI(t)
	tests := []struct {
		method, path, ctype, body string
		code                      int
	}{
		{"POST", "/v1/boards/b1/messages", "application/x-www-form-urlencoded", "x", http.StatusUnsupportedMediaType},
		{"POST", "/v1/boards/b1/messages", "text/plain", "x", http.StatusNotFound},
		{"POST", "/v1/boards/b%201/messages", "text/plain", "x", http.StatusBadRequest},
		{"POST", "/v1/boards/b1/messages", "text/plain", strings.Repeat("x", maxBodyBytes+1), http.StatusRequestEntityTooLarge},
		{"GET", "/v1/boards/b1/messages", "", "", http.StatusMethodNotAllowed},
		{"DELETE", "/v1/status", "", "", http.StatusMethodNotAllowed},
		{"GET", "/v2/status", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://gatewayd"+tt.path, strings.NewReader(tt.body))
		if tt.ctype != "" {
			req.Header.Set("Content-Type", tt.ctype)
		}
		resp, err := client.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s (%s) = %d, want %d", tt.method, tt.path, tt.ctype, resp.StatusCode, tt.code)
		}
	}
}

func TestClientErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.sock")
	_, err := NewClient(missing).Status(context.Background())
	want := "cannot reach gatewayd's control socket " + missing + ": no such file or directory (is gatewayd running, with its control socket there?)"
	if err == nil || err.Error() != want {
		t.Errorf("Status on a missing socket = %v\nwant %s", err, want)
	}
}

// GET /v1/mqtt/dead-letters lists what DeadLetters returns, bytes
// unchanged; without a bridge it is a 404 saying so.
func TestDeadLettersEndpoint(t *testing.T) {
	line := []byte("t=1 \xff raw")
	s := &Server{DeadLetters: func() ([]DeadLetter, error) { return []DeadLetter{{Board: "b1", Line: line}}, nil }}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/mqtt/dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	var dl []DeadLetter
	err = json.NewDecoder(resp.Body).Decode(&dl)
	resp.Body.Close()
	if err != nil || len(dl) != 1 || dl[0].Board != "b1" || !bytes.Equal(dl[0].Line, line) {
		t.Errorf("dead letters = %+v, %v", dl, err)
	}
	s.DeadLetters = nil
	resp, err = http.Get(srv.URL + "/v1/mqtt/dead-letters")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "bridge is off") {
		t.Errorf("without a bridge: %d %s", resp.StatusCode, body)
	}
}
