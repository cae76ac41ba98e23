// Package esp32 holds the ESP32 clients of gatewayd (an Arduino sketch and a
// MicroPython client) and the tests that run them from Go against a real
// gatewayd: the sketch compiled unchanged with g++ against hostshim/ (the
// Arduino-ESP32 API on Linux), the MicroPython client under CPython and
// under the MicroPython interpreter built for WebAssembly.
package esp32

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// built holds the binaries built once per test run, by package.
var built struct {
	mu   sync.Mutex
	bins map[string]string
}

// binary returns the binary the environment variable env names (to test an
// installed or packaged build), or else the main package pkg built once per
// run into sharedDir; with race where the toolchain can, so gatewayd's own
// goroutines are checked while the clients drive it.
func binary(t *testing.T, pkg, env string, race bool) string {
	t.Helper()
	if bin := os.Getenv(env); bin != "" {
		return bin
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if bin, ok := built.bins[pkg]; ok {
		return bin
	}
	bin, err := gatewaytest.Build(sharedDir, pkg, gatewaytest.BuildOptions{Race: race})
	if err != nil {
		t.Fatal(err)
	}
	if built.bins == nil {
		built.bins = map[string]string{}
	}
	built.bins[pkg] = bin
	return bin
}

func gatewaydBinary(t *testing.T) string {
	return binary(t, gatewaytest.Gatewayd, "GATEWAYD_BIN", true)
}

func gatewayctlBinary(t *testing.T) string {
	return binary(t, "github.com/gatewayd/gatewayd/cmd/gatewayctl", "GATEWAYCTL_BIN", false)
}

// sharedDir holds what is built once for the whole run (binaries, the
// shim's objects); TestMain removes it.
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "esp32-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// gateway is one gatewayd configuration: where it listens, its control
// socket, and the YAML.
type gateway struct {
	bin, cfg, addr, socket string
}

// newGateway writes a configuration listening on a fresh loopback port,
// with its control socket in the test's temporary directory and extra YAML
// appended.
func newGateway(t *testing.T, framing, extra string) *gateway {
	t.Helper()
	g := &gateway{bin: gatewaydBinary(t), addr: freeAddr(t)}
	dir := t.TempDir()
	g.socket = filepath.Join(dir, "gatewayd.sock")
	g.cfg = filepath.Join(dir, "gatewayd.yaml")
	body := fmt.Sprintf("listen: %q\nframing: %s\ngpio: {driver: none}\nlog: {level: debug}\ncontrol: %q\n%s",
		g.addr, framing, g.socket, extra)
	if err := os.WriteFile(g.cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return g
}

type daemon struct {
	cmd    *exec.Cmd
	stderr *gatewaytest.Buffer
	done   chan error
}

// start runs gatewayd and waits for its `msg=listening` line.
func (g *gateway) start(t *testing.T) *daemon {
	t.Helper()
	d := &daemon{stderr: &gatewaytest.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(g.bin, "-config", g.cfg)
	d.cmd.Stderr = d.stderr
	d.cmd.Stdout = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start gatewayd: %v", err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	want := "msg=listening addr=" + g.addr
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(d.stderr.String(), want) {
		select {
		case err := <-d.done:
			t.Fatalf("gatewayd exited before listening (%v); its log:\n%s", err, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in gatewayd's log after 15s:\n%s", want, d.stderr.String())
		}
	}
	return d
}

// stop sends SIGTERM and expects a clean exit (status 0) within 15 s.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM gatewayd: %v", err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("gatewayd after SIGTERM: %v; its log:\n%s", err, d.stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("gatewayd still running 15s after SIGTERM; its log:\n%s", d.stderr.String())
	}
}

// crash freezes gatewayd for a moment, so lines the client sends meanwhile
// get no receipt, then kills it with SIGKILL: nothing is flushed.
func (d *daemon) crash(t *testing.T, frozen time.Duration) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP gatewayd: %v", err)
	}
	time.Sleep(frozen)
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL gatewayd: %v", err)
	}
	<-d.done
}

// tell runs `gatewayctl tell ID MESSAGE` against g's control socket. On
// failure it shows the daemon's log and the client's console.
func (g *gateway) tell(t *testing.T, d *daemon, c *console, id, msg string) {
	t.Helper()
	out, err := exec.Command(gatewayctlBinary(t), "tell", "-socket", g.socket, id, msg).CombinedOutput()
	if err != nil {
		t.Fatalf("gatewayctl tell %s %q: %v\n%s\ngatewayd's log:\n%s\nthe client's console:\n%s", id, msg, err, out, d.stderr.String(), c.text())
	}
}

// console follows a client's output line by line so a test can wait for
// what a person watching the serial console would see.
type console struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  bool
}

func newConsole(r io.Reader) *console {
	c := &console{}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.cond.Broadcast()
			c.mu.Unlock()
		}
		c.mu.Lock()
		c.done = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	return c
}

// waitFor blocks until a line matches re (searching from line from) and
// returns its index, or fails the test after timeout or at EOF.
func (c *console) waitFor(t *testing.T, re *regexp.Regexp, from int, timeout time.Duration, why string) int {
	t.Helper()
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; ; {
		for ; i < len(c.lines); i++ {
			if re.MatchString(c.lines[i]) {
				return i
			}
		}
		if c.done || time.Now().After(deadline) {
			t.Fatalf("%s: no line matching %q within %v; the console:\n%s", why, re, timeout, strings.Join(c.lines, "\n"))
		}
		c.cond.Wait()
	}
}

// line is line i of the output.
func (c *console) line(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[i]
}

// text is everything printed so far.
func (c *console) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// waitDone waits for EOF on the output (the process ended).
func (c *console) waitDone(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.done && time.Now().Before(deadline) {
		c.cond.Wait()
	}
	return c.done
}

// receipted returns the seqs of every receipt line in out, as matched by re
// (one submatch: the seq).
func receipted(out string, re *regexp.Regexp) map[int]int {
	seen := map[int]int{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n]++
	}
	return seen
}

// missing lists the seqs in [0, n) that are not in seen.
func missing(seen map[int]int, n int) []int {
	var out []int
	for i := 0; i < n; i++ {
		if seen[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

// runCtx is the context a client process runs under: bounded, so a hung
// client fails the test instead of hanging it.
func runCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
