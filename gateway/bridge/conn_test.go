package bridge

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// With a list of brokers, losing the first sends the lines to the next,
// and nothing receipted is lost on the way.
func TestFailoverToNextBroker(t *testing.T) {
	m1 := gatewaytest.StartMosquitto(t, true)
	m2 := gatewaytest.StartMosquitto(t, false)
	sub1 := mqtttest.Subscribe(t, m1.URL(), "t/gw1/+/up")
	sub2 := mqtttest.Subscribe(t, m2.URL(), "t/gw1/+/up")
	cfg := testConfig(t, m1.URL())
	cfg.Brokers = append(cfg.Brokers, brokers(m2.URL())...)
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)

	stop := make(chan struct{})
	s := startSenders(b, 5, time.Millisecond, stop, strconv.Itoa)
	time.Sleep(500 * time.Millisecond)
	m1.Stop()
	gatewaytest.Within(t, brokerWait, "the bridge on the second broker", func() bool {
		st := b.Stats()
		return st.Connected && st.Broker == m2.Addr()
	})
	time.Sleep(500 * time.Millisecond)
	close(stop)
	s.wg.Wait()
	if len(s.errs) > 0 {
		t.Fatalf("Send failed: %v", s.errs[0])
	}
	// The first broker took some lines before it stopped, saved for its
	// subscriber's session: start it again to have them delivered.
	m1.Start()
	both := func() []mqtttest.Message { return append(sub1.Messages(), sub2.Messages()...) }
	gatewaytest.Within(t, brokerWait, "every receipted line at one broker or the other", func() bool {
		got := map[string]bool{}
		for _, m := range both() {
			got[m.Topic+" "+m.Payload] = true
		}
		for board, nums := range s.sent {
			for _, n := range nums {
				if !got["t/gw1/"+board+"/up "+strconv.Itoa(n)] {
					return false
				}
			}
		}
		return true
	})
	dups := checkDelivered(t, both(), s.sent)
	if len(sub2.Messages()) == 0 {
		t.Error("nothing reached the second broker")
	}
	t.Logf("first broker %d lines, second %d, duplicates %d", len(sub1.Messages()), len(sub2.Messages()), dups)
}

// Two gateways with one client ID: each is thrown off whenever the other
// connects. Each backs off as from a broker that is down (at most 20
// connections between them in 10 s, not thousands) and says once what
// is going on.
func TestTakeoverBacksOffAndSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 10 s")
	}
	m := gatewaytest.StartMosquitto(t, false)
	var logs [2]syncBuffer
	for i := range logs {
		cfg := testConfig(t, m.URL())
		cfg.GatewayID = "same"
		cfg.MinBackoff, cfg.MaxBackoff = 0, 0 // the defaults: 1 s, 30 s
		openBridgeLogging(t, cfg, nil, &logs[i])
	}
	time.Sleep(10 * time.Second)
	conns := strings.Count(m.Log(), "as gatewayd-same")
	if conns > 20 {
		t.Errorf("%d connections in 10 s; want at most 20", conns)
	}
	for i := range logs {
		log := logs[i].String()
		if n := strings.Count(log, "another client took over the MQTT session"); n != 1 {
			t.Errorf("gateway %d logged the takeover %d times, want once:\n%s", i, n, log)
		}
		if !strings.Contains(log, "client_id=gatewayd-same") || !strings.Contains(log, "mqtt.gateway_id") {
			t.Errorf("gateway %d: the warning names neither the client ID nor mqtt.gateway_id:\n%s", i, log)
		}
	}
	t.Logf("%d connections in 10 s", conns)
}

// On a host named like many others (raspberrypi), the default gateway ID
// is the host name and 6 hex digits of the machine ID, and that is what
// the bridge uses.
func TestGenericHostNameGetsMachineID(t *testing.T) {
	idFile := filepath.Join(t.TempDir(), "machine-id")
	if err := os.WriteFile(idFile, []byte("0A1B2C3D4E5F60718293a4b5c6d7e8f9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := hostname
	hostname = func() (string, error) { return "raspberrypi", nil }
	t.Cleanup(func() { hostname = old })

	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "t/+/status")
	cfg := testConfig(t, m.URL())
	id, err := DefaultGatewayID(idFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.GatewayID = id
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)
	gatewaytest.Within(t, brokerWait, "t/raspberrypi-0a1b2c/status online", func() bool {
		return sub.Last("t/raspberrypi-0a1b2c/status") == "online"
	})
	if !strings.Contains(m.Log(), "as gatewayd-raspberrypi-0a1b2c") {
		t.Errorf("client ID not gatewayd-raspberrypi-0a1b2c in the broker's log:\n%s", m.Log())
	}
	for _, tt := range []struct{ host, want string }{{"gw-kitchen", "gw-kitchen"}, {"DietPi", "DietPi-0a1b2c"}, {"localhost", "localhost-0a1b2c"}} {
		if got, err := GatewayIDFor(tt.host, idFile); got != tt.want || err != nil {
			t.Errorf("GatewayIDFor(%q) = %q, %v; want %q", tt.host, got, err, tt.want)
		}
	}
	if _, err := GatewayIDFor("ubuntu", filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "mqtt.gateway_id") {
		t.Errorf("no machine ID: error %v, want one saying to set mqtt.gateway_id", err)
	}
}
