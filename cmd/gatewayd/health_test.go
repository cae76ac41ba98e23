package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// TestOneHealthVerdict: with the broker up, then stopped, /healthz, the
// control socket's status, GET /v1/status on the metrics listener and
// systemd's STATUS= line give the same verdict, and while unhealthy each
// names the broker. (Before, the control socket said "ok" while /healthz
// answered 503.)
func TestOneHealthVerdict(t *testing.T) {
	m := gatewaytest.StartMosquitto(t, true)
	n := listenNotify(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	sock := filepath.Join(t.TempDir(), "gatewayd.sock")
	yaml := bridgeYAML(t, m.URL(), "gw", filepath.Join(t.TempDir(), "q"), "") +
		"metrics:\n  listen: \"" + metricsAddr + "\"\ncontrol: \"" + sock + "\"\n"
	p := start(t, []string{"NOTIFY_SOCKET=" + n.path}, "-config", writeConfig(t, yaml))
	p.addr()

	type verdicts struct {
		healthzCode           int
		healthz, socket, http string
		socketOK, httpOK      bool
		statusLine            string
	}
	read := func() verdicts {
		var v verdicts
		v.healthzCode, v.healthz = healthz(t, metricsAddr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := control.NewClient(sock).Status(ctx)
		if err != nil {
			t.Fatalf("control socket: %v", err)
		}
		v.socket, v.socketOK = st.Health, st.Healthy
		resp, err := http.Get("http://" + metricsAddr + "/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		var hs control.Status
		err = json.NewDecoder(resp.Body).Decode(&hs)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /v1/status: %v", err)
		}
		v.http, v.httpOK = hs.Health, hs.Healthy
		for _, msg := range n.all() {
			if strings.HasPrefix(msg, "STATUS=") {
				v.statusLine = msg
			}
		}
		return v
	}
	agree := func(healthy bool, want string) {
		t.Helper()
		var v verdicts
		ok := func() bool {
			v = read()
			wantCode := http.StatusOK
			if !healthy {
				wantCode = http.StatusServiceUnavailable
			}
			line := strings.Contains(v.statusLine, "broker connected") && !strings.Contains(v.statusLine, "UNHEALTHY")
			if !healthy {
				line = strings.HasPrefix(v.statusLine, "STATUS=UNHEALTHY: "+want+";")
			}
			return v.healthzCode == wantCode && v.healthz == want &&
				v.socketOK == healthy && v.socket == want &&
				v.httpOK == healthy && v.http == want && line
		}
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("the verdicts disagree or are not %q: %+v", want, v)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	agree(true, "ok")
	m.Stop()
	agree(false, "bridge: broker unreachable: "+m.Addr())
}
