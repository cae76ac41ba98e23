package esp32

import (
	"bufio"
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
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

const examplePath = "examples/gatewayd_client/gatewayd_client.ino"

// The two API sets of the host shim (hostshim/esp32/boards.txt): the board
// names pick the variant whose esp_arduino_version.h says 2 or 3.
var cores = []string{"core2", "core3"}

// arduinoTools skips the test without arduino-builder and arduino-ctags
// (Debian packages, deploy/install-deps.sh) or g++ and libssl-dev.
func arduinoTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"arduino-builder", "arduino-ctags", "g++"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (deploy/install-deps.sh): the example cannot be built as the Arduino IDE builds it", tool)
		}
	}
	if _, err := os.Stat("/usr/include/openssl/ssl.h"); err != nil {
		t.Skip("OpenSSL headers are missing (libssl-dev, see deploy/install-deps.sh): the shim's TLS client cannot be built")
	}
}

// arduinoBuilder runs Debian's arduino-builder, as the Arduino IDE does
// (prototypes from arduino-ctags included), on the sketch folder dir for
// the host shim board fqbnBoard, with this folder as the GatewaydClient
// library. It returns the program built, or arduino-builder's output and
// an error.
func arduinoBuilder(t *testing.T, dir, board string) (string, []byte, error) {
	t.Helper()
	arduinoTools(t)
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// arduino-builder wants folders of platforms and of libraries: links
	// to the shim (vendor "hostshim", architecture "esp32") and to this
	// library, under the names a user's sketchbook would have.
	root := t.TempDir()
	for link, target := range map[string]string{
		"hardware/hostshim":        filepath.Join(here, "hostshim"),
		"libraries/GatewaydClient": here,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, link)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	build := filepath.Join(root, "build")
	cache := filepath.Join(sharedDir, "arduino-core-cache")
	for _, d := range []string{build, cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Base(dir)
	args := []string{"-compile", "-hardware", filepath.Join(root, "hardware"), "-tools", "/usr/bin",
		"-libraries", filepath.Join(root, "libraries"), "-fqbn", "hostshim:esp32:" + board,
		"-build-path", build, "-build-cache", cache, "-warnings", "all",
		filepath.Join(dir, name+".ino")}
	out, err := exec.Command("arduino-builder", args...).CombinedOutput()
	if err != nil {
		return "", out, fmt.Errorf("arduino-builder %s: %v", strings.Join(args, " "), err)
	}
	return filepath.Join(build, name+".ino.elf"), out, nil
}

// buildSketch copies the example, byte for byte, into a fresh sketch
// folder beside a secrets.h holding secrets, and builds it with
// arduino-builder for board (core2 or core3).
func buildSketch(t *testing.T, board, secrets string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gatewayd_client")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gatewayd_client.ino"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.h"), []byte(secrets+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, out, err := arduinoBuilder(t, dir, board)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return bin
}

// plainSecrets is a secrets.h for a gateway at addr ("" host: mDNS).
func plainSecrets(host, port string, extra ...string) string {
	return fmt.Sprintf("#define WIFI_SSID \"lab\"\n#define WIFI_PASSWORD \"secret\"\n#define GATEWAY_HOST %q\n#define GATEWAY_PORT %s\n%s",
		host, port, strings.Join(extra, "\n"))
}

// sketchRun is the sketch running under the shim.
type sketchRun struct {
	cmd    *exec.Cmd
	out    *console
	stderr *gatewaytest.Buffer
}

// runSketch starts the built sketch; env adds HOSTSHIM_ settings.
func runSketch(t *testing.T, bin string, env ...string) *sketchRun {
	t.Helper()
	r := &sketchRun{stderr: &gatewaytest.Buffer{}}
	r.cmd = exec.CommandContext(runCtx(t, 2*time.Minute), bin)
	nvs := filepath.Join(t.TempDir(), "nvs")
	r.cmd.Env = append(append(os.Environ(), "HOSTSHIM_MAC=24:0A:C4:12:34:56", "HOSTSHIM_NVS="+nvs), env...)
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.out = newConsole(stdout)
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

// wait expects the shim to end with status want.
func (r *sketchRun) wait(t *testing.T, want int) {
	t.Helper()
	r.out.waitDone(time.Minute)
	err := r.cmd.Wait()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sketch: %v", err)
	}
	if got != want {
		t.Fatalf("sketch exit status %d, want %d; stderr:\n%s\nconsole:\n%s", got, want, r.stderr.String(), r.out.text())
	}
}

const boardID = "esp32-240AC4123456" // from HOSTSHIM_MAC

var sketchReceiptRe = regexp.MustCompile(`(?m)\] receipt seq=(\d+) rtt_ms=\d+$`)

// TestExampleBuildsWithArduinoBuilder: the example, unchanged, builds with
// arduino-builder and arduino-ctags (the Arduino IDE's own build, which
// adds prototypes of the sketch's functions) against both API sets of the
// shim. The sketch before the library did not: "'ClientState' was not
// declared in this scope", as ctags put prototypes above the enum.
func TestExampleBuildsWithArduinoBuilder(t *testing.T) {
	for _, board := range cores {
		t.Run(board, func(t *testing.T) {
			bin := buildSketch(t, board, plainSecrets("127.0.0.1", "65432"))
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("arduino-builder made no program: %v", err)
			}
		})
	}
}

