// Package esp32 holds the ESP32 clients of gatewayd (an Arduino sketch and a
// MicroPython client) and the tests that check them from Go: the MicroPython
// client is run under CPython against a real gatewayd that is restarted in
// the middle of the run.
package esp32

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

const clientPath = "micropython/gatewayd_client.py"

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

type daemon struct {
	cmd    *exec.Cmd
	stderr *gatewaytest.Buffer
	done   chan error
}

// startGatewayd runs gatewayd on cfg and waits for its `msg=listening` line.
func startGatewayd(t *testing.T, bin, cfg, addr string) *daemon {
	t.Helper()
	d := &daemon{stderr: &gatewaytest.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, "-config", cfg)
	d.cmd.Stderr = d.stderr
	d.cmd.Stdout = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start gatewayd: %v", err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})
	want := "msg=listening addr=" + addr
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(d.stderr.String(), want) {
		select {
		case err := <-d.done:
			t.Fatalf("gatewayd exited before listening (%v); its log:\n%s", err, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in gatewayd's log after 15s:\n%s", want, d.stderr.String())
		}
	}
	return d
}

// stop sends SIGTERM and expects a clean exit (status 0) within 15 s.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM gatewayd: %v", err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("gatewayd after SIGTERM: %v; its log:\n%s", err, d.stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Fatalf("gatewayd still running 15s after SIGTERM; its log:\n%s", d.stderr.String())
	}
}

func writeConfig(t *testing.T, addr string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "gatewayd.yaml")
	body := fmt.Sprintf("listen: %q\ngpio: {driver: none}\nlog: {level: info}\n", addr)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMicroPythonClientSurvivesGatewayRestart runs the MicroPython client
