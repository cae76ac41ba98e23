package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/configs"
)

// These tests run the daemon inside the test process, through run and the
// daemon type, beside the end-to-end tests that run the built binary.

// logBuffer is a daemon's stderr, read while it is written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the log matches re and returns the submatches.
func (b *logBuffer) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := rx.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the log:\n%s", re, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inProcessEnv clears systemd's variables for the test, as cleanEnv does
// for a child process.
func inProcessEnv(t *testing.T) {
	for _, v := range []string{"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"} {
		t.Setenv(v, "")
	}
}

// running is run in a goroutine: its log and, once it returns, its error.
type running struct {
	log    *logBuffer
	cancel context.CancelFunc
	done   chan error
}

func runInProcess(t *testing.T, args ...string) *running {
	t.Helper()
	inProcessEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{log: new(logBuffer), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, args, new(bytes.Buffer), r.log) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("log:\n%s", r.log)
		}
	})
	return r
}

// stop cancels run's context, as SIGTERM does, and returns its error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
		return nil
	}
}

// TestRunInProcess: run serves, and a cancelled context stops it cleanly,
// its parts stopping in the reverse of the start order.
func TestRunInProcess(t *testing.T) {
	r := runInProcess(t, "-config", writeConfig(t, quietConfig+"metrics:\n  listen: \"127.0.0.1:0\"\n"))
	addr := r.log.waitFor(t, `msg=listening addr=(\S+)`)[1]
	metricsAddr := r.log.waitFor(t, `msg="metrics listening" addr=(\S+)`)[1]
	if got := echo(t, addr, "in-process"); got != "in-process" {
		t.Fatalf("echo = %q", got)
	}
	if got := get(t, "http://"+metricsAddr+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q, want ok", got)
	}
	r.log.waitFor(t, `msg="client disconnected"`)
	if err := r.stop(t); err != nil {
		t.Fatalf("run = %v, want nil after a clean shutdown", err)
	}
	log := r.log.String()
	// The metrics server stops after the echo server (its last scrape
	// sees the final counts), and before the LEDs go off.
	order := []string{`msg="configuration loaded"`, `msg="metrics listening"`, `msg=listening`, `msg="shutting down"`, `msg=stopped accepted=1 messages=1`}
	at := 0
	for _, want := range order {
		i := strings.Index(log[at:], want)
		if i < 0 {
			t.Fatalf("%s missing or out of order (want order %q) in:\n%s", want, order, log)
		}
		at += i
	}
	if _, err := net.DialTimeout("tcp", metricsAddr, 5*time.Second); err == nil {
		t.Errorf("metrics still accepting at %s after run returned", metricsAddr)
	}
}

// TestRunReloadsOnSIGHUP sends the process a real SIGHUP while run has it
// caught: the new file's log level applies to the running daemon.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	path := writeConfig(t, quietConfig)
	r := runInProcess(t, "-config", path)
	addr := r.log.waitFor(t, `msg=listening addr=(\S+)`)[1]
	echo(t, addr, "before")
	if err := os.WriteFile(path, []byte(quietConfig+"log:\n  level: debug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, `msg="configuration reloaded" .*log_level=debug`)
	echo(t, addr, "after")
	r.log.waitFor(t, `msg=received remote=\S+ bytes=5 data="after"`)
	if err := r.stop(t); err != nil {
		t.Fatalf("run = %v", err)
	}
	if strings.Contains(r.log.String(), `data="before"`) {
		t.Errorf("payload logged before the reload turned debug on:\n%s", r.log)
	}
}

// TestDaemonReload drives reload through the daemon's hup channel: a bad
// file changes nothing, a good one applies its limits.
func TestDaemonReload(t *testing.T) {
	inProcessEnv(t)
	path := writeConfig(t, quietConfig+"limits:\n  max_clients: 1\n")
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := new(logBuffer)
	d := newDaemon(cfg, path, log)
	hup := make(chan os.Signal)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, hup) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run = %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", log)
		}
	}()
	addr := log.waitFor(t, `msg=listening addr=(\S+)`)[1]

	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	log.waitFor(t, `clients=1`)
	refusedWith := func(wantRefused bool) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("x"))
		_, err = c.Read(make([]byte, 1))
		if refused := err != nil; refused != wantRefused {
			t.Fatalf("second client refused = %v (err %v), want %v", refused, err, wantRefused)
		}
	}
	refusedWith(true)

	os.WriteFile(path, []byte(quietConfig+"limits:\n  max_clients: nonsense\n"), 0o644)
	hup <- syscall.SIGHUP
	log.waitFor(t, `msg="reload failed; configuration unchanged"`)
	refusedWith(true)

	os.WriteFile(path, []byte(quietConfig+"limits:\n  max_clients: 2\n"), 0o644)
	hup <- syscall.SIGHUP
	log.waitFor(t, `msg="configuration reloaded" .*max_clients=2`)
	refusedWith(false)
}

// TestStartFailureStopsWhatStarted: when a later part cannot start, the
// parts already started are stopped: the echo port is free again.
func TestStartFailureStopsWhatStarted(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echoAddr := free.Addr().String()
	free.Close()

	r := runInProcess(t, "-config", writeConfig(t, "listen: \""+echoAddr+"\"\ngpio:\n  driver: none\nmetrics:\n  listen: \""+busy.Addr().String()+"\"\n"))
	select {
	case err := <-r.done:
		r.done <- err
		if !errors.Is(err, errReported) {
			t.Fatalf("run = %v, want the error reported in the log", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run kept going with its metrics port taken")
	}
	want := "cannot listen on " + busy.Addr().String() + ": address already in use"
	if !strings.Contains(r.log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, r.log)
	}
	l, err := net.Listen("tcp", echoAddr)
	if err != nil {
		t.Fatalf("echo port still held after a failed start: %v", err)
	}
	l.Close()
}