// TestSketchSession, on both API sets: the example says hello, gets
// receipts for 100 lines, lives through gatewayd frozen (so lines go
// unreceipted) and killed with SIGKILL, resends what had no receipt to the
// restarted gatewayd, and prints a `!msg` sent with `gatewayctl tell`,
// whose example callback lights the LED. A 1 KiB `!msg` is delivered and a
// 2 KiB one skipped, and the session goes on after both.
func TestSketchSession(t *testing.T) {
	for _, board := range cores {
		t.Run(board, func(t *testing.T) { sketchSession(t, board) })
	}
}

func sketchSession(t *testing.T, board string) {
	g := newGateway(t, "line", "")
	bin := buildSketch(t, board, plainSecrets("127.0.0.1", portOf(g.addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 200"))
	first := g.start(t)
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=] led on", "HOSTSHIM_TIMEOUT_MS=90000")
	c := r.out

	c.waitFor(t, regexp.MustCompile(`^gatewayd_client 3\.0\.0 board=`+boardID+` boot=1 reset=power-on gateway=127\.0\.0\.1:\d+ tls=off`), 0, 10*time.Second, "banner")
	c.waitFor(t, regexp.MustCompile(`\] hello ok: session as `+boardID+`$`), 0, 10*time.Second, "hello")
	at := c.waitFor(t, regexp.MustCompile(`\] receipt seq=99 `), 0, 30*time.Second, "100 receipts")
	if m := missing(receipted(c.text(), sketchReceiptRe), 100); len(m) > 0 {
		t.Fatalf("no receipt for seqs %v", m)
	}
	if !strings.Contains(first.stderr.String(), `msg="board hello" board=`+boardID) {
		t.Errorf("gatewayd did not log the board's hello:\n%s", first.stderr.String())
	}

	first.crash(t, 300*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // lines pile up in the outbox
	second := g.start(t)
	resend := c.waitFor(t, regexp.MustCompile(`\] resending (\d+) lines that had no receipt, seq=\d+\.\.\d+$`), at, 30*time.Second, "resend after the restart")
	c.waitFor(t, regexp.MustCompile(`\] hello ok: session as `+boardID+`$`), at, 10*time.Second, "hello to the restarted gatewayd")
	c.waitFor(t, regexp.MustCompile(`\] receipt seq=\d+ `), resend, 30*time.Second, "receipts after the restart")
	n := len(receipted(c.text(), sketchReceiptRe))
	c.waitFor(t, regexp.MustCompile(fmt.Sprintf(`\] receipt seq=%d `, n+20)), resend, 30*time.Second, "20 more receipts")
	seen := receipted(c.text(), sketchReceiptRe)
	if m := missing(seen, n+20); len(m) > 0 {
		t.Fatalf("after the restart, no receipt for seqs %v", m)
	}
	if strings.Contains(c.text(), "MISMATCH") {
		t.Errorf("a receipt mismatch:\n%s", c.text())
	}

	// Long messages: 1 KiB is delivered; 2 KiB is longer than the board
	// reads, and is skipped without ending the session.
	long := strings.Repeat("x", 1024)
	g.tell(t, second, c, boardID, long)
	got := c.waitFor(t, regexp.MustCompile(`\] msg: x{200}\.\.\.$`), resend, 10*time.Second, "the 1 KiB !msg")
	g.tell(t, second, c, boardID, strings.Repeat("y", 2048))
	c.waitFor(t, regexp.MustCompile(`\] skipped a line of 2054 bytes from the gateway: longer than 1280$`), got, 10*time.Second, "the 2 KiB !msg skipped")
	g.tell(t, second, c, boardID, "led on")
	c.waitFor(t, regexp.MustCompile(`\] msg: led on$`), got, 10*time.Second, "the delivered !msg")
	r.wait(t, 0)
	out := c.text()
	if !regexp.MustCompile(`\] msg: led on\nhostshim: digitalWrite\(2, HIGH\)\n\[ *\d+\] led on`).MatchString(out) {
		t.Errorf("the example callback did not light the LED (GPIO 2 HIGH after `led on`):\n%s", out)
	}
	if strings.Count(out, "] hello ok:") != 2 {
		t.Errorf("want exactly two sessions (the long messages must not end one):\n%s", out)
	}
	second.stop(t)
	t.Logf("%s; %d distinct seqs receipted", c.line(resend), len(seen))
}

// TestSketchTLS: the example with the secrets.h lines `gatewayctl pki
// board` prints talks TLS with its client certificate, says hello and gets
// receipts. With a CA that did not sign the gateway's certificate, it never
// gets as far as a hello.
func TestSketchTLS(t *testing.T) {
	p := issuePKI(t, boardID)
	g, d := tlsGateway(t, p)
	secrets := plainSecrets("localhost", portOf(g.addr), p.secretsH, "#define SEND_INTERVAL_MS 20")
	bin := buildSketch(t, "core3", secrets)
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=] msg: over tls", "HOSTSHIM_TIMEOUT_MS=60000")
	r.out.waitFor(t, regexp.MustCompile(`tls=on`), 0, 10*time.Second, "banner")
	r.out.waitFor(t, regexp.MustCompile(`\] hello ok: session as `+boardID+`$`), 0, 20*time.Second, "hello over TLS")
	r.out.waitFor(t, regexp.MustCompile(`\] receipt seq=19 `), 0, 20*time.Second, "20 receipts over TLS")
	g.tell(t, d, r.out, boardID, "over tls")
	r.wait(t, 0)
	if !strings.Contains(r.stderr.String(), "hostshim: tls: TLSv1.") {
		t.Errorf("the shim did not report a TLS session:\n%s", r.stderr.String())
	}

	t.Run("wrong CA", func(t *testing.T) {
		other := issuePKI(t, boardID)
		// The board trusts another CA than the one that signed the server.
		bad := strings.Replace(secrets, caBlock(t, p.secretsH), caBlock(t, other.secretsH), 1)
		r := runSketch(t, buildSketch(t, "core3", bad), "HOSTSHIM_UNTIL=hello ok", "HOSTSHIM_TIMEOUT_MS=4000")
		r.wait(t, 3)
		if !strings.Contains(r.out.text(), "failed: server certificate: ") {
			t.Errorf("want the certificate failure named on the console:\n%s", r.out.text())
		}
		if !strings.Contains(r.out.text(), "reconnecting in") {
			t.Errorf("want the failed connect to back off:\n%s", r.out.text())
		}
	})
}

// TestSketchTLSByMdnsName, on both API sets: with GATEWAY_HOST "" the board
// finds the gateway with mDNS and connects to the address found, but checks
// the certificate against the name advertised (gw.local), which is what
// `gatewayctl pki init -host` put in it; the address is not in it at all.
func TestSketchTLSByMdnsName(t *testing.T) {
	p := issuePKIHosts(t, boardID, "gw.local")
	g, _ := tlsGateway(t, p)
	for _, board := range cores {
		t.Run(board, func(t *testing.T) {
			bin := buildSketch(t, board, plainSecrets("", "65432", p.secretsH, "#define SEND_INTERVAL_MS 20"))
			r := runSketch(t, bin, "HOSTSHIM_UNTIL=] receipt seq=4 ", "HOSTSHIM_TIMEOUT_MS=30000",
				"HOSTSHIM_MDNS=_gatewayd._tcp=gw,127.0.0.1,"+portOf(g.addr)+",proto=1,tls=1")
			r.wait(t, 0)
			if want := "] connecting to 127.0.0.1:" + portOf(g.addr) + " (tls, certificate for gw.local)"; !strings.Contains(r.out.text(), want) {
				t.Errorf("want %q on the console:\n%s", want, r.out.text())
			}
		})
	}
}

// TestSketchHungTLSGateway: a gateway that accepts the connection and never
// answers the TLS handshake holds the board for HANDSHAKE_TIMEOUT_MS, not
// the core's 120 s default; the board backs off and tries again.
func TestSketchHungTLSGateway(t *testing.T) {
	p := issuePKI(t, boardID)
	addr := hungListener(t)
	secrets := plainSecrets("localhost", portOf(addr), p.secretsH, "#define HANDSHAKE_TIMEOUT_MS 2000")
	r := runSketch(t, buildSketch(t, "core3", secrets), "HOSTSHIM_UNTIL=(attempt 2): ", "HOSTSHIM_TIMEOUT_MS=30000")
	r.wait(t, 0)
	if !regexp.MustCompile(`\] reconnecting in \d+ ms \(attempt 1\): connect to localhost:\d+ failed: handshake timed out`).MatchString(r.out.text()) {
		t.Errorf("want the handshake timeout named on the console:\n%s", r.out.text())
	}
}

// TestSketchWatchdogReset: the task watchdog restarts a board whose loop()
// is stuck longer than WATCHDOG_MS (here a TLS handshake with a hung
// gateway, allowed longer than the watchdog); the next boot counts up and
// names the reason.
func TestSketchWatchdogReset(t *testing.T) {
	p := issuePKI(t, boardID)
	addr := hungListener(t)
	for _, board := range cores {
		t.Run(board, func(t *testing.T) {
			secrets := plainSecrets("localhost", portOf(addr), p.secretsH, "#define HANDSHAKE_TIMEOUT_MS 20000", "#define WATCHDOG_MS 1500")
			r := runSketch(t, buildSketch(t, board, secrets), "HOSTSHIM_UNTIL=boot=2 reset=task-watchdog", "HOSTSHIM_TIMEOUT_MS=30000")
			r.wait(t, 0)
			out := r.out.text()
			for _, want := range []string{
				"boot=1 reset=power-on",
				"task_wdt: Task watchdog got triggered.",
				"task_wdt:  - loopTask (CPU 1)",
				"Rebooting...",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("want %q on the console:\n%s", want, out)
				}
			}
		})
	}
}

// TestSketchRebootOffline: with no gateway, the board restarts after
// REBOOT_OFFLINE_MS; the boot counter in NVS goes up across restarts, and
// lines carry it, so (board, boot, seq) never repeats.
func TestSketchRebootOffline(t *testing.T) {
	addr := freeAddr(t) // closed again: connections are refused
	bin := buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(addr), "#define REBOOT_OFFLINE_MS 1000"))
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=boot=3 reset=restart", "HOSTSHIM_TIMEOUT_MS=20000")
	r.wait(t, 0)
	out := r.out.text()
	for _, want := range []string{"boot=1 reset=power-on", "boot=2 reset=restart", "no session for "} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q on the console:\n%s", want, out)
		}
	}
}