// unchanged under CPython against gatewayd, stops gatewayd with SIGTERM part
// way through, starts it again on the same port, and expects the client to
// reconnect and get every one of its messages echoed and verified.
func TestMicroPythonClientSurvivesGatewayRestart(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the MicroPython client's CPython run cannot be tested here")
	}
	const count = 60
	const restartAfter = 15 // verified echoes before gatewayd is stopped

	bin := gatewaytest.GatewaydBinary(t)
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := writeConfig(t, addr)
	first := startGatewayd(t, bin, cfg, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := exec.CommandContext(ctx, python, clientPath,
		"--host", "127.0.0.1", "--port", port,
		"--interval", "0.05", "--count", strconv.Itoa(count),
		"--read-timeout", "5", "--backoff-min", "0.05", "--backoff-max", "0.4",
		"--id", "esp32-TEST")
	stdout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr gatewaytest.Buffer
	client.Stderr = &stderr
	if err := client.Start(); err != nil {
		t.Fatalf("start client: %v", err)
	}

	var lines []string
	reached := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if !closed && strings.HasPrefix(sc.Text(), fmt.Sprintf("echo ok seq=%d ", restartAfter-1)) {
				close(reached)
				closed = true
			}
		}
	}()

	select {
	case <-reached:
	case <-scanned:
		_ = client.Wait()
		t.Fatalf("client ended before %d echoes; output:\n%s\nstderr:\n%s\ngatewayd log:\n%s",
			restartAfter, strings.Join(lines, "\n"), stderr.String(), first.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no %d verified echoes within 30s; gatewayd log:\n%s", restartAfter, first.stderr.String())
	}

	first.stop(t)
	time.Sleep(500 * time.Millisecond) // the client notices and backs off
	second := startGatewayd(t, bin, cfg, addr)

	<-scanned
	waitErr := client.Wait()
	second.stop(t)
	out := strings.Join(lines, "\n")
	if waitErr != nil {
		t.Fatalf("client: %v\noutput:\n%s\nstderr:\n%s", waitErr, out, stderr.String())
	}

	// Every seq from 0 to count-1 was verified.
	seen := map[int]bool{}
	okLine := regexp.MustCompile(`^echo ok seq=(\d+) bytes=\d+ rtt_ms=\d+$`)
	for _, l := range lines {
		if m := okLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			seen[n] = true
		}
	}
	var missing []int
	for i := 0; i < count; i++ {
		if !seen[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 || len(seen) != count {
		sort.Ints(missing)
		t.Errorf("verified %d distinct seqs, want %d; missing %v", len(seen), count, missing)
	}

	summary := regexp.MustCompile(`^summary: verified=(\d+)/(\d+) sent=\d+ mismatches=(\d+) failures=(\d+) reconnects=(\d+) `)
	var m []string
	for _, l := range lines {
		if s := summary.FindStringSubmatch(l); s != nil {
			m = s
		}
	}
	if m == nil {
		t.Fatalf("no summary line in the client's output:\n%s", out)
	}
	if m[1] != strconv.Itoa(count) || m[2] != strconv.Itoa(count) {
		t.Errorf("summary verified=%s/%s, want %d/%d", m[1], m[2], count, count)
	}
	if m[3] != "0" {
		t.Errorf("summary reports %s echo mismatches, want 0:\n%s", m[3], out)
	}
	if r, _ := strconv.Atoi(m[5]); r < 1 {
		t.Errorf("summary reports %d reconnects, want at least 1 after the restart", r)
	}
	if !strings.Contains(out, "reconnecting in ") {
		t.Errorf("the client never logged that it was reconnecting:\n%s", out)
	}
	// Both daemons saw the client: it really moved to the restarted one.
	for i, d := range []*daemon{first, second} {
		if !strings.Contains(d.stderr.String(), `msg="client connected"`) {
			t.Errorf("gatewayd #%d never logged a client connection:\n%s", i+1, d.stderr.String())
		}
	}
	t.Logf("client summary: %s", m[0])
}

// TestMicroPythonClientFailsWithoutGateway: with nothing listening, the client
// must not claim success. It retries with backoff; a short count run is
// ended by the test and must not have printed a verified echo.
func TestMicroPythonClientFailsWithoutGateway(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed: the MicroPython client's CPython run cannot be tested here")
	}
	addr := freeAddr(t) // closed again: connections are refused
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, python, clientPath, "--port", port, "--count", "1",
		"--backoff-min", "0.05", "--backoff-max", "0.2").CombinedOutput()
	if ctx.Err() == nil {
		t.Fatalf("client ended without a gateway to talk to:\n%s", out)
	}
	s := string(out)
	if strings.Contains(s, "echo ok") {
		t.Errorf("client reported a verified echo with no gateway:\n%s", s)
	}
	if n := strings.Count(s, "reconnecting in "); n < 2 {
		t.Errorf("want repeated reconnect attempts with backoff, got %d:\n%s", n, s)
	}
	if !strings.Contains(s, "ECONNREFUSED") {
		t.Errorf("want the refusal reason in the log:\n%s", s)
	}
}

var (
	defineRe    = regexp.MustCompile(`(?m)^\s*(//\s*)?#define\s+([A-Z][A-Z0-9_]*)\b`)
	requiredRe  = regexp.MustCompile(`(?m)^#if\s+!defined\(.*$`)
	definedArgs = regexp.MustCompile(`defined\(([A-Z][A-Z0-9_]*)\)`)
)

