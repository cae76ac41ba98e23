package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// TestBoardsForget: `gatewayctl boards forget ID` empties the board's Home
// Assistant configs on the broker, and says what is wrong otherwise.
func TestBoardsForget(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, false)
	sub := mqtttest.Subscribe(t, m.URL(), "homeassistant/#")
	sock := filepath.Join(t.TempDir(), "gatewayd.sock")
	_, addr := startGatewayd(t, "framing: line\ncontrol: "+strconv.Quote(sock)+"\nmqtt:\n  broker: "+m.URL()+
		"\n  gateway_id: gw\n  queue_dir: "+strconv.Quote(filepath.Join(t.TempDir(), "q"))+"\n  homeassistant: true\n")
	helloBoard(t, addr, "kitchen")
	topic := "homeassistant/sensor/gw_kitchen/t/config"
	gatewaytest.Within(t, 30*time.Second, "the board's sensor config", func() bool { return strings.Contains(sub.Last(topic), "gw_kitchen_t") })

	if r := ctl(t, nil, "boards", "-socket", sock, "forget", "kitchen"); r.code != 0 || !strings.HasPrefix(r.stdout, "forgot kitchen") {
		t.Fatalf("boards forget kitchen = %d %q %q", r.code, r.stdout, r.stderr)
	}
	gatewaytest.Within(t, 30*time.Second, "the config emptied", func() bool { return sub.Has(topic, "") })

	for _, args := range [][]string{{"forget"}, {"forget", "a", "b"}, {"forgot", "a"}} {
		if r := ctl(t, nil, append([]string{"boards", "-socket", sock}, args...)...); r.code != 2 {
			t.Errorf("boards %q = %d %q; want a usage error", args, r.code, r.stderr)
		}
	}
}

func TestBoardsForgetDiscoveryOff(t *testing.T) {
	_, _, sock := startBoardGatewayd(t)
	r := ctl(t, nil, "boards", "-socket", sock, "forget", "kitchen")
	if r.code != 1 || !strings.Contains(r.stderr, "mqtt.homeassistant: false") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("forget with discovery off = %d %q; want one line naming mqtt.homeassistant", r.code, r.stderr)
	}
}
