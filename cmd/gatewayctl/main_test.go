package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"go.uber.org/goleak"
)

// Binaries built once for the whole test run.
var bin struct {
	ctl, gatewayd, baseline string
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gatewayctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, b := range []struct {
		out *string
		pkg string
		o   gatewaytest.BuildOptions
	}{
		{&bin.ctl, "github.com/gatewayd/gatewayd/cmd/gatewayctl", gatewaytest.BuildOptions{Flags: []string{"-ldflags=-X main.version=v9.8.7-test -X main.commit=c0ffee"}}},
		{&bin.gatewayd, gatewaytest.Gatewayd, gatewaytest.BuildOptions{}},
		{&bin.baseline, "github.com/gatewayd/gatewayd/cmd/internal/echobaseline", gatewaytest.BuildOptions{}},
	} {
		if *b.out, err = gatewaytest.Build(dir, b.pkg, b.o); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// result is what a finished gatewayctl process showed.
type result struct {
	stdout, stderr string
	code           int
}

// ctl runs the built gatewayctl with stdin and args.
func ctl(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	return ctlReader(t, bytes.NewReader(stdin), args...)
}

// ctlReader runs the built gatewayctl reading stdin from r.
func ctlReader(t *testing.T, r io.Reader, args ...string) result {
	t.Helper()
	return ctlIn(t, r, "", nil, args...)
}

// ctlIn runs the built gatewayctl in dir ("": the test's) with env (nil:
// the test's environment).
func ctlIn(t *testing.T, r io.Reader, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.ctl, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdin = r
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("gatewayctl %q: %v", args, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// process is a server binary started by a test.
type process struct {
	cmd  *exec.Cmd
	log  gatewaytest.Buffer // its stderr
	done chan struct{}
}

func (p *process) logText() string {
	return p.log.String()
}

// startProcess runs path with args and waits for each of the patterns to
// match a line of its stderr, returning the first submatch of each. The
// process gets SIGTERM at the end of the test.
func startProcess(t *testing.T, path string, args []string, patterns ...*regexp.Regexp) (*process, []string) {
	t.Helper()
	return startCmd(t, exec.Command(path, args...), patterns...)
}

// startCmd is startProcess for a command already set up (its environment,
// its working directory).
func startCmd(t *testing.T, cmd *exec.Cmd, patterns ...*regexp.Regexp) (*process, []string) {
	t.Helper()
	path := cmd.Path
	p := &process{cmd: cmd, done: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan []string, 1)
	go func() {
		defer close(p.done)
		got := make([]string, len(patterns))
		n := 0
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.log.Write([]byte(line + "\n"))
			for i, re := range patterns {
				if m := re.FindStringSubmatch(line); m != nil && got[i] == "" {
					got[i] = m[1]
					if n++; n == len(patterns) {
						found <- got
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		_ = p.cmd.Wait()
	})
	select {
	case got := <-found:
		return p, got
	case <-p.done:
		t.Fatalf("%s exited before it was ready:\n%s", path, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not ready after 30s:\n%s", path, p.logText())
	}
	return nil, nil
}

var (
	listeningRe = regexp.MustCompile(`msg=listening addr=(\S+)`)
	metricsRe   = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
)

// startGatewayd runs the real daemon on 127.0.0.1:0 with no GPIO and the
// extra YAML given, and returns its echo address.
func startGatewayd(t *testing.T, extraYAML string) (*process, string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "gatewayd.yaml")
	yaml := "listen: \"127.0.0.1:0\"\ngpio: {driver: none}\n" + extraYAML
	if !strings.Contains(extraYAML, "control:") {
		yaml += "control: \"\"\n" // never the machine's /run/gatewayd
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, addrs := startProcess(t, bin.gatewayd, []string{"-config", cfg}, listeningRe)
	return p, addrs[0]
}

// startBaseline runs the minimal echo server and returns its address.
func startBaseline(t *testing.T) string {
	t.Helper()
	_, addrs := startProcess(t, bin.baseline, nil, regexp.MustCompile(`^listening addr=(\S+)`))
	return addrs[0]
}

// startTCP runs handle for every connection to a listener on 127.0.0.1:0.
func startTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// closedAddr is an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// oneLine checks that s is exactly one line of text containing every want.
func oneLine(t *testing.T, what, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s = %q, want exactly one line", what, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s = %q, want it to contain %q", what, s, w)
		}
	}
	if strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") {
		t.Errorf("%s = %q looks like a crash", what, s)
	}
}

// hold reads everything and never answers.
func hold(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
