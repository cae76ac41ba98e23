package main

import (
	"bufio"
	"fmt"
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

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// repoRoot is the top of the repository, where the README's commands run.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestREADME runs testdata/script/*.txtar: the README's two commands, its
// tour and its how-tos, each a user's session at a shell in the
// repository, with the outputs the README shows. A change that alters
// what a README command prints fails here; TestREADMECommandsAreRun
// checks that every command the README shows is in one of them.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the README's sessions build and run the binaries (minutes under qemu)")
	}
	root := repoRoot(t)
	goEnv := map[string]string{}
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN"} {
		goEnv[k] = strings.Split(string(out), "\n")[i]
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", root)
			for k, v := range goEnv {
				env.Setenv(k, v)
			}
			env.Setenv("CGO_ENABLED", "0")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"daemon":      cmdDaemon,
			"stop-daemon": cmdStopDaemon,
			"waitlog":     cmdWaitLog,
			"board":       cmdBoard,
			"board-got":   cmdBoardGot,
		},
	})
}

// A daemon started by a script: its own process group, so that `go run`
// and the program it runs stop together, as at a terminal's Ctrl-C.
type scriptDaemon struct {
	cmd  *exec.Cmd
	log  gatewaytest.Buffer
	done chan struct{}
}

// daemons and boards are keyed by the script's TestScript.
var (
	mu      sync.Mutex
	daemons = map[*testscript.TestScript][]*scriptDaemon{}
	boards  = map[*testscript.TestScript]map[string]*scriptBoard{}
)

// ports is held by a script from its first daemon to its end: the
// scripts run in parallel, and all use the README's ports.
var ports sync.Mutex

// daemon CMD ARGS... starts CMD in the background, as `CMD ARGS &` at a
// shell; it gets SIGINT at stop-daemon or at the end of the script.
func cmdDaemon(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: daemon CMD ARGS...")
	}
	mu.Lock()
	first := len(daemons[ts]) == 0
	mu.Unlock()
	if first {
		ports.Lock()
		ts.Defer(ports.Unlock) // deferred calls run last first: after the stops below
	}
	path := args[0]
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		ts.Check(err)
		path = p
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN", "CGO_ENABLED"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d := &scriptDaemon{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &d.log, &d.log
	ts.Check(cmd.Start())
	go func() { cmd.Wait(); close(d.done) }()
	mu.Lock()
	daemons[ts] = append(daemons[ts], d)
	mu.Unlock()
	ts.Defer(func() { d.stop() })
}

// stop interrupts the daemon's process group and waits for it.
func (d *scriptDaemon) stop() {
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.done
	}
}

// daemonOf is the script's last daemon started.
func daemonOf(ts *testscript.TestScript) *scriptDaemon {
	mu.Lock()
	defer mu.Unlock()
	ds := daemons[ts]
	if len(ds) == 0 {
		ts.Fatalf("no daemon started")
	}
	return ds[len(ds)-1]
}

// stop-daemon stops the last daemon as Ctrl-C does; its log goes to
// stderr.
func cmdStopDaemon(ts *testscript.TestScript, neg bool, args []string) {
	d := daemonOf(ts)
	d.stop()
	mu.Lock()
	daemons[ts] = daemons[ts][:len(daemons[ts])-1]
	mu.Unlock()
	fmt.Fprint(ts.Stderr(), d.log.String())
}

