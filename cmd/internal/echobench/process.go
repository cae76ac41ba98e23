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
	"strconv"
	"strings"
	"syscall"
	"time"
)

type binaries struct{ gatewayd, baseline string }

// buildServers compiles both servers the way users build them.
func buildServers(ctx context.Context, dir string) (binaries, error) {
	b := binaries{gatewayd: filepath.Join(dir, "gatewayd"), baseline: filepath.Join(dir, "echobaseline")}
	for pkg, out := range map[string]string{"./cmd/gatewayd": b.gatewayd, "./cmd/internal/echobaseline": b.baseline} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = moduleRoot()
		if msg, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("building %s: %v\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// moduleRoot finds go.mod upwards from the working directory, so the
// command runs from anywhere inside the repository.
func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

type server struct {
	name string
	argv []string
}

type running struct {
	cmd  *exec.Cmd
	pid  int
	addr string
	done chan struct{}
}

var listeningRx = regexp.MustCompile(`listening addr=(\S+)`)

// start runs the server and waits for the address it logs.
func (s server) start(ctx context.Context) (*running, error) {
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &running{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRx.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(r.done)
	}()
	select {
	case r.addr = <-addr:
		return r, nil
	case <-r.done:
		return nil, fmt.Errorf("%s exited before listening", s.name)
	case <-time.After(30 * time.Second):
		r.stop()
		return nil, fmt.Errorf("%s did not listen within 30s", s.name)
	}
}

func (r *running) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on Linux.
const clockTick = 10 * time.Millisecond

// cpuTime is the user plus system CPU time the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick, nil
}

// rss is the process's resident memory in bytes.
func rss(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// idleMemory opens n connections, has each echo once (so the server's
// goroutine has run its read path, as a real client's would), leaves them
// idle, and returns the server's resident memory growth per connection.
func idleMemory(ctx context.Context, s server, n int) (float64, error) {
	p, err := s.start(ctx)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(200 * time.Millisecond)
	before, err := rss(p.pid)
	if err != nil {
		return 0, err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ping := []byte("ping")
	for range n {
		c, err := net.DialTimeout("tcp", p.addr, 10*time.Second)
		if err != nil {
			return 0, fmt.Errorf("connection %d of %d: %w", len(conns)+1, n, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(ping); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, make([]byte, len(ping))); err != nil {
			return 0, fmt.Errorf("echo on connection %d: %w", len(conns), err)
		}
	}
	// Give the runtime time to settle: idle goroutines' stacks shrink at
	// the next garbage collection, which the forced 2-minute GC or
	// allocation would bring; measure after a short quiet spell.
	time.Sleep(2 * time.Second)
	after, err := rss(p.pid)
	if err != nil {
		return 0, err
	}
	return (after - before) / float64(n), nil
}
