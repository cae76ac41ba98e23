package gatewaytest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is a real MQTT broker (Debian's mosquitto) that a test runs
// on a free loopback port of its own, with a configuration file it
// writes. The end-to-end guarantees of the MQTT bridge are shown against
// it rather than an in-process broker.
type Mosquitto struct {
	Port int

	tb      testing.TB
	persist bool
	bin     string
	conf    string
	log     string
	cmd     *exec.Cmd
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := FreeLoopbackPort()
	if err != nil {
		tb.Fatal(err)
	}
	return port
}

// FreeLoopbackPort is FreePort for a caller without a testing.TB: the
// benchmark commands (cmd/internal/proc).
func FreeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMosquitto starts mosquitto on a free port, skipping the test if it
// is not installed, and stops it when the test ends. With persist it
// keeps sessions across a restart (in the test's temp dir), so a test's
// subscriber with a session misses nothing published while it
// reconnects; the bridge relies on no such thing.
func StartMosquitto(tb testing.TB, persist bool) *Mosquitto {
	return StartMosquittoWith(tb, persist, "")
}

// StartMosquittoWith is StartMosquitto with extra lines appended to the
// broker's configuration file, such as an acl_file.
func StartMosquittoWith(tb testing.TB, persist bool, extra string) *Mosquitto {
	tb.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/mosquitto"); err != nil {
			tb.Skip("mosquitto not installed (apt-get install mosquitto; deploy/install-deps.sh installs it for CI)")
		}
		bin = "/usr/sbin/mosquitto"
	}
	dir := tb.TempDir()
	m := &Mosquitto{tb: tb, persist: persist, bin: bin, Port: FreePort(tb), conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence %t\nmax_queued_messages 0\n", m.Port, persist)
	if persist {
		conf += "persistence_location " + dir + "/\n"
	}
	if os.Geteuid() == 0 {
		// Started as root, mosquitto drops to the mosquitto user, which
		// cannot reach the test's 0700 temp dir: it then saves nothing
		// at shutdown (a subscriber's session silently ends at every
		// restart), and cannot read an acl_file kept there.
		conf += "user root\n"
	}
	conf += extra
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	// Registered first, so a broker that starts but never listens is
	// still stopped when Start fails the test.
	tb.Cleanup(m.Stop)
	m.Start()
	return m
}

// URL is the broker's address as gatewayd's mqtt.broker takes it.
func (m *Mosquitto) URL() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", m.Port) }

// Addr is the broker's HOST:PORT.
func (m *Mosquitto) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

// Start starts mosquitto again after Stop, on the same port, and returns
// once it accepts connections.
func (m *Mosquitto) Start() {
	m.tb.Helper()
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.tb.Fatal(err)
	}
	defer logf.Close()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		m.tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", m.Addr())
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.tb.Fatalf("mosquitto did not listen on %d: %s", m.Port, m.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends mosquitto as systemd would (SIGTERM), which saves sessions.
// It does nothing if mosquitto is not running. With persist, a broker
// that could not save its sessions fails the test: a subscriber relying
// on its session would miss messages and the test would blame the bridge.
func (m *Mosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil || m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	_ = m.cmd.Wait()
	if log := m.Log(); m.persist && strings.Contains(log, "Error saving") {
		m.tb.Errorf("mosquitto could not save its sessions at shutdown: %s", log)
	}
}

// Log returns what mosquitto has logged.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}
