package esp32

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

const sketchPath = "gatewayd_client/gatewayd_client.ino"

var shimObjs struct {
	once sync.Once
	objs []string
	err  error
}

// shimObjects compiles hostshim/*.cpp once per run.
func shimObjects(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ is not installed: the sketch cannot be built against the host shim")
	}
	if _, err := os.Stat("/usr/include/openssl/ssl.h"); err != nil {
		t.Skip("OpenSSL headers are missing (libssl-dev, see deploy/install-deps.sh): the shim's TLS client cannot be built")
	}
	shimObjs.once.Do(func() {
		srcs, _ := filepath.Glob("hostshim/*.cpp")
		for _, src := range srcs {
			obj := filepath.Join(sharedDir, strings.TrimSuffix(filepath.Base(src), ".cpp")+".o")
			out, err := exec.Command("g++", "-std=gnu++17", "-O1", "-Wall", "-Wextra", "-Werror",
				"-Ihostshim", "-c", src, "-o", obj).CombinedOutput()
			if err != nil {
				shimObjs.err = fmt.Errorf("g++ -c %s: %v\n%s", src, err, out)
				return
			}
			shimObjs.objs = append(shimObjs.objs, obj)
		}
	})
	if shimObjs.err != nil {
		t.Fatal(shimObjs.err)
	}
	return shimObjs.objs
}

// buildSketch copies the sketch, byte for byte, into a fresh folder beside
// a secrets.h holding secrets, and compiles it with g++ against the shim as
// the Arduino build would (Arduino.h included first).
func buildSketch(t *testing.T, secrets string) string {
	t.Helper()
	objs := shimObjects(t)
	dir := t.TempDir()
	src, err := os.ReadFile(sketchPath)
	if err != nil {
		t.Fatal(err)
	}
	ino := filepath.Join(dir, "gatewayd_client.ino")
	if err := os.WriteFile(ino, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.h"), []byte(secrets+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shim, _ := filepath.Abs("hostshim")
	bin := filepath.Join(dir, "gatewayd_client")
	args := []string{"-std=gnu++17", "-O1", "-Wall", "-Wextra", "-Werror", "-I" + shim, "-include", "Arduino.h",
		"-x", "c++", ino, "-x", "none"}
	args = append(args, objs...)
	args = append(args, "-lssl", "-lcrypto", "-o", bin)
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		t.Fatalf("g++ %s: %v\n%s", strings.Join(args, " "), err, out)
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
	r.cmd.Env = append(append(os.Environ(), "HOSTSHIM_MAC=24:0A:C4:12:34:56"), env...)
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

// TestSketchSession: the sketch says hello, gets receipts for 100 lines,
// lives through gatewayd frozen (so lines go unreceipted) and killed with
// SIGKILL, resends what had no receipt to the restarted gatewayd, and
// prints a `!msg` sent with `gatewayctl tell`, whose example callback
// lights the LED.
func TestSketchSession(t *testing.T) {
	g := newGateway(t, "line", "")
	bin := buildSketch(t, plainSecrets("127.0.0.1", portOf(g.addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 200"))
	first := g.start(t)
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=] led on", "HOSTSHIM_TIMEOUT_MS=90000")
	c := r.out

	c.waitFor(t, regexp.MustCompile(`^gatewayd_client fw=2\.0\.0 board=`+boardID+` gateway=127\.0\.0\.1:\d+ tls=off`), 0, 10*time.Second, "banner")
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
	// Lines made while gatewayd was down, then new ones: all receipted.
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

	g.tell(t, second, c, boardID, "led on")
	c.waitFor(t, regexp.MustCompile(`\] msg: led on$`), resend, 10*time.Second, "the delivered !msg")
	r.wait(t, 0)
	out := c.text()
	if !regexp.MustCompile(`\] msg: led on\nhostshim: digitalWrite\(2, HIGH\)\n\[ *\d+\] led on`).MatchString(out) {
		t.Errorf("the example callback did not light the LED (GPIO 2 HIGH after `led on`):\n%s", out)
	}
	second.stop(t)
	t.Logf("%s; %d distinct seqs receipted", c.line(resend), len(seen))
}

// TestSketchTLS: the sketch with the secrets.h lines `gatewayctl pki board`
// prints talks TLS with its client certificate, says hello and gets
// receipts. With a CA that did not sign the gateway's certificate, it never
// gets as far as a hello.
func TestSketchTLS(t *testing.T) {
	p := issuePKI(t, boardID)
	g, d := tlsGateway(t, p)
	secrets := plainSecrets("127.0.0.1", portOf(g.addr), p.secretsH, "#define SEND_INTERVAL_MS 20")
	secrets = strings.Replace(secrets, "#define GATEWAY_HOST \"127.0.0.1\"", "#define GATEWAY_HOST \"localhost\"", 1)
	bin := buildSketch(t, secrets)
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
		r := runSketch(t, buildSketch(t, bad), "HOSTSHIM_UNTIL=hello ok", "HOSTSHIM_TIMEOUT_MS=4000")
		r.wait(t, 3)
		if !strings.Contains(r.out.text(), "failed: server certificate: ") {
			t.Errorf("want the certificate failure named on the console:\n%s", r.out.text())
		}
		if !strings.Contains(r.out.text(), "reconnecting in") {
			t.Errorf("want the failed connect to back off:\n%s", r.out.text())
		}
	})
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

// TestSketchDiscoveryAndEchoFallback: with GATEWAY_HOST "" the sketch asks
// mDNS for _gatewayd._tcp (the shim's table), and a gatewayd on raw framing
// echoes its hello back: the sketch says so and goes on in plain echo mode,
// where echoes are still receipts.
func TestSketchDiscoveryAndEchoFallback(t *testing.T) {
	g := newGateway(t, "raw", "")
	bin := buildSketch(t, plainSecrets("", "65432", "#define SEND_INTERVAL_MS 20"))
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
// it is full the sketch says which line it drops (the oldest, never sent).
func TestSketchOutboxFull(t *testing.T) {
	addr := freeAddr(t) // closed again: connections are refused
	bin := buildSketch(t, plainSecrets("127.0.0.1", portOf(addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 4"))
	r := runSketch(t, bin, "HOSTSHIM_UNTIL=dropped seq=2,", "HOSTSHIM_TIMEOUT_MS=30000")
	r.wait(t, 0)
	out := r.out.text()
	for i := 0; i <= 2; i++ {
		want := fmt.Sprintf("] outbox full (4 lines): dropped seq=%d, the oldest, never receipted", i)
		if !strings.Contains(out, want) {
			t.Errorf("want %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "reconnecting in ") || strings.Contains(out, "receipt seq=") {
		t.Errorf("want reconnect attempts and no receipt with no gateway:\n%s", out)
	}
}
