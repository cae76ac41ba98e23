package esp32

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// mosquitto runs a broker on a loopback port and follows P/G/+/up with
// mosquitto_sub at QoS 1; it returns the broker URL and the subscriber's
// output (`TOPIC PAYLOAD` lines).
func mosquitto(t *testing.T, topic string) (string, *console) {
	t.Helper()
	for _, bin := range []string{"mosquitto", "mosquitto_sub"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (Debian: mosquitto, mosquitto-clients)", bin)
		}
	}
	addr := freeAddr(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(conf, []byte("listener "+portOf(addr)+" 127.0.0.1\nallow_anonymous true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	broker := exec.Command("mosquitto", "-c", conf)
	blog := &lockedBuffer{}
	broker.Stderr, broker.Stdout = blog, blog
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = broker.Process.Kill(); _ = broker.Wait() })
	sub := exec.CommandContext(runCtx(t, 3*time.Minute), "mosquitto_sub", "-h", "127.0.0.1", "-p", portOf(addr),
		"-q", "1", "-v", "-t", topic, "-i", "esp32-test-sub", "-c")
	stdout, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })
	// mosquitto_sub retries while the broker comes up; give it a moment.
	time.Sleep(500 * time.Millisecond)
	return "mqtt://" + addr, newConsole(stdout)
}

// TestBridgeClientsAtLeastOnce: both clients against the MQTT bridge with
// mosquitto. gatewayd is killed with SIGKILL and started again; every line
// each client sent arrives on P/G/B/up at least once.
func TestBridgeClientsAtLeastOnce(t *testing.T) {
	probe := "mqtt:\n  broker: mqtt://127.0.0.1:1883\n"
	if ok, why := accepts(t, probe); !ok {
		t.Skipf("gatewayd rejects the mqtt: key, so the MQTT bridge is not in the daemon yet: %s", why)
	}
	const count = 120
	url, up := mosquitto(t, "P/gw/+/up")
	g := newGateway(t, "line", fmt.Sprintf("mqtt:\n  broker: %q\n  gateway_id: gw\n  topic_prefix: P\n  queue_dir: %q\n",
		url, filepath.Join(t.TempDir(), "queue")))
	first := g.start(t)

	sketch := runSketch(t, buildSketch(t, plainSecrets("127.0.0.1", portOf(g.addr), "#define SEND_INTERVAL_MS 20", "#define OUTBOX_LINES 200")),
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
	for _, b := range []string{boardID, "esp32-PYBRIDGE"} {
		re := regexp.MustCompile(`(?m)^P/gw/` + regexp.QuoteMeta(b) + `/up seq=(\d+) uptime_ms=\d+`)
		deadline := time.Now().Add(30 * time.Second)
		for len(missing(receipted(up.text(), re), count)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if m := missing(receipted(up.text(), re), count); len(m) > 0 {
			t.Errorf("board %s: seqs never published on P/gw/%s/up: %v\nsubscriber saw %d lines", b, b, m, strings.Count(up.text(), "\n")+1)
		}
	}
	second.stop(t)
}