// TestSketchBootInLines: the data lines carry boot=N seq=M and the
// example's own data, and a second run of the board (same NVS) sends
// boot=2, so (board, boot, seq) never repeats. gatewayd does not log line
// contents, so a small recorder speaks the gateway's side here: `!ok ID`
// to the hello, then each line echoed as its receipt.
func TestSketchBootInLines(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					l := sc.Text()
					if strings.HasPrefix(l, "!hello ") {
						fmt.Fprintf(c, "!ok %s\n", strings.Fields(l)[1])
						continue
					}
					lines <- l
					fmt.Fprintf(c, "%s\n", l)
				}
			}(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	bin := buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(ln.Addr().String()), "#define SEND_INTERVAL_MS 20"))
	nvs := filepath.Join(t.TempDir(), "nvs")
	lineRe := regexp.MustCompile(`^boot=(\d+) seq=(\d+) uptime_ms=\d+ rssi=-50$`)
	seen := map[string]bool{}
	for boot := 1; boot <= 2; boot++ {
		r := runSketch(t, bin, "HOSTSHIM_UNTIL=] receipt seq=2 ", "HOSTSHIM_TIMEOUT_MS=30000", "HOSTSHIM_NVS="+nvs)
		r.wait(t, 0)
		for n := 0; n < 3; n++ {
			l := <-lines
			m := lineRe.FindStringSubmatch(l)
			if m == nil || m[1] != fmt.Sprint(boot) {
				t.Fatalf("boot %d: line %q, want boot=%d seq=N uptime_ms=... rssi=-50", boot, l, boot)
			}
			if seen[m[1]+"/"+m[2]] {
				t.Errorf("(boot, seq) = (%s, %s) sent twice", m[1], m[2])
			}
			seen[m[1]+"/"+m[2]] = true
		}
		for len(lines) > 0 {
			<-lines
		}
	}
}