// TestSketchSecretsMacros: every macro secrets.example.h shows (set or
// commented out) is one the sketch uses, and every macro the sketch requires
// from secrets.h is set in the example.
func TestSketchSecretsMacros(t *testing.T) {
	example, err := os.ReadFile("gatewayd_client/secrets.example.h")
	if err != nil {
		t.Fatal(err)
	}
	sketch, err := os.ReadFile("gatewayd_client/gatewayd_client.ino")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sketch), `#include "secrets.h"`) {
		t.Error(`the sketch does not #include "secrets.h"`)
	}
	set := map[string]bool{}
	for _, m := range defineRe.FindAllStringSubmatch(string(example), -1) {
		name, commented := m[2], m[1] != ""
		if !commented {
			set[name] = true
		}
		if !regexp.MustCompile(`\b` + name + `\b`).Match(sketch) {
			t.Errorf("secrets.example.h defines %s but the sketch never uses it", name)
		}
	}
	if len(set) == 0 {
		t.Fatal("no #define found in secrets.example.h")
	}
	req := requiredRe.FindString(string(sketch))
	if req == "" {
		t.Fatal("the sketch has no `#if !defined(...)` check of what secrets.h must define")
	}
	names := definedArgs.FindAllStringSubmatch(req, -1)
	if len(names) < 4 {
		t.Fatalf("the sketch's required-macro check names %d macros, want at least 4: %s", len(names), req)
	}
	for _, m := range names {
		if !set[m[1]] {
			t.Errorf("the sketch requires %s from secrets.h but secrets.example.h does not set it", m[1])
		}
	}
}

// TestMicroPythonConfigExample: every setting in config.example.py is one the
// client reads (UPPER_CASE of a DEFAULTS key, GATEWAY_ before host and port).
func TestMicroPythonConfigExample(t *testing.T) {
	example, err := os.ReadFile("micropython/config.example.py")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(clientPath)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\nDEFAULTS = \{\n(.*?)\n\}`).FindSubmatch(src)
	if block == nil {
		t.Fatal("no DEFAULTS = {...} block in the client")
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+"([a-z_]+)":`).FindAllSubmatch(block[1], -1) {
		k := strings.ToUpper(string(m[1]))
		if k == "HOST" || k == "PORT" {
			k = "GATEWAY_" + k
		}
		keys[k] = true
	}
	names := regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)\s*=`).FindAllSubmatch(example, -1)
	if len(names) < 4 {
		t.Fatalf("config.example.py sets %d names, want at least 4", len(names))
	}
	for _, m := range names {
		if !keys[string(m[1])] {
			t.Errorf("config.example.py sets %s, which the client does not read", m[1])
		}
	}
	for _, need := range []string{"WIFI_SSID", "WIFI_PASSWORD", "GATEWAY_HOST", "GATEWAY_PORT"} {
		if !bytes.Contains(example, []byte(need+" =")) {
			t.Errorf("config.example.py does not set %s", need)
		}
	}
}

// TestUnderMicroPython runs the client's real code under the MicroPython
// interpreter (the WebAssembly port from npm, run by node) with an in-memory
// network, so syntax or library use that CPython accepts and MicroPython does
// not is caught. It needs `npm ci` in micropython/mpcheck.
func TestUnderMicroPython(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: cannot run the MicroPython interpreter check")
	}
	dir := filepath.Join("micropython", "mpcheck")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@micropython", "micropython-webassembly-pyscript")); err != nil {
		t.Skip("MicroPython (WebAssembly) not installed: run `npm ci` in deploy/esp32/micropython/mpcheck to enable this check")
	}
	for _, tc := range []struct {
		name      string
		corruptAt string
		wantRC    string
		want      []string
	}{
		{"clean", "0", "RESULT rc=0", []string{
			"ECONNREFUSED", "connection closed by the gateway (EOF)", "keepalive=unsupported",
			"summary: verified=8/8 sent=9 mismatches=0 failures=3 reconnects=1 ",
		}},
		{"mismatch", "6", "RESULT rc=1", []string{
			"echo mismatch seq=4", "summary: verified=8/8 sent=10 mismatches=1 failures=4 reconnects=2 ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, node, filepath.Join(dir, "run.mjs"), clientPath, tc.corruptAt).CombinedOutput()
			if err != nil {
				t.Fatalf("node run.mjs: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, tc.wantRC) {
				t.Errorf("want %q in the output:\n%s", tc.wantRC, s)
			}
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("want %q in the output:\n%s", w, s)
				}
			}
			for i := 0; i < 8; i++ {
				if !strings.Contains(s, fmt.Sprintf("echo ok seq=%d ", i)) {
					t.Errorf("seq %d never verified under MicroPython:\n%s", i, s)
				}
			}
		})
	}
}
