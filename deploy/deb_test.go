// make deb: the packages' contents, and dpkg running their maintainer scripts.

package deploy

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDebPackages inspects what `make deb` built, as dpkg will see it.
func TestDebPackages(t *testing.T) {
	tests := []struct {
		arch    string
		machine elf.Machine
	}{
		{"arm64", elf.EM_AARCH64},
		{"armhf", elf.EM_ARM},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			deb := debFile(t, tt.arch)
			fields := map[string]string{
				"Package":      "gatewayd",
				"Version":      testDebVersion,
				"Architecture": tt.arch,
				"Depends":      "systemd | systemd-standalone-sysusers | systemd-sysusers",
			}
			for k, want := range fields {
				if got := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, k)); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if got := strings.TrimSpace(run(t, "dpkg-deb", "--info", deb, "conffiles")); got != "/etc/gatewayd/gatewayd.yaml" {
				t.Errorf("conffiles %q, want /etc/gatewayd/gatewayd.yaml", got)
			}
			info := run(t, "dpkg-deb", "--info", deb)
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*\s+` + s + `\s`).MatchString(info) {
					t.Errorf("no executable %s in the control archive:\n%s", s, info)
				}
			}

			// Every file with its mode and owner; nothing more.
			wantContents := map[string]string{
				"./usr/bin/gatewayd":                    "-rwxr-xr-x root/root",
				"./etc/gatewayd/gatewayd.yaml":          "-rw-r--r-- root/root",
				"./lib/systemd/system/gatewayd.service": "-rw-r--r-- root/root",
				"./lib/systemd/system/gatewayd.socket":  "-rw-r--r-- root/root",
				"./usr/lib/sysusers.d/gatewayd.conf":    "-rw-r--r-- root/root",
			}
			for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "--contents", deb)), "\n") {
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Errorf("odd --contents line %q", line)
					continue
				}
				path, perm := f[5], f[0]+" "+f[1]
				if strings.HasSuffix(path, "/") {
					if perm != "drwxr-xr-x root/root" {
						t.Errorf("directory %s: %s, want drwxr-xr-x root/root", path, perm)
					}
					continue
				}
				want, ok := wantContents[path]
				if !ok {
					t.Errorf("unexpected file %s in the package", path)
					continue
				}
				delete(wantContents, path)
				if perm != want {
					t.Errorf("%s: %s, want %s", path, perm, want)
				}
			}
			for path := range wantContents {
				t.Errorf("%s missing from the package", path)
			}

			// The files are the repository's, and the binary is for the
			// package's architecture.
			x := t.TempDir()
			run(t, "dpkg-deb", "--extract", deb, x)
			for src, dst := range map[string]string{
				"gatewayd.service":         "lib/systemd/system/gatewayd.service",
				"gatewayd.socket":          "lib/systemd/system/gatewayd.socket",
				"gatewayd.sysusers":        "usr/lib/sysusers.d/gatewayd.conf",
				"../configs/gatewayd.yaml": "etc/gatewayd/gatewayd.yaml",
			} {
				a, _ := os.ReadFile(src)
				b, _ := os.ReadFile(filepath.Join(x, dst))
				if !bytes.Equal(a, b) {
					t.Errorf("%s in the package differs from %s", dst, src)
				}
			}
			f, err := elf.Open(filepath.Join(x, "usr/bin/gatewayd"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != tt.machine {
				t.Errorf("packaged binary is %v, want %v", f.Machine, tt.machine)
			}
		})
	}
}

// dpkgRoot is a scratch root with an empty dpkg database. Maintainer scripts
// run outside it with DPKG_ROOT set (--force-script-chrootless), which the
// scripts honour, so no shell or libraries are needed inside.
type dpkgRoot string

func newDpkgRoot(t *testing.T) dpkgRoot {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"} {
		mustMkdir(t, filepath.Join(root, d))
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		writeFile(t, filepath.Join(root, f), "", 0o644)
	}
	return dpkgRoot(root)
}

func (r dpkgRoot) path(p string) string { return filepath.Join(string(r), p) }

func (r dpkgRoot) dpkg(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"--root=" + string(r), "--log=/dev/null", "--force-script-chrootless",
		"--force-architecture", "--force-depends", "--force-confold"}
	return run(t, "dpkg", append(base, args...)...)
}

// TestDebInstallUpgradeRemove installs the arm64 package into a scratch root
// with dpkg, so the maintainer scripts really run: first install, an
// upgrade over an edited config and a disabled socket, removal and purge.
func TestDebInstallUpgradeRemove(t *testing.T) {
	needRoot(t)
	needTool(t, "dpkg")
	needTool(t, "systemd-sysusers")
	needTool(t, "deb-systemd-helper")
	v1 := debFile(t, "arm64")
	v2dir := t.TempDir()
	v2 := strings.TrimSpace(run(t, "./build-deb.sh", "arm64", "v1.3.0", v2dir, crossBinary(t, "arm64")))
	r := newDpkgRoot(t)
	sockWants := "etc/systemd/system/sockets.target.wants/gatewayd.socket"
	svcWants := "etc/systemd/system/multi-user.target.wants/gatewayd.service"
	conf := r.path("etc/gatewayd/gatewayd.yaml")

	r.dpkg(t, "--install", v1)
	wantFiles(t, string(r), map[string]fs.FileMode{
		"usr/bin/gatewayd": 0o755,
		sockWants:          fs.ModeSymlink | 0o777,
		svcWants:           fs.ModeSymlink | 0o777,
	})
	wantLine(t, r.path("etc/passwd"), `^gatewayd:x:\d+:\d+:[^:]*:/nonexistent:/usr/sbin/nologin$`)
	wantLine(t, r.path("etc/group"), `^gpio:x:\d+:gatewayd$`)

	// The admin edits the config and turns socket activation off.
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "# edited on the Pi")
	f.Close()
	edited, _ := os.ReadFile(conf)
	run(t, "systemctl", "--root="+string(r), "disable", "gatewayd.socket")

	r.dpkg(t, "--install", v2)
	if got := run(t, "dpkg-query", "--admindir="+r.path("var/lib/dpkg"), "-W", "-f=${Version}", "gatewayd"); got != "1.3.0" {
		t.Errorf("after upgrade dpkg has version %q, want 1.3.0", got)
	}
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, edited) {
		t.Errorf("upgrade replaced the edited config")
	}
	wantFiles(t, string(r), map[string]fs.FileMode{sockWants: 0, svcWants: fs.ModeSymlink | 0o777})

	r.dpkg(t, "--remove", "gatewayd")
	wantFiles(t, string(r), map[string]fs.FileMode{
		"usr/bin/gatewayd":                    0,
		"lib/systemd/system/gatewayd.service": 0,
		"etc/gatewayd/gatewayd.yaml":          0o644,
		"etc/systemd/system/gatewayd.service": fs.ModeSymlink | 0o777, // masked
	})

	r.dpkg(t, "--purge", "gatewayd")
	wantFiles(t, string(r), map[string]fs.FileMode{
		"etc/gatewayd":                        0,
		"etc/systemd/system/gatewayd.service": 0,
		svcWants:                              0,
	})
	// The user stays, as Debian keeps system users.
	wantLine(t, r.path("etc/passwd"), `^gatewayd:`)
}