// TestSketchLongToken: a token that would make the hello longer than the
// gateway takes (256 bytes) is refused at begin() with a line saying so;
// nothing is sent, nothing overflows.
func TestSketchLongToken(t *testing.T) {
	g := newGateway(t, "line", "")
	d := g.start(t)
	token := strings.Repeat("t", 300)
	bin := buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(g.addr), `#define BOARD_TOKEN "`+token+`"`))
	r := runSketch(t, bin, "HOSTSHIM_TIMEOUT_MS=1500")
	r.wait(t, 3)
	if want := "gatewayd: config: the hello would be 342 bytes, the gateway takes at most 256: shorten the token (300 characters) or the board ID"; !strings.Contains(r.out.text(), want) {
		t.Errorf("want %q on the console:\n%s", want, r.out.text())
	}
	if strings.Contains(d.stderr.String(), "board hello") || strings.Contains(r.out.text(), "connecting to") {
		t.Errorf("the board connected with a hello too long:\n%s", r.out.text())
	}
}

// TestSketchResetAfterFailedWrite: when a write cannot finish (the gateway
// stopped reading and the buffers are full), the board ends the connection
// with a reset (SO_LINGER 0), not a FIN: after a FIN the gateway would read
// the part of a line that went out and take it for a whole one. The
// gateway's side here is a listener with a small receive buffer that
// answers the hello and then reads nothing; once the board gave up, it
// reads what arrived and must end in ECONNRESET, not EOF.
func TestSketchResetAfterFailedWrite(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		r := bufio.NewReader(c)
		if l, err := r.ReadString('\n'); err == nil && strings.HasPrefix(l, "!hello ") {
			fmt.Fprintf(c, "!ok %s\n", strings.Fields(l)[1])
		}
		conns <- c // and read nothing more until the board gave up
	}()
	bin := buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(ln.Addr().String()),
		"#define SEND_INTERVAL_MS 1", "#define OUTBOX_LINES 3000", "#define PING_IDLE_MS 0"))
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=bytes sent", "HOSTSHIM_TIMEOUT_MS=60000")
	r.wait(t, 0)
	if !regexp.MustCompile(`\] reconnecting in \d+ ms \(attempt 1\): write: \d+ of \d+ bytes sent`).MatchString(r.out.text()) {
		t.Fatalf("want a failed write on the console:\n%s", r.out.text())
	}
	c := <-conns
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("after %d bytes the gateway's read ended with %v, want ECONNRESET (a reset, not a FIN)", n, err)
	}
}