// waitlog REGEXP waits up to 2 minutes (go run compiles first) for the
// daemon's log to match.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitlog REGEXP")
	}
	re := regexp.MustCompile(args[0])
	d := daemonOf(ts)
	deadline := time.Now().Add(2 * time.Minute)
	for !re.MatchString(d.log.String()) {
		select {
		case <-d.done:
			ts.Fatalf("the daemon exited before logging %q:\n%s", args[0], d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no %q in the daemon's log:\n%s", args[0], d.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A board for a script: one connection that said hello and stays up,
// collecting what the gateway sends it.
type scriptBoard struct {
	c   net.Conn
	log gatewaytest.Buffer
}

// board ADDR ID [LINE...] connects a board that says hello as ID, sends
// the lines, and stays connected until the script ends.
func cmdBoard(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: board ADDR ID [LINE...]")
	}
	c, err := net.DialTimeout("tcp", args[0], 5*time.Second)
	ts.Check(err)
	b := &scriptBoard{c: c}
	fmt.Fprintf(c, "!hello %s\n", args[1])
	sc := bufio.NewScanner(c)
	if !sc.Scan() || sc.Text() != "!ok "+args[1] {
		ts.Fatalf("board %s: hello answered %q", args[1], sc.Text())
	}
	for _, line := range args[2:] {
		fmt.Fprintf(c, "%s\n", line)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for sc.Scan() {
			b.log.Write([]byte(sc.Text() + "\n"))
		}
	}()
	ts.Defer(func() { c.Close(); <-done })
	mu.Lock()
	if boards[ts] == nil {
		boards[ts] = map[string]*scriptBoard{}
	}
	boards[ts][args[1]] = b
	mu.Unlock()
}

// board-got ID REGEXP waits up to 10 s for a line the gateway sent board ID
// to match.
func cmdBoardGot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: board-got ID REGEXP")
	}
	mu.Lock()
	b := boards[ts][args[0]]
	mu.Unlock()
	if b == nil {
		ts.Fatalf("no board %s", args[0])
	}
	re := regexp.MustCompile("(?m)" + args[1])
	for deadline := time.Now().Add(10 * time.Second); !re.MatchString(b.log.String()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("board %s got %q, no line matching %q", args[0], b.log.String(), args[1])
		}
	}
}

// TestREADMECommandsAreRun: every command the README shows (a "$ " line
// of a console block) is run by a test: by a script of TestREADME, or,
// for what needs a Pi or root, by a container probe (deploy/testdata) or
// by CI itself (.ci/run). So the README and the tests cannot drift apart.
func TestREADMECommandsAreRun(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n > 300 {
		t.Errorf("README.md has %d lines; it stays at most 300 (reference goes to the man pages)", n)
	}
	run := map[string]bool{}
	scripts, _ := filepath.Glob("testdata/script/*.txtar")
	for _, s := range scripts {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if cmd, ok := scriptCommand(line); ok {
				run[cmd] = true
			}
		}
	}
	var shells []string
	probes, _ := filepath.Glob(filepath.Join(root, "deploy/testdata/probe*.sh"))
	for _, p := range append(probes, filepath.Join(root, ".ci/run")) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		shells = append(shells, string(data))
	}
	cmds := readmeCommands(string(readme))
	if len(cmds) < 10 {
		t.Fatalf("found only %d commands in README.md: is the console-block format still \"$ CMD\"?", len(cmds))
	}
	for _, c := range cmds {
		if run[c] {
			continue
		}
		found := false
		for _, s := range shells {
			found = found || strings.Contains(s, c)
		}
		if !found {
			t.Errorf("README.md shows %q, which no test runs: add it to a script in cmd/gatewayd/testdata/script", c)
		}
	}
}

// readmeCommands are the "$ CMD" lines of the README's console blocks,
// without "sudo " and a trailing " &".
func readmeCommands(readme string) []string {
	var cmds []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```console"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.HasPrefix(line, "$ "):
			c := strings.TrimSpace(strings.TrimPrefix(line, "$ "))
			if i := strings.Index(c, "  #"); i >= 0 {
				c = strings.TrimSpace(c[:i]) // a comment for the reader
			}
			c = strings.TrimPrefix(c, "sudo ")
			c = strings.TrimSuffix(c, " &")
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// scriptCommand is the command a script line runs, written as the README
// writes it: "exec X", "! exec X" and "daemon X" all run X, and
// "env K=V" is "export K=V".
func scriptCommand(line string) (string, bool) {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "! ")
	if kv, ok := strings.CutPrefix(line, "env "); ok {
		return "export " + kv, true
	}
	for _, p := range []string{"exec ", "daemon "} {
		if c, ok := strings.CutPrefix(line, p); ok {
			return strings.TrimSpace(c), true
		}
	}
	return "", false
}
