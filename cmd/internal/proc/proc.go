// Package proc runs the servers that the benchmark commands
// (cmd/internal/echobench, cmd/internal/mqttbench) measure: it builds
// them from the tree, starts each as its own process, waits until it
// listens, and reads the CPU time and resident memory that process alone
// used from /proc, so that a figure is the server's and not the load
// generator's.
package proc

import (
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
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// Build compiles each Go package (a path such as "./cmd/gatewayd",
// relative to the module root) into out[pkg], the way users build them,
// with the tests' builder (gatewaytest.BuildTo).
func Build(ctx context.Context, out map[string]string) error {
	for pkg, bin := range out {
		if err := gatewaytest.BuildTo(ctx, bin, pkg, gatewaytest.BuildOptions{Dir: ModuleRoot()}); err != nil {
			return fmt.Errorf("proc: %w", err)
		}
	}
	return nil
}

// ModuleRoot finds go.mod upwards from the working directory, so the
// commands run from anywhere inside the repository.
func ModuleRoot() string {
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

// Spec says how to run one server and how to tell that it is ready.
type Spec struct {
	Name string
	Argv []string
	Env  []string // added to this process's environment

	// ListenRx, when set, matches the line the server logs (on stdout or
	// stderr) once it listens; its first group is the address. Otherwise
	// the server is ready when Addr accepts a TCP connection.
	ListenRx *regexp.Regexp
	Addr     string

	// Ready is how long to wait for it; 0 means 30s.
	Ready time.Duration
}

// Process is a started server.
type Process struct {
	Name string
	Pid  int
	Addr string // where it listens

	cmd  *exec.Cmd
	done chan struct{}
	out  *tail
}

// Start runs s and waits until it is ready. A server that exits first is
// an error that quotes the end of what it printed, so a refused
// configuration reads as the server's own words.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if s.Ready <= 0 {
		s.Ready = 30 * time.Second
	}
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	// Its own process group, so that stopping it also stops anything it
	// started (npm-style wrappers) and a Ctrl-C in the terminal reaches
	// it only through Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("proc: %s: %w", s.Name, err)
	}
	pw.Close()
	p := &Process{Name: s.Name, Pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{}), out: &tail{max: 8 << 10}}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		p.out.scan(pr, s.ListenRx, addr)
		pr.Close()
		_ = cmd.Wait()
	}()
	if s.ListenRx == nil {
		go func() {
			if waitAccepts(ctx, s.Addr, s.Ready, p.done) {
				addr <- s.Addr
			}
		}()
	}
	select {
	case p.Addr = <-addr:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("proc: %s exited before listening:\n%s", s.Name, p.Output())
	case <-time.After(s.Ready):
		p.Stop()
		return nil, fmt.Errorf("proc: %s did not listen within %v:\n%s", s.Name, s.Ready, p.Output())
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// waitAccepts polls addr until it accepts a connection, limit passes or
// the process ends.
func waitAccepts(ctx context.Context, addr string, limit time.Duration, exited <-chan struct{}) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Stop ends the server with SIGTERM, then SIGKILL after 15 s.
func (p *Process) Stop() {
	_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited is closed once the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Output is the end of what the process printed, for error messages.
func (p *Process) Output() string { return p.out.String() }

// CPUTime is the user plus system CPU time the process has used.
func (p *Process) CPUTime() (time.Duration, error) { return CPUTime(p.Pid) }

// RSS is the process's resident memory in bytes.
func (p *Process) RSS() (float64, error) { return RSS(p.Pid) }

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// scan copies r into t, sending the first match of rx's group to addr.
func (t *tail) scan(r io.Reader, rx *regexp.Regexp, addr chan<- string) {
	b := make([]byte, 32<<10)
	var line []byte
	for {
		n, err := r.Read(b)
		t.mu.Lock()
		t.buf = append(t.buf, b[:n]...)
		if len(t.buf) > t.max {
			t.buf = t.buf[len(t.buf)-t.max:]
		}
		t.mu.Unlock()
		if rx != nil {
			line = append(line, b[:n]...)
			for rx != nil {
				i := bytes.IndexByte(line, '\n')
				if i < 0 {
					break
				}
				if m := rx.FindSubmatch(line[:i]); m != nil {
					select {
					case addr <- string(m[1]):
					default:
					}
					rx = nil
				}
				line = line[i+1:]
			}
			if rx == nil {
				line = nil
			}
		}
		if err != nil {
			return
		}
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimRight(string(t.buf), "\n")
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on Linux.
const clockTick = 10 * time.Millisecond

// CPUTime is the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, fmt.Errorf("proc: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("proc: /proc/%d/stat: %d fields", pid, len(f))
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, fmt.Errorf("proc: /proc/%d/stat: utime: %w", pid, err)
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, fmt.Errorf("proc: /proc/%d/stat: stime: %w", pid, err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// ContextSwitches is how many times the threads of process pid have
// given up a CPU, waiting or preempted (/proc/PID/task/*/status), summed:
// each time a thread sleeps and is woken costs the kernel a switch, so at
// a light load it counts the wake-ups a process pays per message. Threads
// that have exited are not counted.
func ContextSwitches(pid int) (uint64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return 0, err
	}
	if len(tasks) == 0 {
		return 0, fmt.Errorf("proc: no process %d", pid)
	}
	var n uint64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited meanwhile
		}
		for _, k := range []string{"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"} {
			v, ok := statusField(b, k)
			if !ok {
				continue
			}
			var c uint64
			if _, err := fmt.Sscan(v, &c); err != nil {
				return 0, fmt.Errorf("proc: %s: %s: %w", t, k, err)
			}
			n += c
		}
	}
	return n, nil
}

// statusField is the value of key in a /proc status file, whose lines
// are "Key:\tvalue".
func statusField(status []byte, key string) (string, bool) {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// RSS is process pid's resident memory in bytes.
func RSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	v, ok := statusField(b, "VmRSS")
	if !ok {
		return 0, errors.New("proc: no VmRSS for pid " + fmt.Sprint(pid))
	}
	var kb float64
	if _, err := fmt.Sscan(strings.TrimSuffix(v, " kB"), &kb); err != nil {
		return 0, fmt.Errorf("proc: /proc/%d/status: VmRSS: %w", pid, err)
	}
	return kb * 1024, nil
}

// FreePort returns a loopback TCP port that was free a moment ago
// (gatewaytest.FreeLoopbackPort, which the tests use too).
func FreePort() (int, error) { return gatewaytest.FreeLoopbackPort() }
