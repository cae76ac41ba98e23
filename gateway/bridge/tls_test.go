package bridge

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
	"github.com/gatewayd/gatewayd/gateway/pki"
	"github.com/gatewayd/gatewayd/gateway/pki/pkitest"
)

// rootsOf is the CA file's pool, as configs reads mqtt.ca_file.
func rootsOf(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no certificate", caFile)
	}
	return pool
}

// tlsMosquitto is a real mosquitto with, beside its plain listener, a TLS
// listener whose certificate is the server certificate of the pki
// directory dir (for localhost and 127.0.0.1). It returns the broker and
// the mqtts URL of its TLS listener.
func tlsMosquitto(t *testing.T, dir string) (*gatewaytest.Mosquitto, string) {
	port := gatewaytest.FreePort(t)
	m := gatewaytest.StartMosquittoWith(t, false, fmt.Sprintf("listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n",
		port, filepath.Join(dir, pki.ServerCertFile), filepath.Join(dir, pki.ServerKeyFile)))
	return m, fmt.Sprintf("mqtts://127.0.0.1:%d", port)
}

// mqtts against a real mosquitto: the bridge dials the broker over TLS
// itself (batchconn.go), trusting ca_file, and every line arrives.
func TestBrokerOverTLS(t *testing.T) {
	p := pkitest.New(t)
	m, mqtts := tlsMosquitto(t, p.Dir)
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw1/+/up")
	cfg := testConfig(t, mqtts)
	cfg.RootCAs = rootsOf(t, filepath.Join(p.Dir, pki.CACertFile))
	b := openBridge(t, cfg, nil)
	waitConnected(t, b)
	sendStraight(t, b, sub, 10, 1000)
}

// A broker whose certificate ca_file did not sign is never trusted: the
// bridge says why in one line, and lines are receipted from the queue
// rather than sent to it.
func TestBrokerOverTLSWrongCA(t *testing.T) {
	p := pkitest.New(t)
	_, mqtts := tlsMosquitto(t, p.Dir)
	cfg := testConfig(t, mqtts)
	cfg.RootCAs = rootsOf(t, filepath.Join(p.Other, pki.CACertFile))
	var logs gatewaytest.Buffer
	b := openBridgeLogging(t, cfg, nil, &logs)
	gatewaytest.Within(t, brokerWait, "the refusal logged", func() bool {
		return strings.Contains(logs.String(), "certificate signed by unknown authority")
	})
	if n := strings.Count(logs.String(), "bridge: broker unreachable"); n != 1 {
		t.Errorf("%d lines say the broker is unreachable, want 1:\n%s", n, logs.String())
	}
	if b.Health() == nil {
		t.Error("healthy with an untrusted broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sendSync(b, ctx, "b0", []byte("kept")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if st := b.Stats(); st.Spooled != 1 || st.Acked != 0 {
		t.Errorf("Spooled, Acked = %d, %d; want the line queued, not sent", st.Spooled, st.Acked)
	}
}
