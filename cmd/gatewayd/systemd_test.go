package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET; it collects every datagram the daemon sends.
type notifySocket struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, strings.Split(strings.TrimSpace(string(buf[:k])), "\n")...)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return n
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

func (n *notifySocket) waitFor(t *testing.T, prefix string, count int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := 0
		for _, m := range n.all() {
			if strings.HasPrefix(m, prefix) {
				got++
			}
		}
		if got >= count {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q from the daemon; got %q", count, prefix, n.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSdNotify captures what systemd would see, in order: READY only once
// bound, STATUS with clients and messages, WATCHDOG at half WatchdogSec,
// RELOADING then READY around SIGHUP, STOPPING at SIGTERM.
func TestSdNotify(t *testing.T) {
	n := listenNotify(t)
	path := writeConfig(t, quietConfig)
	p := start(t, []string{"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=400000"}, "-config", path)
	addr := p.addr()
	n.waitFor(t, "READY=1", 1)
	echo(t, addr, "one")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	n.waitFor(t, "STATUS=1 client, 1 messages", 1)
	c.Close()
	n.waitFor(t, "WATCHDOG=1", 3)
	p.signal(syscall.SIGHUP)
	p.waitLog(`configuration reloaded`)
	n.waitFor(t, "READY=1", 2)
	p.stop()

	var seq []string
	for _, m := range n.all() {
		switch {
		case m == "READY=1", m == "RELOADING=1", m == "STOPPING=1":
			seq = append(seq, m)
		case strings.HasPrefix(m, "MONOTONIC_USEC="), strings.HasPrefix(m, "STATUS="), m == "WATCHDOG=1":
		default:
			t.Errorf("unexpected notification %q", m)
		}
	}
	if got, want := strings.Join(seq, " "), "READY=1 RELOADING=1 READY=1 STOPPING=1"; got != want {
		t.Errorf("notifications in order: %s; want %s", got, want)
	}
	if first := n.all()[0]; first != "READY=1" {
		t.Errorf("first notification %q, want READY=1", first)
	}
}

// TestNoReadyWhenBindFails: a daemon that cannot bind never says READY.
func TestNoReadyWhenBindFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n := listenNotify(t)
	p := start(t, []string{"NOTIFY_SOCKET=" + n.path}, "-config", writeConfig(t, "listen: \""+l.Addr().String()+"\"\ngpio:\n  driver: none\n"))
	if code := p.wait(10 * time.Second); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, m := range n.all() {
		if m == "READY=1" {
			t.Fatalf("READY=1 sent by a daemon that could not bind")
		}
	}
}

// TestSocketActivation hands gatewayd a socket with the real
// systemd-socket-activate, as gatewayd.socket does.
func TestSocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian package systemd)")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	// listen: names a port the daemon must NOT use when given a socket.
	path := writeConfig(t, "listen: \"127.0.0.1:1\"\ngpio:\n  driver: none\n")
	p := startCmd(t, exec.Command(activate, "-l", addr, binary, "-config", path), nil)
	p.waitLog(`Listening on ` + addr)
	// The daemon starts on the first connection.
	if got := echo(t, addr, "activated"); got != "activated" {
		t.Fatalf("echo = %q", got)
	}
	p.waitLog(`serving sockets passed by systemd; listen is ignored`)
	p.waitLog(`msg=listening addr=` + addr)
	p.stop()
}

// heldSocket is a listening socket on 127.0.0.1 that the test holds, as
// gatewayd.socket does, and passes to one daemon after another.
type heldSocket struct {
	addr string
	file *os.File
}

// holdSocket listens on 127.0.0.1:0 until the test ends.
func holdSocket(t *testing.T) heldSocket {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	file, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	return heldSocket{addr: l.Addr().String(), file: file}
}

// launch starts gatewayd -config path on the socket, as systemd's socket
// activation does (LISTEN_FDS/LISTEN_PID), and waits until it listens.
func (h heldSocket) launch(t *testing.T, path string) *proc {
	t.Helper()
	// LISTEN_PID must be the daemon's own pid, unknown before it
	// starts: sh learns it as $$ and exec keeps it.
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" -config "$1"`, binary, path)
	cmd.ExtraFiles = []*os.File{h.file} // fd 3, SD_LISTEN_FDS_START
	p := startCmd(t, cmd, nil)
	p.waitLog(`msg=listening addr=` + h.addr)
	return p
}

// TestRestartRefusesNothing plays systemd's part in a restart under load:
// the test holds the listening socket, as gatewayd.socket does, and passes
// it to one daemon after another (LISTEN_FDS/LISTEN_PID), while clients
// dial and talk without pause. No dial may be refused and no echo lost.
func TestRestartRefusesNothing(t *testing.T) {
	sock := holdSocket(t)
	addr := sock.addr
	path := writeConfig(t, "listen: \"127.0.0.1:1\"\nshutdown_timeout: 5s\ngpio:\n  driver: none\n")

	launch := func() *proc { return sock.launch(t, path) }

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var echoes, refused, lost atomic.Int64
	var firstErr atomic.Value
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				err := converse(addr, w, i)
				switch {
				case err == nil:
					echoes.Add(1)
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
					firstErr.CompareAndSwap(nil, err)
				default:
					lost.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}

	p := launch()
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		p.stop()
		p = launch()
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	p.stop()
	t.Logf("%d conversations across 3 restarts: %d refused, %d lost", echoes.Load(), refused.Load(), lost.Load())
	if refused.Load() > 0 || lost.Load() > 0 {
		t.Fatalf("%d refused, %d lost; first error: %v", refused.Load(), lost.Load(), firstErr.Load())
	}
	if echoes.Load() < 20 {
		t.Fatalf("only %d conversations completed", echoes.Load())
	}
}

// errNotEchoed means the daemon sent EOF before any of a message's echo:
// it had already stopped reading, so the message was never received and a
// client resends it on a new connection, as the ESP32 clients do. That is
// the contract of a drain: everything before EOF was echoed.
var errNotEchoed = errors.New("EOF before the echo: not received, resend")

// converse is one short client session: dial, a few messages, close. A
// message the daemon did not take is resent on a new connection; only a
// refused dial or a missing, partial or wrong echo is a failure.
func converse(addr string, worker, n int) error {
	for k := 0; k < 3; {
		msg := []byte(strings.Repeat(string(rune('a'+(worker+n+k)%26)), 10+k))
		sent, err := conversation(addr, msg, k)
		k += sent
		if errors.Is(err, errNotEchoed) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// conversation sends messages from msg on one connection and returns how
// many came back.
func conversation(addr string, msg []byte, done int) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	echoed := 0
	for k := done; k < 3; k++ {
		if _, err := c.Write(msg); err != nil {
			return echoed, errNotEchoed
		}
		got := make([]byte, len(msg))
		n, err := io.ReadFull(c, got)
		switch {
		case n == 0 && err == io.EOF:
			return echoed, errNotEchoed
		case err != nil:
			return echoed, errors.New("echo lost: " + err.Error())
		case string(got) != string(msg):
			return echoed, errors.New("echo differs")
		}
		echoed++
		msg = append(msg, msg[0])
	}
	return echoed, nil
}
