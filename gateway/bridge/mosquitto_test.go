package bridge

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// mosquitto is a real broker the test runs on a loopback port of its own.
type mosquitto struct {
	t    testing.TB
	port int
	conf string
	cmd  *exec.Cmd
	log  string
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMosquitto starts mosquitto on a free port. With persist, it keeps
// sessions across a restart, so the test's subscriber misses nothing
// published while it reconnects; the bridge relies on no such thing.
func startMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto not installed (apt-get install mosquitto; deploy/install-deps.sh installs it for CI)")
		}
		bin = "/usr/sbin/mosquitto"
	}
	dir := t.TempDir()
	m := &mosquitto{t: t, port: freePort(t), conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence %t\n", m.port, persist)
	if persist {
		conf += "persistence_location " + dir + "/\n"
	}
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(bin, "-c", m.conf)
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *mosquitto) url() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", m.port) }

func (m *mosquitto) start() {
	m.t.Helper()
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	defer logf.Close()
	m.cmd = exec.Command(m.cmd.Path, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(m.log)
			m.t.Fatalf("mosquitto did not listen on %d: %s", m.port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends mosquitto as systemd would (SIGTERM), which saves sessions.
func (m *mosquitto) stop() {
	if m.cmd == nil || m.cmd.Process == nil || m.cmd.ProcessState != nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	_ = m.cmd.Wait()
}

// message is one publish a subscriber received.
type message struct {
	topic, payload string
	retained       bool
}

// subscriber collects what a real MQTT client sees on a filter.
type subscriber struct {
	mu   sync.Mutex
	msgs []message
	cm   *autopaho.ConnectionManager
	stop context.CancelFunc
}

// subscribe connects a client to broker, subscribed to filter at QoS 1,
// with a session the broker keeps for an hour so a restart loses nothing.
func subscribe(t *testing.T, brokerURL, filter string) *subscriber {
	t.Helper()
	u, _ := url.Parse(brokerURL)
	s := &subscriber{}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	up := make(chan struct{}, 1)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:            []*url.URL{u},
		KeepAlive:             30,
		SessionExpiryInterval: 3600,
		ReconnectBackoff:      func(int) time.Duration { return 20 * time.Millisecond },
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err == nil {
					select {
					case up <- struct{}{}:
					default:
					}
				}
			}()
		},
		ClientConfig: paho.ClientConfig{
			ClientID: fmt.Sprintf("test-sub-%d", time.Now().UnixNano()),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				s.mu.Lock()
				s.msgs = append(s.msgs, message{pr.Packet.Topic, string(pr.Packet.Payload), pr.Packet.Retain})
				s.mu.Unlock()
				return true, nil
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.cm = cm
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("subscriber did not subscribe to %s on %s", filter, brokerURL)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
		cancel()
		<-cm.Done()
	})
	return s
}

func (s *subscriber) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.msgs...)
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 30*time.Second, what, cond)
}

func waitWithin(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasMessage says whether a message with topic and payload arrived.
func hasMessage(msgs []message, topic, payload string) bool {
	for _, m := range msgs {
		if m.topic == topic && m.payload == payload {
			return true
		}
	}
	return false
}

func startMosquittoB(b *testing.B) *mosquitto { return startMosquitto(b, false) }

func waitBriefly() { time.Sleep(10 * time.Millisecond) }
