// deploy/install.sh against a scratch root: install, update, uninstall.

package deploy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runInstall(t *testing.T, root string, args ...string) string {
	t.Helper()
	return run(t, "./install.sh", append([]string{"--root", root}, args...)...)
}

// entry is what a user could notice about one path in an installed tree.
type entry struct {
	mode   fs.FileMode
	target string // symlink target
	sum    [32]byte
}

// snapshot records every path under root with its mode, content and link.
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	tree := map[string]entry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{mode: info.Mode()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.target, err = os.Readlink(path)
		case info.Mode().IsRegular():
			var b []byte
			b, err = os.ReadFile(path)
			e.sum = sha256.Sum256(b)
		}
		tree[rel] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func diffTrees(a, b map[string]entry) []string {
	var diffs []string
	for p, ea := range a {
		eb, ok := b[p]
		switch {
		case !ok:
			diffs = append(diffs, "removed "+p)
		case ea != eb:
			diffs = append(diffs, fmt.Sprintf("changed %s (%v -> %v)", p, ea.mode, eb.mode))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	return diffs
}

// wantFiles checks that each path exists with its mode (0 = must be absent).
func wantFiles(t *testing.T, root string, want map[string]fs.FileMode) {
	t.Helper()
	for p, mode := range want {
		info, err := os.Lstat(filepath.Join(root, p))
		switch {
		case mode == 0 && err == nil:
			t.Errorf("%s exists, want it gone", p)
		case mode == 0:
		case err != nil:
			t.Errorf("%s: %v", p, err)
		case info.Mode() != mode:
			t.Errorf("%s mode %v, want %v", p, info.Mode(), mode)
		}
	}
}

func wantLine(t *testing.T, path, re string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if !regexp.MustCompile("(?m)" + re).Match(b) {
		t.Errorf("%s has no line matching %q:\n%s", path, re, b)
	}
}

// TestInstallScript installs into a scratch root the way an admin would on a
// Pi, then runs it again, edits the config, disables a unit, and removes it.
func TestInstallScript(t *testing.T) {
	needTool(t, "systemd-sysusers")
	needTool(t, "systemctl")
	root := t.TempDir()
	bin := fakeBuild(t)
	defaultConf, err := os.ReadFile(filepath.Join(top, "configs/gatewayd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(root, "etc/gatewayd/gatewayd.yaml")
	sockWants := "etc/systemd/system/sockets.target.wants/gatewayd.socket"
	svcWants := "etc/systemd/system/multi-user.target.wants/gatewayd.service"

	runInstall(t, root, bin)
	wantFiles(t, root, map[string]fs.FileMode{
		"usr/local/sbin/gatewayd":                                 0o755,
		"usr/local/bin/gatewayctl":                                0o755,
		"usr/local/share/man/man8/gatewayd.8.gz":                  0o644,
		"usr/local/share/man/man5/gatewayd.yaml.5.gz":             0o644,
		"usr/local/share/man/man1/gatewayctl.1.gz":                0o644,
		"usr/local/share/doc/gatewayd/examples/cloud-broker.conf": 0o644,
		"usr/local/lib/systemd/system/gatewayd.service":           0o644,
		"usr/local/lib/systemd/system/gatewayd.socket":            0o644,
		"usr/local/lib/sysusers.d/gatewayd.conf":                  0o644,
		"etc/gatewayd":                                            fs.ModeDir | 0o755,
		"etc/gatewayd/gatewayd.yaml":                              0o644,
		"etc/gatewayd/gatewayd.yaml.dist":                         0,
		sockWants:                                                 fs.ModeSymlink | 0o777,
		svcWants:                                                  fs.ModeSymlink | 0o777,
	})
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, defaultConf) {
		t.Errorf("installed config differs from configs/gatewayd.yaml")
	}
	wantLine(t, filepath.Join(root, "usr/local/lib/systemd/system/gatewayd.service"),
		`^ExecStart=/usr/local/sbin/gatewayd -config /etc/gatewayd/gatewayd.yaml$`)
	wantLine(t, filepath.Join(root, "usr/local/lib/systemd/system/gatewayd.service"),
		`^ExecReload=/usr/local/bin/gatewayctl reload$`)
	wantLine(t, filepath.Join(root, "etc/passwd"), `^gatewayd:x:\d+:\d+:[^:]*:/nonexistent:/usr/sbin/nologin$`)
	wantLine(t, filepath.Join(root, "etc/group"), `^gpio:x:\d+:gatewayd$`)

	t.Run("second run changes nothing", func(t *testing.T) {
		before := snapshot(t, root)
		runInstall(t, root, bin)
		if d := diffTrees(before, snapshot(t, root)); len(d) > 0 {
			t.Errorf("second install changed the tree:\n%s", strings.Join(d, "\n"))
		}
	})

	t.Run("edited config is kept", func(t *testing.T) {
		edited := append(append([]byte{}, defaultConf...), "# edited on the Pi\n"...)
		writeFile(t, conf, string(edited), 0o644)
		out := runInstall(t, root, bin)
		if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
			t.Errorf("install overwrote an edited config")
		}
		if got, _ := os.ReadFile(conf + ".dist"); !bytes.Equal(got, defaultConf) {
			t.Errorf("gatewayd.yaml.dist is not the new default")
		}
		if !strings.Contains(out, "kept your") {
			t.Errorf("install did not say it kept the config: %q", out)
		}
	})

	t.Run("an admin's disable survives an update", func(t *testing.T) {
		run(t, "systemctl", "--root="+root, "disable", "gatewayd.socket")
		runInstall(t, root, bin)
		wantFiles(t, root, map[string]fs.FileMode{sockWants: 0, svcWants: fs.ModeSymlink | 0o777})
	})

	t.Run("uninstall keeps the config", func(t *testing.T) {
		runInstall(t, root, "--uninstall")
		wantFiles(t, root, map[string]fs.FileMode{
			"usr/local/sbin/gatewayd":                                 0,
			"usr/local/bin/gatewayctl":                                0,
			"usr/local/share/man/man8/gatewayd.8.gz":                  0,
			"usr/local/share/doc/gatewayd/examples/cloud-broker.conf": 0,
			"usr/local/lib/systemd/system/gatewayd.service":           0,
			"usr/local/lib/systemd/system/gatewayd.socket":            0,
			"usr/local/lib/sysusers.d/gatewayd.conf":                  0,
			svcWants:                                                  0,
			"etc/gatewayd/gatewayd.yaml":                              0o644,
		})
	})

	t.Run("purge removes the config and the queue", func(t *testing.T) {
		queued := filepath.Join(root, "var/lib/gatewayd/queue/00000000000000000001.seg")
		if err := os.MkdirAll(filepath.Dir(queued), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(queued, []byte("a line not yet delivered"), 0o640); err != nil {
			t.Fatal(err)
		}
		runInstall(t, root, "--uninstall", "--purge")
		wantFiles(t, root, map[string]fs.FileMode{"etc/gatewayd": 0, "var/lib/gatewayd": 0})
	})
}

// TestInstallScriptRejects checks the mistakes a person makes on the command
// line get one clear line and the right exit status, and change nothing.
func TestInstallScriptRejects(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing binary", []string{"./no-such-gatewayd"}, 1, "not an executable file"},
		{"missing gatewayctl beside it", []string{fakeExecutableIn(t, "gatewayd")}, 1, "gatewayctl: not an executable file"},
		{"purge without uninstall", []string{"--purge"}, 1, "--purge goes with --uninstall"},
		{"unknown flag", []string{"--frobnicate"}, 2, "unknown flag"},
		{"three binaries", []string{"a", "b", "c"}, 2, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			var stderr bytes.Buffer
			cmd := exec.Command("./install.sh", append([]string{"--root", root}, tt.args...)...)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Fatalf("exit: %v, want status %d; stderr %q", err, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("a rejected run wrote %d entries into the root", len(entries))
			}
		})
	}
}

// TestShellScripts lints every shell script this directory ships.
func TestShellScripts(t *testing.T) {
	needTool(t, "shellcheck")
	run(t, "shellcheck", "install.sh", "build-deb.sh", "install-deps.sh", "version.sh",
		"debian/postinst", "debian/prerm", "debian/postrm", "testdata/probe.sh", "testdata/probe-install.sh", "testdata/probe-deb.sh", "testdata/probe-lib.sh")
}
