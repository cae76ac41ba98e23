package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// startBoardGatewayd runs the real daemon with line framing and its
// control socket in a runtime directory of its own, as systemd gives it.
func startBoardGatewayd(t *testing.T) (*process, string, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("RUNTIME_DIRECTORY", dir)
	p, addr := startGatewayd(t, "framing: line\n")
	return p, addr, filepath.Join(dir, "gatewayd.sock")
}

// helloBoard connects as board id and returns a reader of what it is sent.
func helloBoard(t *testing.T, addr, id string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	io.WriteString(c, "!hello "+id+" fw=1.0\nt=21.5\n")
	for _, want := range []string{"!ok " + id + "\n", "t=21.5\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("board %s read %q, %v; want %q", id, got, err, want)
		}
	}
	return c, r
}

func TestBoardsAndTellAgainstGatewayd(t *testing.T) {
	p, addr, sock := startBoardGatewayd(t)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("no control socket: %v\n%s", err, p.logText())
	}
	if fi.Mode().Perm() != control.SocketMode {
		t.Errorf("socket mode %v, want %v", fi.Mode().Perm(), os.FileMode(control.SocketMode))
	}

	if r := ctl(t, nil, "boards", "-socket", sock); r.code != 0 || r.stdout != "no boards connected\n" {
		t.Errorf("boards with none: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	c1, r1 := helloBoard(t, addr, "kitchen-1")
	helloBoard(t, addr, "garage")

	r := ctl(t, nil, "boards", "-socket", sock)
	if r.code != 0 {
		t.Fatalf("boards: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	header := regexp.MustCompile(`^ID +REMOTE +CONNECTED SINCE +IN +OUT +LAST SEEN +TLS$`)
	row := regexp.MustCompile(`^(\S+) +127\.0\.0\.1:(\d+) +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +2 +1 +(now|\d+s ago) +no$`)
	if len(lines) != 3 || !header.MatchString(lines[0]) {
		t.Fatalf("boards printed:\n%s", r.stdout)
	}
	for i, id := range []string{"garage", "kitchen-1"} {
		if m := row.FindStringSubmatch(lines[i+1]); m == nil || m[1] != id {
			t.Errorf("row %d = %q, want board %s matching %v", i+1, lines[i+1], id, row)
		}
	}
	if !strings.Contains(lines[2], c1.LocalAddr().String()) {
		t.Errorf("kitchen-1's row %q lacks its address %s", lines[2], c1.LocalAddr())
	}

	if r := ctl(t, nil, "tell", "-socket", sock, "kitchen-1", "led", "on"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("tell: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got, err := r1.ReadString('\n'); got != "!msg led on\n" {
		t.Errorf("board read %q, %v; want the delivery", got, err)
	}

	failures := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tell", "-socket", sock, "attic", "hi"}, 1, "gatewayctl: gatewayd: board \"attic\" is not connected\n"},
		{[]string{"tell", "-socket", sock, "a b", "hi"}, 2, "gatewayctl tell: bad board ID \"a b\": 1 to 64 characters of A-Z a-z 0-9 . _ -\n"},
		{[]string{"tell", "-socket", sock, "kitchen-1"}, 2, "gatewayctl tell: want a board ID and a message\n"},
		{[]string{"boards", "-socket", sock + ".none"}, 1, "gatewayctl: cannot reach gatewayd's control socket " + sock + ".none: no such file or directory (is gatewayd running, with its control socket there?)\n"},
	}
	for _, f := range failures {
		r := ctl(t, nil, f.args...)
		if r.code != f.code || !strings.HasPrefix(r.stderr, f.want) {
			t.Errorf("gatewayctl %q: exit %d, stderr %q; want %d, %q", f.args, r.code, r.stderr, f.code, f.want)
		}
	}

	// status reads the same socket and prints what the metrics endpoint did.
	r = ctl(t, nil, "status", "-socket", sock)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`^gatewayd dev \(commit unknown, go[^)]+\) at ` + regexp.QuoteMeta(sock) + "\n"),
		regexp.MustCompile(`(?m)^health +ok$`),
		regexp.MustCompile(`(?m)^clients +2 connected$`),
		regexp.MustCompile(`(?m)^connections +2 accepted, 0 rejected$`),
		regexp.MustCompile(`(?m)^messages +4 in, 2 out$`),
		regexp.MustCompile(`(?m)^LEDs +\d+ changes, \d+ events coalesced$`),
		regexp.MustCompile(`(?m)^GPIO errors +0$`),
	} {
		if !re.MatchString(r.stdout) {
			t.Errorf("status stdout %q does not match %v (exit %d, stderr %q)", r.stdout, re, r.code, r.stderr)
		}
	}
}

// The socket file goes with the daemon, and one left by a killed daemon is
// replaced by the next.
func TestControlSocketLifetime(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RUNTIME_DIRECTORY", dir)
	sock := filepath.Join(dir, "gatewayd.sock")
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	p, _ := startGatewayd(t, "framing: line\n")
	if r := ctl(t, nil, "boards", "-socket", sock); r.code != 0 {
		t.Fatalf("boards over a replaced stale socket: exit %d, stderr %q\n%s", r.code, r.stderr, p.logText())
	}
	// A second daemon with the same runtime directory is refused.
	cfg := filepath.Join(t.TempDir(), "second.yaml")
	os.WriteFile(cfg, []byte("listen: \"127.0.0.1:0\"\ngpio: {driver: none}\n"), 0o644)
	out, err := runGatewaydOnce(t, cfg)
	if err == nil || !strings.Contains(out, `control: \"`+sock+`\" is in use: is another gatewayd running?`) {
		t.Errorf("second daemon: %v, log:\n%s", err, out)
	}
	p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	p.cmd.Wait()
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket after the daemon stopped: %v; want it removed", err)
	}
}

// runGatewaydOnce runs a daemon that is expected to stop by itself, and
// returns its log.
func runGatewaydOnce(t *testing.T, cfg string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin.gatewayd, "-config", cfg).CombinedOutput()
	return string(out), err
}
