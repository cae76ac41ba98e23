package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/gateway/control"
)

var controlRe = regexp.MustCompile(`msg="control socket listening" path=(\S+)`)

// byHand starts gatewayd as a person does at a shell: the default
// control: (the configuration leaves it out), in dir, with env.
func byHand(t *testing.T, dir string, env []string) string {
	t.Helper()
	if fi, err := os.Stat("/run/gatewayd"); err == nil && fi.IsDir() {
		t.Skip("/run/gatewayd exists on this machine: the default socket goes there")
	}
	cfg := filepath.Join(t.TempDir(), "gatewayd.yaml")
	if err := os.WriteFile(cfg, []byte("listen: \"127.0.0.1:0\"\ngpio: {driver: none}\nframing: line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin.gatewayd, "-config", cfg)
	cmd.Dir, cmd.Env = dir, env
	_, got := startCmd(t, cmd, listeningRe, controlRe)
	return got[1]
}

// baseEnv is the test's environment without the variables that say where
// the socket is.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, control.SocketEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func TestSocketByHandInXDGRuntimeDir(t *testing.T) {
	xdg := t.TempDir()
	env := baseEnv("XDG_RUNTIME_DIR=" + xdg)
	got := byHand(t, t.TempDir(), env)
	want := filepath.Join(xdg, "gatewayd", "gatewayd.sock")
	if got != want {
		t.Fatalf("control socket at %s, want %s", got, want)
	}
	fi, err := os.Stat(filepath.Dir(want))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != control.SocketDirMode {
		t.Errorf("socket directory mode %o, want %o", m, control.SocketDirMode)
	}
	// gatewayctl, from anywhere in the same session, finds it unasked.
	for _, cmd := range [][]string{{"status"}, {"boards"}, {"reload"}} {
		if r := ctlIn(t, nil, t.TempDir(), env, cmd...); r.code != 0 {
			t.Errorf("gatewayctl %s: exit %d\n%s%s", cmd[0], r.code, r.stdout, r.stderr)
		}
	}
}

func TestSocketByHandInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	env := baseEnv()
	if got := byHand(t, dir, env); got != "gatewayd.sock" {
		t.Fatalf("control socket at %s, want gatewayd.sock (in the working directory)", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "gatewayd.sock")); err != nil {
		t.Fatal(err)
	}
	r := ctlIn(t, nil, dir, env, "status")
	if r.code != 0 || !strings.Contains(r.stdout, "at gatewayd.sock") {
		t.Errorf("gatewayctl status in the daemon's directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Elsewhere: $GATEWAYD_SOCKET, then -socket over it.
	abs := filepath.Join(dir, "gatewayd.sock")
	if r := ctlIn(t, nil, t.TempDir(), baseEnv(control.SocketEnv+"="+abs), "boards"); r.code != 0 {
		t.Errorf("gatewayctl boards with %s: exit %d\n%s", control.SocketEnv, r.code, r.stderr)
	}
	r = ctlIn(t, nil, t.TempDir(), baseEnv(control.SocketEnv+"=/nonexistent/x.sock"), "boards", "-socket", abs)
	if r.code != 0 {
		t.Errorf("gatewayctl boards -socket over a wrong %s: exit %d\n%s", control.SocketEnv, r.code, r.stderr)
	}
	r = ctlIn(t, nil, t.TempDir(), baseEnv(control.SocketEnv+"=/nonexistent/x.sock"), "boards")
	if r.code != 1 || !strings.Contains(r.stderr, "/nonexistent/x.sock") {
		t.Errorf("gatewayctl boards with a wrong %s: exit %d, stderr %q; want 1 naming the socket", control.SocketEnv, r.code, r.stderr)
	}
}

func TestConfiguredSocketDirectoryIsMade(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "deeper", "gatewayd.sock")
	startGatewayd(t, "control: "+sock+"\n")
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatalf("the configured socket's directory was not made: %v", err)
	}
	if m := fi.Mode().Perm(); m != control.SocketDirMode {
		t.Errorf("socket directory mode %o, want %o", m, control.SocketDirMode)
	}
	if r := ctl(t, nil, "status", "-socket", sock); r.code != 0 {
		t.Errorf("status: exit %d\n%s", r.code, r.stderr)
	}
}

func TestCheckRefusesASocketThatCannotBeMade(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gatewayd.yaml")
	if err := os.WriteFile(cfg, []byte("gpio: {driver: none}\ncontrol: "+file+"/sub/gatewayd.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin.gatewayd, "-config", cfg, "-check")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil || strings.Contains(stdout.String(), "config OK") {
		t.Fatalf("-check passed a control socket under a regular file:\n%s%s", stdout.String(), stderr.String())
	}
	if want := "is not a directory"; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "control") {
		t.Errorf("-check said %q; want it to name control and say %q", stderr.String(), want)
	}
	// And a directory that is only missing passes, as the daemon makes it.
	if err := os.WriteFile(cfg, []byte("gpio: {driver: none}\ncontrol: "+dir+"/new/gatewayd.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin.gatewayd, "-config", cfg, "-check").CombinedOutput(); err != nil {
		t.Errorf("-check with a missing socket directory: %v\n%s", err, out)
	}
}
