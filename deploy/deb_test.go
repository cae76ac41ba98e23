// make deb: the packages' contents, and dpkg running their maintainer scripts.

package deploy

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebPackages inspects what `make deb` built, as dpkg will see it.
func TestDebPackages(t *testing.T) {
	for _, tt := range debArchs {
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
			wantConffiles := "/etc/gatewayd/gatewayd.yaml\n/etc/avahi/services/gatewayd.service"
			if got := strings.TrimSpace(run(t, "dpkg-deb", "--info", deb, "conffiles")); got != wantConffiles {
				t.Errorf("conffiles %q, want %q", got, wantConffiles)
			}
			info := run(t, "dpkg-deb", "--info", deb)
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				if !regexp.MustCompile(`(?m)^\s+\d+ bytes,\s+\d+ lines\s+\*\s+` + s + `\s`).MatchString(info) {
					t.Errorf("no executable %s in the control archive:\n%s", s, info)
				}
			}

			// Every file with its mode and owner; nothing more.
			wantContents := map[string]string{
				"./usr/sbin/gatewayd":                                 "-rwxr-xr-x root/root",
				"./usr/bin/gatewayctl":                                "-rwxr-xr-x root/root",
				"./usr/share/man/man8/gatewayd.8.gz":                  "-rw-r--r-- root/root",
				"./usr/share/man/man5/gatewayd.yaml.5.gz":             "-rw-r--r-- root/root",
				"./usr/share/man/man1/gatewayctl.1.gz":                "-rw-r--r-- root/root",
				"./usr/share/doc/gatewayd/copyright":                  "-rw-r--r-- root/root",
				"./usr/share/doc/gatewayd/changelog.gz":               "-rw-r--r-- root/root",
				"./usr/share/doc/gatewayd/examples/cloud-broker.conf": "-rw-r--r-- root/root",
				"./usr/share/lintian/overrides/gatewayd":              "-rw-r--r-- root/root",
				"./etc/gatewayd/gatewayd.yaml":                        "-rw-r--r-- root/root",
				"./etc/avahi/services/gatewayd.service":               "-rw-r--r-- root/root",
				"./lib/systemd/system/gatewayd.service":               "-rw-r--r-- root/root",
				"./lib/systemd/system/gatewayd.socket":                "-rw-r--r-- root/root",
				"./usr/lib/sysusers.d/gatewayd.conf":                  "-rw-r--r-- root/root",
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
				"gatewayd.service":          "lib/systemd/system/gatewayd.service",
				"gatewayd.socket":           "lib/systemd/system/gatewayd.socket",
				"gatewayd.sysusers":         "usr/lib/sysusers.d/gatewayd.conf",
				"../configs/gatewayd.yaml":  "etc/gatewayd/gatewayd.yaml",
				"avahi/gatewayd.service":    "etc/avahi/services/gatewayd.service",
				"debian/copyright":          "usr/share/doc/gatewayd/copyright",
				"systemd/cloud-broker.conf": "usr/share/doc/gatewayd/examples/cloud-broker.conf",
				"debian/lintian-overrides":  "usr/share/lintian/overrides/gatewayd",
				"man/gatewayd.8":            "usr/share/man/man8/gatewayd.8.gz",
				"man/gatewayd.yaml.5":       "usr/share/man/man5/gatewayd.yaml.5.gz",
				"man/gatewayctl.1":          "usr/share/man/man1/gatewayctl.1.gz",
			} {
				a, _ := os.ReadFile(src)
				b := readMaybeGzip(t, filepath.Join(x, dst))
				if !bytes.Equal(a, b) {
					t.Errorf("%s in the package differs from %s", dst, src)
				}
			}
			// The changelog's first entry is this very version, dated
			// SOURCE_DATE_EPOCH, above the project's own entries.
			changelog := string(readMaybeGzip(t, filepath.Join(x, "usr/share/doc/gatewayd/changelog.gz")))
			if first, _, _ := strings.Cut(changelog, "\n"); first != "gatewayd ("+testDebVersion+") unstable; urgency=medium" {
				t.Errorf("changelog starts %q, want the entry for %s", first, testDebVersion)
			}
			if src, _ := os.ReadFile("debian/changelog"); !strings.HasSuffix(changelog, string(src)) {
				t.Errorf("changelog does not end with deploy/debian/changelog:\n%s", changelog)
			}
			for _, bin := range []string{"usr/sbin/gatewayd", "usr/bin/gatewayctl"} {
				f, err := elf.Open(filepath.Join(x, bin))
				if err != nil {
					t.Fatal(err)
				}
				if f.Machine != tt.machine {
					t.Errorf("packaged %s is %v, want %v", bin, f.Machine, tt.machine)
				}
				f.Close()
			}
			// One version everywhere: what the packaged binaries print is
			// the package's Version field.
			version := strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, "Version"))
			for _, bin := range []string{"usr/sbin/gatewayd", "usr/bin/gatewayctl"} {
				needTool(t, tt.qemu.qemu[0])
				out := qemuVersion(t, tt.qemu, filepath.Join(x, bin))
				if want := filepath.Base(bin) + " " + version + " ("; !strings.HasPrefix(out, want) {
					t.Errorf("packaged %s -version printed %q, want it to start %q (the package's Version)", bin, out, want)
				}
			}
		})
	}
}

// debArchs are the packages `make deb` builds.
var debArchs = []struct {
	arch    string
	machine elf.Machine
	qemu    qemuRun // to run its binaries here
}{
	{"arm64", elf.EM_AARCH64, qemuTargets[0]},
	{"armhf", elf.EM_ARM, qemuTargets[1]},
}

