package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// pki init -group: the daemon's group may read DIR and server.key and
// nothing else of the CA; nobody else may read a key.
func TestPKIInitGroup(t *testing.T) {
	g, err := user.LookupGroup("daemon") // any group other than ours will do
	if err != nil {
		t.Skip("no group daemon on this machine")
	}
	gid, _ := strconv.Atoi(g.Gid)
	dir := filepath.Join(t.TempDir(), "pki")
	r := ctl(t, nil, "pki", "init", "-group", "daemon", "-host", "localhost", dir)
	if r.code != 0 {
		t.Fatalf("pki init -group: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "belong to group daemon") {
		t.Errorf("pki init -group does not say what it shared:\n%s", r.stdout)
	}
	if r := ctl(t, nil, "pki", "board", dir, "kitchen-1"); r.code != 0 {
		t.Fatalf("pki board: exit %d\n%s", r.code, r.stderr)
	}
	for _, f := range []struct {
		path   string
		mode   os.FileMode
		shared bool
	}{
		{dir, 0o750, true},
		{filepath.Join(dir, "server.key"), 0o640, true},
		{filepath.Join(dir, "server.crt"), 0o644, false},
		{filepath.Join(dir, "ca.crt"), 0o644, false},
		{filepath.Join(dir, "ca.key"), 0o600, false},
		{filepath.Join(dir, "boards"), 0o700, false},
		{filepath.Join(dir, "boards", "kitchen-1.key"), 0o600, false},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != f.mode {
			t.Errorf("%s: mode %o, want %o", f.path, got, f.mode)
		}
		if got := int(fi.Sys().(*syscall.Stat_t).Gid); (got == gid) != f.shared {
			t.Errorf("%s: gid %d; shared with the group: %v, want %v", f.path, got, got == gid, f.shared)
		}
	}
	// Renewing keeps the key readable by the group.
	if r := ctl(t, nil, "pki", "init", "-renew", "-group", "daemon", "-host", "localhost", dir); r.code != 0 {
		t.Fatalf("pki init -renew: exit %d\n%s", r.code, r.stderr)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "server.key")); fi.Mode().Perm() != 0o640 {
		t.Errorf("renewed server.key: mode %o, want 640", fi.Mode().Perm())
	}
	nowhere := filepath.Join(t.TempDir(), "p")
	r = ctl(t, nil, "pki", "init", "-group", "no-such-group-here", "-host", "localhost", nowhere)
	if r.code != 1 || !strings.Contains(r.stderr, `pki: group "no-such-group-here"`) {
		t.Errorf("an unknown group: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Errorf("pki init with an unknown group made %s anyway", nowhere)
	}
}
