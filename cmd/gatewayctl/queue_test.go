package main

import (
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// A line the broker refuses (mosquitto's max_packet_size closes the
// connection) is receipted, then moved to the dead letters after five
// tries: `gatewayctl queue dead` prints it as BOARD LINE, status counts
// it, and the board's next line still reaches the broker.
func TestQueueDeadAgainstGatewayd(t *testing.T) {
	m := gatewaytest.StartMosquittoWith(t, false, "max_packet_size 200\n")
	sub := mqtttest.Subscribe(t, m.URL(), "t/gw/+/up")
	sock := filepath.Join(t.TempDir(), "gatewayd.sock")
	queue := filepath.Join(t.TempDir(), "queue")
	p, addr := startGatewayd(t, "framing: line\ncontrol: "+strconv.Quote(sock)+"\nmqtt:\n  broker: "+m.URL()+
		"\n  gateway_id: gw\n  topic_prefix: t\n  queue_dir: "+strconv.Quote(queue)+"\n")
	gatewaytest.Within(t, 30*time.Second, "the bridge connected", func() bool { return strings.Contains(p.logText(), "connected to broker") })

	c, r := helloBoard(t, addr, "b1") // its first line, t=21.5, is receipted
	big := strings.Repeat("z", 300)
	for _, line := range []string{big, "after"} {
		io.WriteString(c, line+"\n")
		if got, err := r.ReadString('\n'); got != line+"\n" {
			t.Fatalf("receipt %.20q, %v; want the line %.20q", got, err, line)
		}
	}
	gatewaytest.Within(t, 60*time.Second, "the refused line in the dead letters", func() bool {
		return ctl(t, nil, "queue", "dead", "-socket", sock).stdout != ""
	})
	if res := ctl(t, nil, "queue", "dead", "-socket", sock); res.code != 0 || res.stdout != "b1 "+big+"\n" {
		t.Errorf("queue dead: exit %d, stdout %q, stderr %q; want b1 and the line", res.code, res.stdout, res.stderr)
	}
	gatewaytest.Within(t, 30*time.Second, "the line behind it at the broker", func() bool { return sub.Has("t/gw/b1/up", "after") })
	if res := ctl(t, nil, "status", "-socket", sock); !strings.Contains(res.stdout, "1 DEAD LETTERS") {
		t.Errorf("status does not show the dead letter:\n%s", res.stdout)
	}
	if !strings.Contains(p.logText(), "level=ERROR") || !strings.Contains(p.logText(), "board=b1") {
		t.Errorf("no ERROR line naming the board:\n%s", p.logText())
	}
	if res := ctl(t, nil, "queue", "dead", "x", "-socket", sock); res.code != 2 {
		t.Errorf("queue dead with a flag after an argument: exit %d, want 2", res.code)
	}
}