// readMaybeGzip reads a file, uncompressing it if its name ends in .gz.
func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !zr.ModTime.IsZero() || zr.Name != "" {
		t.Errorf("%s: gzip header keeps name %q and time %v; want neither (gzip -n), for reproducible builds", path, zr.Name, zr.ModTime)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

var lintianTagRE = regexp.MustCompile(`(?m)^[EWIPXCO]: .*$`)

// TestLintian holds both packages to Debian's own checker at its strictest
// (every tag, experimental and pedantic included). What a static Go binary
// cannot avoid is overridden, with the reason, in debian/lintian-overrides;
// an override that no longer matches is itself reported.
func TestLintian(t *testing.T) {
	needTool(t, "lintian")
	for _, tt := range debArchs {
		t.Run(tt.arch, func(t *testing.T) {
			deb := debFile(t, tt.arch)
			out, err := exec.Command("lintian", "-EvIL", "+pedantic", deb).CombinedOutput()
			tags := lintianTagRE.FindAllString(string(out), -1)
			t.Logf("lintian -EvIL +pedantic %s: %d tags, exit %v", filepath.Base(deb), len(tags), err)
			if err != nil || len(tags) > 0 {
				t.Errorf("lintian: %v\n%s", err, strings.Join(tags, "\n"))
			}
		})
	}
}

// TestDebReproducible builds the packages a second time, into another
// directory, a few seconds later and under another umask, and wants the same
// bytes: the same commit gives the same .deb (SOURCE_DATE_EPOCH fixes every
// date in it).
func TestDebReproducible(t *testing.T) {
	first := map[string]string{}
	for _, tt := range debArchs {
		first[tt.arch] = debFile(t, tt.arch)
	}
	dir := t.TempDir()
	time.Sleep(1100 * time.Millisecond) // a second build in another second
	old := syscall.Umask(0o002)
	out, err := makeIn(dir, "deb")
	syscall.Umask(old)
	if err != nil {
		t.Fatalf("second make deb: %v\n%s", err, out)
	}
	for _, tt := range debArchs {
		a, err := os.ReadFile(first[tt.arch])
		if err != nil {
			t.Fatal(err)
		}
		second := filepath.Join(dir, filepath.Base(first[tt.arch]))
		b, err := os.ReadFile(second)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two builds differ (%d and %d bytes, sha256 %x and %x)", tt.arch, len(a), len(b), sha256.Sum256(a), sha256.Sum256(b))
			if _, err := exec.LookPath("diffoscope"); err == nil {
				d, _ := exec.Command("diffoscope", first[tt.arch], second).CombinedOutput()
				t.Logf("diffoscope:\n%s", d)
			}
		}
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
	v2 := strings.TrimSpace(run(t, "./build-deb.sh", "arm64", "v1.3.0", v2dir, crossBinary(t, "arm64"), crossCommand(t, "gatewayctl", "arm64")))
	r := newDpkgRoot(t)
	sockWants := "etc/systemd/system/sockets.target.wants/gatewayd.socket"
	svcWants := "etc/systemd/system/multi-user.target.wants/gatewayd.service"
	conf := r.path("etc/gatewayd/gatewayd.yaml")

	r.dpkg(t, "--install", v1)
	wantFiles(t, string(r), map[string]fs.FileMode{
		"usr/sbin/gatewayd":                0o755,
		"usr/bin/gatewayctl":               0o755,
		"usr/share/man/man8/gatewayd.8.gz": 0o644,
		"usr/share/doc/gatewayd/copyright": 0o644,
		sockWants:                          fs.ModeSymlink | 0o777,
		svcWants:                           fs.ModeSymlink | 0o777,
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
	removed := map[string]fs.FileMode{
		"usr/sbin/gatewayd":                   0,
		"usr/bin/gatewayctl":                  0,
		"lib/systemd/system/gatewayd.service": 0,
		"etc/gatewayd/gatewayd.yaml":          0o644,
		"etc/systemd/system/gatewayd.service": fs.ModeSymlink | 0o777, // masked
	}
	wantFiles(t, string(r), removed)

	// A reinstall over the config that removal left: postinst takes the
	// same path as on an upgrade ($2 is set), unmasks the units and enables
	// them again. (That it also starts the service is shown under a real
	// systemd, in TestDebUnderSystemd.)
	r.dpkg(t, "--install", v2)
	wantFiles(t, string(r), map[string]fs.FileMode{
		"usr/sbin/gatewayd":                   0o755,
		"etc/systemd/system/gatewayd.service": 0,
		svcWants:                              fs.ModeSymlink | 0o777,
	})
	r.dpkg(t, "--remove", "gatewayd")
	wantFiles(t, string(r), removed)

	// What systemd's StateDirectory= would hold: the bridge's queue.
	queued := r.path("var/lib/gatewayd/queue/00000000000000000001.seg")
	if err := os.MkdirAll(filepath.Dir(queued), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(queued, []byte("a line not yet delivered"), 0o640); err != nil {
		t.Fatal(err)
	}
	r.dpkg(t, "--purge", "gatewayd")
	wantFiles(t, string(r), map[string]fs.FileMode{
		"var/lib/gatewayd":                    0,
		"etc/gatewayd":                        0,
		"etc/systemd/system/gatewayd.service": 0,
		svcWants:                              0,
	})
	// The user stays, as Debian keeps system users.
	wantLine(t, r.path("etc/passwd"), `^gatewayd:`)
}
