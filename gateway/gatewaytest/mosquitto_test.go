package gatewaytest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// mqttClient connects a bare MQTT 5 client to m. With expiry > 0 and
// cleanStart false it resumes the session the broker keeps for id.
func mqttClient(t *testing.T, m *Mosquitto, id string, cleanStart bool, expiry uint32, got chan<- string) (*paho.Client, *paho.Connack) {
	t.Helper()
	c, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cli := paho.NewClient(paho.ClientConfig{Conn: c, ClientID: id, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			if got != nil {
				got <- string(pr.Packet.Payload)
			}
			return true, nil
		},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := cli.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: cleanStart, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { _ = cli.Disconnect(&paho.Disconnect{}) })
	return cli, ca
}

// TestMosquittoPersistKeepsSessions: with persist, a subscriber's session
// outlives a restart, so a message published before the subscriber is
// back is matched (PUBACK reason 0, not 0x10 "no matching subscribers")
// and handed to it when it resumes. The end-to-end tests of the bridge
// rely on this to see every line the broker accepted.
func TestMosquittoPersistKeepsSessions(t *testing.T) {
	m := StartMosquitto(t, true)
	// Clean start false from the first connection: mosquitto 2.0 saves
	// no session that began with clean start, whatever its expiry.
	sub, _ := mqttClient(t, m, "persist-sub", false, 3600, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/#", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	m.Stop()
	m.Start()

	pub, _ := mqttClient(t, m, "persist-pub", true, 0, nil)
	pr, err := pub.Publish(ctx, &paho.Publish{Topic: "t/x", QoS: 1, Payload: []byte("while away")})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if got, want := pr.ReasonCode, byte(0); got != want {
		t.Fatalf("PUBACK reason after a restart = %#x, want %#x: the subscriber's session was not kept", got, want)
	}

	msgs := make(chan string, 1)
	_, ca := mqttClient(t, m, "persist-sub", false, 3600, msgs)
	if !ca.SessionPresent {
		t.Errorf("CONNACK session present = false after a restart, want true")
	}
	select {
	case got := <-msgs:
		if want := "while away"; got != want {
			t.Errorf("resumed subscriber got %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("resumed subscriber never got the message published while it was away")
	}
}
