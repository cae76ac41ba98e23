// What every deploy test shares: the builds it runs once (the host daemon,
// make cross, make deb), tool and root checks, and small file helpers.

package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// The version and commit the test builds are given, as `git describe` and
// `git rev-parse --short` print them, and the one version (deploy/version.sh)
// that the binaries and the packages then all carry.
const (
	testVersion    = "v1.2.3-4-gabcdef0"
	testCommit     = "abcdef0"
	testDebVersion = "1.2.3+4+gitabcdef0"
)

// top is the repository root; buildDir holds what the Makefile builds during
// this run, shared by every test so each architecture is compiled once.
var (
	top      string
	buildDir string
)

func TestMain(m *testing.M) {
	var err error
	if top, err = filepath.Abs(".."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if buildDir, err = os.MkdirTemp("", "gatewayd-deploy-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// once runs a build step at most once per test run and replays its result.
type once struct {
	sync.Once
	out []byte
	err error
}

func (o *once) do(t *testing.T, what string, f func() ([]byte, error)) {
	t.Helper()
	o.Do(func() { o.out, o.err = f() })
	if o.err != nil {
		t.Fatalf("%s: %v\n%s", what, o.err, o.out)
	}
}

var crossOnce, debOnce, hostOnce, hostCtlOnce once

// hostDaemon returns cmd/gatewayd built for this machine.
func hostDaemon(t *testing.T) string {
	t.Helper()
	return hostBuild(t, &hostOnce, "gatewayd")
}

// hostCtl returns cmd/gatewayctl built for this machine.
func hostCtl(t *testing.T) string {
	t.Helper()
	return hostBuild(t, &hostCtlOnce, "gatewayctl")
}

func hostBuild(t *testing.T, o *once, name string) string {
	t.Helper()
	o.do(t, "go build ./cmd/"+name, func() ([]byte, error) {
		_, err := gatewaytest.Build(filepath.Join(buildDir, "host"), "github.com/gatewayd/gatewayd/cmd/"+name, gatewaytest.BuildOptions{
			// Stamped as make build stamps it, so a package built from
			// it carries one version too.
			Flags: []string{"-ldflags=-X main.version=" + testDebVersion + " -X main.commit=" + testCommit},
			// For this machine even when the suite itself runs as arm64
			// under qemu-user (GOARCH=arm64 go test -exec ...): the
			// systemd these tests boot is the host's.
			Env: []string{"GOOS=", "GOARCH=", "GOARM="},
		})
		return nil, err // the error carries go build's output
	})
	return filepath.Join(buildDir, "host", name)
}

// makeTarget runs the top-level Makefile the way a developer would, with the
// outputs in buildDir and a fixed version.
func makeTarget(targets ...string) ([]byte, error) {
	return makeIn(buildDir, targets...)
}

// makeIn runs make with its outputs in dir.
func makeIn(dir string, targets ...string) ([]byte, error) {
	args := append([]string{"-C", top, "BIN=" + dir, "VERSION=" + testVersion, "COMMIT=" + testCommit}, targets...)
	return exec.Command("make", args...).CombinedOutput()
}

// crossBinary returns bin/gatewayd-linux-NAME from `make cross`.
func crossBinary(t *testing.T, name string) string {
	t.Helper()
	return crossCommand(t, "gatewayd", name)
}

// crossCommand returns bin/COMMAND-linux-NAME from `make cross`.
func crossCommand(t *testing.T, command, name string) string {
	t.Helper()
	needTool(t, "make")
	crossOnce.do(t, "make cross", func() ([]byte, error) { return makeTarget("cross") })
	return filepath.Join(buildDir, command+"-linux-"+name)
}

// debFile returns the package `make deb` built for a Debian architecture.
func debFile(t *testing.T, arch string) string {
	t.Helper()
	crossBinary(t, "arm64")
	needTool(t, "dpkg-deb")
	debOnce.do(t, "make deb", func() ([]byte, error) { return makeTarget("deb") })
	return filepath.Join(buildDir, "gatewayd_"+testDebVersion+"_"+arch+".deb")
}

// fakeBuild stands in for `make build`: a directory with gatewayd and
// gatewayctl that install.sh copies but nothing runs. It returns gatewayd.
func fakeBuild(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fakeExecutable(t, filepath.Join(dir, "gatewayctl"))
	bin := filepath.Join(dir, "gatewayd")
	fakeExecutable(t, bin)
	return bin
}

// fakeExecutableIn makes one fake executable alone in a new directory.
func fakeExecutableIn(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	fakeExecutable(t, bin)
	return bin
}

// needTool skips the test when a tool it drives is not installed at all
// (deploy/install-deps.sh installs them; CI runs it).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (deploy/install-deps.sh installs it): %v", name, err)
	}
	return p
}

// needRoot skips a test that has to chown files or switch users.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files as root and switch users (CI runs as root)")
	}
}

// run runs a command and fails the test if it does not exit 0.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cleanEnv is the environment minus anything that would make the daemon
// believe it runs under systemd.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// --- small helpers ------------------------------------------------------------

func mustMkdir(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	mustMkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not masked by the umask
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode fs.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b), mode)
}
