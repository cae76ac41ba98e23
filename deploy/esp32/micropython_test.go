package esp32

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

const clientPath = "micropython/gatewayd_client.py"

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the MicroPython client's CPython run cannot be tested here")
	}
	return p
}

// runPython starts the client under CPython with args.
func runPython(t *testing.T, args ...string) (*exec.Cmd, *console, *gatewaytest.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(runCtx(t, 2*time.Minute), python(t), append([]string{clientPath}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &gatewaytest.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, newConsole(stdout), stderr
}

var pyReceiptRe = regexp.MustCompile(`(?m)^receipt seq=(\d+) rtt_ms=\d+$`)

// interrupt ends a client started with --count 0 as Ctrl-C would and
// checks what it printed: an `interrupted:` line with nothing dropped, and
// exit status 130. It returns that line.
func interrupt(t *testing.T, cmd *exec.Cmd, c *console, stderr *gatewaytest.Buffer) string {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatalf("SIGINT the client: %v", err)
	}
	c.waitDone(time.Minute)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("client after SIGINT: %v, want exit status 130\n%s\nstderr:\n%s", err, c.text(), stderr.String())
	}
	line := regexp.MustCompile(`(?m)^interrupted: receipts=\d+ outbox=\d+ dropped=0 reconnects=\d+$`).FindString(c.text())
	if line == "" {
		t.Fatalf("want an `interrupted:` line with dropped=0:\n%s", c.text())
	}
	if strings.Contains(c.text(), "MISMATCH") {
		t.Errorf("a receipt mismatch:\n%s", c.text())
	}
	return line
}

// TestMicroPythonSession runs the client unchanged under CPython: hello,
// receipts, gatewayd frozen then killed with SIGKILL and started again (the
// lines without a receipt are sent again), and a `gatewayctl tell` delivery
// passed to on_message. The client runs until the test interrupts it, so
// it is still connected when the delivery is sent: with --count it could
// finish its lines and leave first.
func TestMicroPythonSession(t *testing.T) {
	const count = 200 // lines the test wants receipted before it ends the client
	g := newGateway(t, "line", "")
	first := g.start(t)
	cmd, c, stderr := runPython(t, "--host", "127.0.0.1", "--port", portOf(g.addr),
		"--interval", "0.02", "--count", "0", "--outbox-lines", "200",
		"--backoff-min", "0.05", "--backoff-max", "0.4", "--id", "esp32-PYTEST")
	c.waitFor(t, regexp.MustCompile(`^hello ok: session as esp32-PYTEST$`), 0, 15*time.Second, "hello")
	at := c.waitFor(t, regexp.MustCompile(`^receipt seq=59 `), 0, 30*time.Second, "60 receipts")
	first.crash(t, 300*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	second := g.start(t)
	resend := c.waitFor(t, regexp.MustCompile(`^resending \d+ lines that had no receipt, seq=\d+\.\.\d+$`), at, 30*time.Second, "resend after the restart")
	c.waitFor(t, regexp.MustCompile(`^receipt seq=`), resend, 30*time.Second, "receipts after the restart")
	g.tell(t, second, c, "esp32-PYTEST", "led on")
	c.waitFor(t, regexp.MustCompile(`^msg: led on$`), resend, 15*time.Second, "the delivered !msg")
	c.waitFor(t, regexp.MustCompile(`^led on$`), resend, 5*time.Second, "on_message")
	c.waitFor(t, regexp.MustCompile(fmt.Sprintf(`^receipt seq=%d `, count-1)), resend, 30*time.Second, fmt.Sprintf("%d receipts", count))
	line := interrupt(t, cmd, c, stderr)
	if m := missing(receipted(c.text(), pyReceiptRe), count); len(m) > 0 {
		t.Errorf("no receipt for seqs %v", m)
	}
	if !regexp.MustCompile(` reconnects=[1-9]\d*$`).MatchString(line) {
		t.Errorf("want a reconnect after the restart: %s", line)
	}
	t.Logf("%s; %s", c.line(resend), line)
	second.stop(t)
}

// TestMicroPythonTLS: under CPython the client reads a config.py holding the
// lines `gatewayctl pki board` prints and talks TLS with its certificate.
func TestMicroPythonTLS(t *testing.T) {
	p := issuePKI(t, "esp32-PYTLS")
	g, d := tlsGateway(t, p)
	cfg := filepath.Join(t.TempDir(), "config.py")
	body := fmt.Sprintf("GATEWAY_HOST = \"localhost\"\nGATEWAY_PORT = %s\n%s\n", portOf(g.addr), p.configPy)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, c, stderr := runPython(t, "--config", cfg, "--interval", "0.02", "--count", "0", "--backoff-min", "0.05", "--backoff-max", "0.4")
	c.waitFor(t, regexp.MustCompile(`tls=on`), 0, 10*time.Second, "banner")
	c.waitFor(t, regexp.MustCompile(`^hello ok: session as esp32-PYTLS$`), 0, 15*time.Second, "hello over TLS")
	c.waitFor(t, regexp.MustCompile(`^receipt seq=9 `), 0, 15*time.Second, "receipts over TLS")
	g.tell(t, d, c, "esp32-PYTLS", "over tls")
	c.waitFor(t, regexp.MustCompile(`^msg: over tls$`), 0, 15*time.Second, "delivery over TLS")
	c.waitFor(t, regexp.MustCompile(`^receipt seq=29 `), 0, 15*time.Second, "30 receipts over TLS")
	interrupt(t, cmd, c, stderr)
	if m := missing(receipted(c.text(), pyReceiptRe), 30); len(m) > 0 {
		t.Errorf("no receipt for seqs %v", m)
	}
	if !strings.Contains(d.stderr.String(), `msg="board hello" board=esp32-PYTLS`) {
		t.Errorf("gatewayd did not log the board's hello over TLS:\n%s", d.stderr.String())
	}
}

// TestMicroPythonClientFailsWithoutGateway: with nothing listening, the
// client must not claim success. It retries with backoff and keeps its lines.
func TestMicroPythonClientFailsWithoutGateway(t *testing.T) {
	addr := freeAddr(t) // closed again: connections are refused
	// The client never ends here; 6 s leaves a loaded machine time to
	// start Python and show a few attempts.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, python(t), clientPath, "--port", portOf(addr), "--count", "1",
		"--backoff-min", "0.05", "--backoff-max", "0.2").CombinedOutput()
	if ctx.Err() == nil {
		t.Fatalf("client ended without a gateway to talk to:\n%s", out)
	}
	s := string(out)
	if strings.Contains(s, "receipt seq=") {
		t.Errorf("client reported a receipt with no gateway:\n%s", s)
	}
	if n := strings.Count(s, "reconnecting in "); n < 2 {
		t.Errorf("want repeated reconnect attempts with backoff, got %d:\n%s", n, s)
	}
	if !strings.Contains(s, "ECONNREFUSED") {
		t.Errorf("want the refusal reason in the log:\n%s", s)
	}
}