// hungListener accepts connections and never answers, as a gateway whose
// process is stuck would; it holds them until the test ends.
func hungListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

// caBlock is the GATEWAY_CA_PEM macro in secrets.h lines.
func caBlock(t *testing.T, secretsH string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)#define GATEWAY_CA_PEM \\\n.*?"\n`).FindString(secretsH)
	if m == "" {
		t.Fatalf("no GATEWAY_CA_PEM in:\n%s", secretsH)
	}
	return m
}

// TestSketchDiscoveryAndEchoFallback: with GATEWAY_HOST "" the example asks
// mDNS for _gatewayd._tcp (the shim's table), and a gatewayd on raw framing
// echoes its hello back: the board says so and goes on in plain echo mode,
// where echoes are still receipts.
func TestSketchDiscoveryAndEchoFallback(t *testing.T) {
	g := newGateway(t, "raw", "")
	bin := buildSketch(t, "core2", plainSecrets("", "65432", "#define SEND_INTERVAL_MS 20"))
	d := g.start(t)
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=] receipt seq=29 ", "HOSTSHIM_TIMEOUT_MS=60000",
		"HOSTSHIM_MDNS=_other._tcp=x,127.0.0.2,1;_gatewayd._tcp=pi,127.0.0.1,"+portOf(g.addr)+",proto=1,tls=0")
	r.wait(t, 0)
	out := r.out.text()
	for _, want := range []string{
		"gateway=(mdns):65432",
		"] mdns: found pi.local at 127.0.0.1:" + portOf(g.addr) + " (tls=0, 1 found)",
		"] connecting to 127.0.0.1:" + portOf(g.addr),
		"] hello echoed back: the gateway does not speak the board protocol; plain echo mode",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q on the console:\n%s", want, out)
		}
	}
	if m := missing(receipted(out, sketchReceiptRe), 30); len(m) > 0 {
		t.Errorf("no receipt in echo mode for seqs %v", m)
	}
	if strings.Contains(d.stderr.String(), "board hello") {
		t.Errorf("a raw-framing gatewayd took a hello:\n%s", d.stderr.String())
	}
}

// TestSketchOutboxFull: with no gateway, lines pile up in the outbox; when
// it is full, send() returns false and the example says the line was not
// queued.
func TestSketchOutboxFull(t *testing.T) {
	addr := freeAddr(t) // closed again: connections are refused
	bin := buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 4"))
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=] line not queued (outbox holds 4 lines)", "HOSTSHIM_TIMEOUT_MS=30000")
	r.wait(t, 0)
	out := r.out.text()
	if !strings.Contains(out, "reconnecting in ") || strings.Contains(out, "receipt seq=") {
		t.Errorf("want reconnect attempts and no receipt with no gateway:\n%s", out)
	}
}
