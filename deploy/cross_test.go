// make cross: static ARM builds, run and echoed through under qemu-user.

package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrossBuilds checks what `make cross` promises: a static Linux binary
// for each Pi generation, built without cgo and local paths, stamped with
// the version.
func TestCrossBuilds(t *testing.T) {
	tests := []struct {
		name    string
		machine elf.Machine
		class   elf.Class
		goarm   string
	}{
		{"arm64", elf.EM_AARCH64, elf.ELFCLASS64, ""},
		{"armv6", elf.EM_ARM, elf.ELFCLASS32, "6"},
		{"armv7", elf.EM_ARM, elf.ELFCLASS32, "7"},
	}
	for _, tt := range tests {
		for _, command := range []string{"gatewayd", "gatewayctl"} {
			t.Run(tt.name+"/"+command, func(t *testing.T) {
				path := crossCommand(t, command, tt.name)
				f, err := elf.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if f.Machine != tt.machine || f.Class != tt.class {
					t.Errorf("ELF %v %v, want %v %v", f.Machine, f.Class, tt.machine, tt.class)
				}
				for _, p := range f.Progs {
					if p.Type == elf.PT_INTERP {
						t.Errorf("has a program interpreter: dynamically linked, want static")
					}
				}
				info, err := buildinfo.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				settings := map[string]string{}
				for _, s := range info.Settings {
					settings[s.Key] = s.Value
				}
				want := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "-trimpath": "true"}
				if tt.goarm != "" {
					want["GOARM"] = tt.goarm
				}
				for k, v := range want {
					if settings[k] != v {
						t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
					}
				}
				// -trimpath keeps -ldflags out of the build info: the version
				// stamp is checked by running -version (TestARMVersionUnderQEMU).
			})
		}
	}
}

// qemuRun describes how to run one ARM build on this machine.
type qemuRun struct {
	name string   // crossBinary name
	qemu []string // emulator and its flags
}

// qemuTargets are the cross builds under qemu-user. The armv6 build runs on
// an ARM1176 (Pi 1, Zero), so one ARMv7 instruction in it would fail.
var qemuTargets = []qemuRun{
	{"arm64", []string{"qemu-aarch64-static"}},
	{"armv6", []string{"qemu-arm-static", "-cpu", "arm1176"}},
	{"armv7", []string{"qemu-arm-static", "-cpu", "cortex-a7"}},
}

// TestARMVersionUnderQEMU runs `gatewayd -version` and `gatewayctl -version`
// for each ARM build: both print the one version the packages carry
// (1.2.3+4+gitabcdef0 for `git describe` v1.2.3-4-gabcdef0), then the commit.
func TestARMVersionUnderQEMU(t *testing.T) {
	for _, q := range qemuTargets {
		for _, command := range []string{"gatewayd", "gatewayctl"} {
			t.Run(q.name+"/"+command, func(t *testing.T) {
				needTool(t, q.qemu[0])
				out := qemuVersion(t, q, crossCommand(t, command, q.name))
				want := command + " " + testDebVersion + " (commit " + testCommit + ", go1."
				if !strings.HasPrefix(out, want) {
					t.Errorf("-version printed %q, want it to start %q", out, want)
				}
			})
		}
	}
}

// qemuVersion runs an ARM binary's -version under qemu-user.
func qemuVersion(t *testing.T, q qemuRun, bin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(append([]string{}, q.qemu[1:]...), bin, "-version")
	out, err := exec.CommandContext(ctx, q.qemu[0], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s -version: %v\n%s", bin, err, out)
	}
	return string(out)
}

// TestARMv7BuildNeedsARMv7 is the control for the armv6 row above: the armv7
// build dies with an illegal instruction on the ARM1176 of a Pi 1 or Zero, so
// running the armv6 build there does prove it has no ARMv7 instruction.
func TestARMv7BuildNeedsARMv7(t *testing.T) {
	needTool(t, "qemu-arm-static")
	bin := crossBinary(t, "armv7")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "qemu-arm-static", "-cpu", "arm1176", bin, "-version").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("armv7 build on an ARM1176: err %v, output %q; want it killed by SIGILL", err, out)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGILL {
		t.Errorf("armv7 build on an ARM1176 ended with %v, want SIGILL (%q)", err, out)
	}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// TestARMEchoUnderQEMU starts each ARM daemon under qemu-user on a loopback
// port the kernel picks, echoes through it, then stops it with SIGTERM as
// systemd would: the client sees EOF and the daemon exits 0.
func TestARMEchoUnderQEMU(t *testing.T) {
	for _, q := range qemuTargets {
		t.Run(q.name, func(t *testing.T) {
			needTool(t, q.qemu[0])
			bin := crossBinary(t, q.name)
			conf := filepath.Join(t.TempDir(), "gatewayd.yaml")
			writeFile(t, conf, "listen: \"127.0.0.1:0\"\nshutdown_timeout: 30s\ngpio:\n  driver: sim\n", 0o644)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			args := append(append([]string{}, q.qemu[1:]...), bin, "-config", conf)
			cmd := exec.CommandContext(ctx, q.qemu[0], args...)
			cmd.Env = cleanEnv()
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The log is drained to the end so the daemon never blocks on
			// a full pipe; the listening address is handed over once.
			addrc := make(chan string, 1)
			var logMu sync.Mutex
			var logBuf strings.Builder
			logDone := make(chan struct{})
			go func() {
				defer close(logDone)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					logMu.Lock()
					logBuf.WriteString(sc.Text() + "\n")
					logMu.Unlock()
					if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
						select {
						case addrc <- m[1]:
						default:
						}
					}
				}
			}()
			log := func() string {
				logMu.Lock()
				defer logMu.Unlock()
				return logBuf.String()
			}
			waitc := make(chan error, 1)
			stopped := false
			defer func() {
				if !stopped {
					cmd.Process.Kill()
					<-waitc
				}
			}()
			go func() {
				<-logDone
				waitc <- cmd.Wait()
			}()

			var addr string
			select {
			case addr = <-addrc:
			case err := <-waitc:
				stopped = true
				t.Fatalf("daemon exited before listening: %v\n%s", err, log())
			case <-time.After(time.Minute):
				t.Fatalf("no msg=listening line within a minute:\n%s", log())
			}
			if host, port, _ := net.SplitHostPort(addr); host != "127.0.0.1" || port == "0" {
				t.Fatalf("listening on %q, want 127.0.0.1 and the port the kernel picked", addr)
			}

			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v\n%s", addr, err, log())
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			msg := []byte("hello from " + q.name + "\x00\xff binary too\n")
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(conn, got); err != nil {
				t.Fatalf("reading the echo: %v\n%s", err, log())
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("echo %q, want %q", got, msg)
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// A client still connected sees the daemon close it, and closes
			// in turn, as a well-behaved client does; the daemon then has
			// no reason to wait out shutdown_timeout.
			if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after SIGTERM the client read %d bytes, err %v, want EOF", n, err)
			}
			conn.Close()
			select {
			case err := <-waitc:
				stopped = true
				if err != nil {
					t.Errorf("after SIGTERM: %v, want exit 0\n%s", err, log())
				}
			case <-time.After(15 * time.Second):
				// shutdown_timeout is 30s: an exit only after it would mean
				// the daemon waited out a client that had already gone.
				t.Fatalf("daemon did not exit within 15s of SIGTERM with no client left:\n%s", log())
			}
			if strings.Contains(log(), "panic") {
				t.Errorf("log mentions a panic:\n%s", log())
			}
		})
	}
}
