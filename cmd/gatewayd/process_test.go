package main

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// binary is gatewayd built once for the end-to-end tests, which run it as
// a real process the way users and systemd do.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatewayd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = gatewaytest.Build(dir, gatewaytest.Gatewayd, gatewaytest.BuildOptions{Race: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A daemon on the default control: puts its socket in
	// $XDG_RUNTIME_DIR/gatewayd (or the working directory, the source
	// tree): keep it in the test's own directory.
	// (Not dir itself: the binary is dir/gatewayd.)
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o700)
	os.Setenv("XDG_RUNTIME_DIR", run)
	code := m.Run()
	closeBrowser()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running gatewayd whose stderr (its log) is collected.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  gatewaytest.Buffer // written a whole line at a time
	grew <-chan struct{}
	done chan struct{}
	err  error // the exit, once done is closed
}

// writeConfig writes a YAML config into the test's temp dir.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatewayd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs gatewayd with args and env added to the test's environment.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startCmd(t, exec.Command(binary, args...), env)
}

func startCmd(t *testing.T, cmd *exec.Cmd, env []string) *proc {
	t.Helper()
	// Each daemon on the default control: gets a runtime directory of its
	// own, as in its own login session: several run at once.
	run, err := os.MkdirTemp("", "gw-run")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	cmd.Env = append(append(cleanEnv(), "XDG_RUNTIME_DIR="+run), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{})}
	p.grew = p.log.Grew()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.log.Write([]byte(sc.Text() + "\n"))
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("gatewayd log:\n%s", p.logs())
		}
	})
	return p
}

// cleanEnv is the test's environment without systemd's variables, which
// a developer's shell or CI runner could carry.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (p *proc) logs() string {
	return p.log.String()
}

// waitLog waits up to 20s for a log line matching re and returns its
// submatches.
func (p *proc) waitLog(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(20 * time.Second)
	for {
		if m := rx.FindStringSubmatch(p.logs()); m != nil {
			return m
		}
		select {
		case <-p.grew:
		case <-p.done:
			if m := rx.FindStringSubmatch(p.logs()); m != nil {
				return m
			}
			p.t.Fatalf("gatewayd exited (%v) before logging %q", p.err, re)
		case <-deadline:
			p.t.Fatalf("gatewayd did not log %q within 20s", re)
		}
	}
}

// countLog counts the log lines matching re.
func (p *proc) countLog(re string) int {
	return len(regexp.MustCompile(re).FindAllString(p.logs(), -1))
}

// addr waits for the listening line and returns the real address.
func (p *proc) addr() string {
	p.t.Helper()
	return p.waitLog(`msg=listening addr=(\S+)`)[1]
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits up to limit for the process to exit and returns its status.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("gatewayd still running %v later", limit)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("wait: %v", p.err)
	return -1
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.wait(20 * time.Second); code != 0 {
		p.t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
}

// runOnce runs gatewayd to completion and returns stdout, stderr and its
// exit status.
func runOnce(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runToEnd(t, binary, args...)
}

// runToEnd runs bin with args in a clean environment, for at most 30 s,
// and returns stdout, stderr and its exit status.
func runToEnd(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = cleanEnv()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return stdout.String(), stderr.String(), code
}

// echo dials addr, sends msg and returns the echo.
func echo(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading echo of %q: %v", msg, err)
	}
	return string(got)
}

const quietConfig = `
listen: "127.0.0.1:0"
gpio:
  driver: none
`

func gpioChipPathsForTest() []string {
	paths, _ := filepath.Glob("/dev/gpiochip*")
	return paths
}
