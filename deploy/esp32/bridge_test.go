package esp32

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// subscribe follows topic on m with mosquitto_sub at QoS 1 and returns its
// output (`TOPIC PAYLOAD` lines) once the subscription is in place: a probe
// published on probeTopic (which topic must match) has come back.
func subscribe(t *testing.T, m *gatewaytest.Mosquitto, topic, probeTopic string) *console {
	t.Helper()
	for _, bin := range []string{"mosquitto_sub", "mosquitto_pub"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (Debian: mosquitto-clients; deploy/install-deps.sh installs it for CI)", bin)
		}
	}
	port := fmt.Sprint(m.Port)
	sub := exec.CommandContext(runCtx(t, 3*time.Minute), "mosquitto_sub", "-h", "127.0.0.1", "-p", port,
		"-q", "1", "-v", "-t", topic, "-i", "esp32-test-sub")
	stdout, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })
	c := newConsole(stdout)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", probeTopic, "-m", "probe").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, out)
		}
		if strings.Contains(c.text(), probeTopic+" probe") {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub -t %s got no probe within 15s; mosquitto's log:\n%s", topic, m.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBridgeClientsAtLeastOnce: both clients against gatewayd's MQTT bridge
// and a real mosquitto. gatewayd is frozen (so lines go without a receipt),
// killed with SIGKILL and started again on the same queue; every line each
// client sent arrives on P/G/B/up at least once.
func TestBridgeClientsAtLeastOnce(t *testing.T) {
	const count = 120
	m := gatewaytest.StartMosquitto(t, false)
	up := subscribe(t, m, "P/gw/+/up", "P/gw/probe/up")
	g := newGateway(t, "line", fmt.Sprintf("mqtt:\n  broker: %q\n  gateway_id: gw\n  topic_prefix: P\n  queue_dir: %q\n",
		m.URL(), filepath.Join(t.TempDir(), "queue")))
	first := g.start(t)

	sketch := runSketch(t, buildSketch(t, "core3", plainSecrets("127.0.0.1", portOf(g.addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 200")),
		fmt.Sprintf("HOSTSHIM_UNTIL=] receipt seq=%d ", count-1), "HOSTSHIM_TIMEOUT_MS=120000")
	py, pyOut, pyErr := runPython(t, "--host", "127.0.0.1", "--port", portOf(g.addr), "--interval", "0.02",
		"--count", fmt.Sprint(count), "--outbox-lines", "200", "--backoff-min", "0.05", "--backoff-max", "0.4", "--id", "esp32-PYBRIDGE")

	sketch.out.waitFor(t, regexp.MustCompile(`\] receipt seq=40 `), 0, 60*time.Second, "sketch receipts through the bridge")
	pyOut.waitFor(t, regexp.MustCompile(`^receipt seq=40 `), 0, 60*time.Second, "python receipts through the bridge")
	first.crash(t, 300*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	second := g.start(t)

	sketch.wait(t, 0)
	pyOut.waitDone(2 * time.Minute)
	if err := py.Wait(); err != nil {
		t.Fatalf("python client: %v\n%s\n%s", err, pyOut.text(), pyErr.String())
	}
	for _, c := range []struct {
		board   string
		console *console
	}{{boardID, sketch.out}, {"esp32-PYBRIDGE", pyOut}} {
		if !regexp.MustCompile(`(?m)resending \d+ lines that had no receipt`).MatchString(c.console.text()) {
			t.Errorf("board %s resent nothing after the SIGKILL, so the test showed no resend:\n%s", c.board, c.console.text())
		}
		re := regexp.MustCompile(`(?m)^P/gw/` + regexp.QuoteMeta(c.board) + `/up (?:boot=1 )?seq=(\d+) uptime_ms=\d+`)
		// The clients are done; what gatewayd still publishes from its queue
		// arrives within a moment.
		deadline := time.Now().Add(30 * time.Second)
		for len(missing(receipted(up.text(), re), count)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if gone := missing(receipted(up.text(), re), count); len(gone) > 0 {
			t.Errorf("board %s: seqs never published on P/gw/%s/up: %v\ngatewayd's log after the restart:\n%s",
				c.board, c.board, gone, second.stderr.String())
		}
	}
	second.stop(t)
}