// TestUnderMicroPython runs the client's real code under the MicroPython
// interpreter (the WebAssembly port from npm, run by node) with an in-memory
// gateway (mpcheck/harness.py) behind stand-in socket, ssl and select
// modules that have MicroPython 1.22's methods and nothing more, so syntax
// or library use that CPython accepts and MicroPython does not is caught:
// settimeout or recv on a TLS socket, load_verify_locations(cadata=...) on
// 1.22, TLS without CERT_REQUIRED, a blocking call with no timeout. Modes:
// a session (with a 1.5 KiB !msg skipped), raw framing, mDNS, TLS (with a
// non-UTF-8 !msg), a TLS gateway that never answers the handshake, and a
// board run (config.py, machine.WDT) whose MemoryError the catch-all turns
// into machine.reset(). It needs `npm ci` in micropython/mpcheck.
func TestUnderMicroPython(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot run the MicroPython interpreter check")
	}
	dir := filepath.Join("micropython", "mpcheck")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@micropython", "micropython-webassembly-pyscript")); err != nil {
		t.Skip("MicroPython (WebAssembly) not installed: run `npm ci` in deploy/esp32/micropython/mpcheck to enable this check")
	}
	summary := "summary: receipts=8/8 resent=6 dropped=0 mismatches=0 failures=3 reconnects=1 "
	for _, tc := range []struct {
		mode     string
		want     []string
		receipts bool
	}{
		{"session", []string{
			"ECONNREFUSED", "hello ok: session as esp32-TEST", "connection closed by the gateway (EOF)",
			"resending 6 lines that had no receipt, seq=2..7", "msg: led on", "led on",
			"skipped a line of 1506 bytes from the gateway: longer than 1280", summary,
			"first data line: boot=1 seq=0 uptime_ms=",
		}, true},
		{"raw", []string{
			"hello echoed back: the gateway does not speak the board protocol; plain echo mode", summary,
		}, true},
		{"mdns", []string{"mdns: resolving raspberrypi.local", "state=connecting gateway=raspberrypi.local:1",
			"summary: receipts=8/8 "}, true},
		{"tls", []string{"tls=on", "hello ok: session as esp32-TEST", `msg (not UTF-8): b'\xff\xfe not utf-8'`,
			"msg: led on", "handshakes 2", summary}, true},
		{"tlshung", []string{"tls: timed out", "handshakes 4"}, false},
		{"board", []string{"boot=7", "first data line: boot=7 seq=0 uptime_ms=", // the harness stored boot 6
			"gatewayd_client 2.0.0 board=esp32-240AC4123456 ", "hello ok: session as esp32-240AC4123456",
			"fatal: memory allocation failed, allocating 4096 bytes: resetting the board",
			"watchdog feeds (WDT timeout 30000 ms)"}, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "run.mjs"), clientPath, tc.mode).CombinedOutput()
			if err != nil {
				t.Fatalf("node run.mjs: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, "RESULT rc=0") {
				t.Errorf("want RESULT rc=0 in the output:\n%s", s)
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("want %q in the output:\n%s", w, s)
				}
			}
			for _, bad := range []string{"HANG:", "INSECURE:", "NO CLIENT CERTIFICATE", "Traceback"} {
				if strings.Contains(s, bad) && !(tc.mode == "board" && bad == "Traceback") {
					t.Errorf("%q in the output:\n%s", bad, s)
				}
			}
			if tc.mode == "board" && strings.Contains(s, "after 0 watchdog feeds") {
				t.Errorf("the client never fed the watchdog:\n%s", s)
			}
			if !tc.receipts {
				return
			}
			if m := missing(receipted(s, pyReceiptRe), 8); len(m) > 0 {
				t.Errorf("no receipt under MicroPython for seqs %v:\n%s", m, s)
			}
		})
	}
}
