package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
	"github.com/gatewayd/gatewayd/gateway/gatewaytest/mqtttest"
)

// The on-disk queue's troubles end to end, on a real file system made
// small or read-only (a tmpfs; the tests skip where mounting is not
// allowed), with real gatewayd processes and a real mosquitto.

// TestQueueDiskFull: the broker is down and the queue's disk fills up.
// Boards wait for their receipts, none is disconnected, gatewayd logs one
// WARN, /healthz and the metric say so; when the broker is back the queue
// drains, space frees, and every receipted line arrives in order.
func TestQueueDiskFull(t *testing.T) {
	mnt := gatewaytest.Tmpfs(t, 256<<10)
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	m.Stop()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ctl := buildGatewayctl(t)
	p := start2(t, bridgeYAML(t, m.URL(), "gw", filepath.Join(mnt, "q"), "")+"metrics:\n  listen: \""+metricsAddr+"\"\ncontrol: "+sock+"\n")
	addr := p.addr()
	ctx, stop := context.WithCancel(context.Background())
	bs, wait := startBoards(ctx, 10, "full", func() string { return addr }, func(b *board) { b.size = 200 })

	gatewaytest.Within(t, 60*time.Second, "/healthz to name the full disk", func() bool {
		code, body := healthz(t, metricsAddr)
		return code == 503 && strings.Contains(body, "queue: no space left on device")
	})
	reconn := func() (n int64) {
		for _, b := range bs {
			n += b.reconn.Load()
		}
		return n
	}
	r1, c1 := totalReceipted(bs), reconn()
	time.Sleep(3 * time.Second)
	r2, c2 := totalReceipted(bs), reconn()
	if r2 != r1 {
		t.Errorf("%d lines receipted with the queue's disk full, want none (boards wait)", r2-r1)
	}
	if c2 != c1 {
		t.Errorf("%d board reconnects while the disk was full, want 0 (boards wait, none is disconnected)", c2-c1)
	}
	if v := scrapeMetric(t, metricsAddr, `gatewayd_mqtt_queue_errors_total{error="no-space"}`); v < 1 {
		t.Errorf(`gatewayd_mqtt_queue_errors_total{error="no-space"} = %v, want at least 1`, v)
	}
	if n := p.countLog(`level=WARN msg="spool: no space left on device`); n != 1 {
		t.Errorf("%d no-space WARN lines, want 1", n)
	}
	_, body := healthz(t, metricsAddr)
	status, _, code := gatewayctl(t, ctl, "status", "-socket", sock)
	if code == 0 || !strings.Contains(status, "UNHEALTHY: bridge: broker unreachable: "+m.Addr()+"; queue: no space left on device") {
		t.Errorf("gatewayctl status: exit %d,\n%s\nwant it unhealthy naming the full disk", code, status)
	}

	m.Start()
	gatewaytest.Within(t, 60*time.Second, "receipts to go on once the queue drains", func() bool { return totalReceipted(bs) > r2+100 })
	stop()
	wait()
	d := checkDelivered(t, sub, bs)
	gatewaytest.Within(t, 60*time.Second, "/healthz 200 again", func() bool { code, _ := healthz(t, metricsAddr); return code == 200 })
	p.stop()
	t.Logf("gatewayctl status:\n%s", status)
	t.Logf("disk full at %d lines receipted (%.0f KiB tmpfs); /healthz said %q; boards waited 3 s with 0 reconnects; %d receipted in all, all delivered in order, %d duplicates",
		r1, 256.0, body, totalReceipted(bs), d.duplicates)
}

// TestQueueReadOnlyAtStart: gatewayd left lines in its queue (the broker
// was down) and a torn tail, and the card was remounted read-only, as
// ext4's errors=remount-ro does. gatewayd starts anyway, says so once and
// in /healthz, delivers the leftover lines, and bridges new ones directly:
// receipted on PUBACK, refused while the broker is unreachable.
func TestQueueReadOnlyAtStart(t *testing.T) {
	mnt := gatewaytest.Tmpfs(t, 4<<20)
	qdir := filepath.Join(mnt, "q")
	m := gatewaytest.StartMosquitto(t, true)
	sub := mqtttest.Subscribe(t, m.URL(), "e2e/+/+/up")
	m.Stop()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", gatewaytest.FreePort(t))
	yaml := bridgeYAML(t, m.URL(), "gw", qdir, "") + "metrics:\n  listen: \"" + metricsAddr + "\"\n"

	p := start2(t, yaml)
	addr := p.addr()
	old, wait := startBoards(context.Background(), 3, "old", func() string { return addr }, func(b *board) { b.limit = 10 })
	wait()
	p.stop()
	segs, _ := filepath.Glob(filepath.Join(qdir, "*.seg"))
	if len(segs) == 0 {
		t.Fatalf("no queue left in %s", qdir)
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{40, 0, 0}) // a torn tail: cutting it needs a write
	f.Close()
	gatewaytest.Remount(t, mnt, "ro")
	t.Cleanup(func() { gatewaytest.Remount(t, mnt, "rw") })

	m.Start()
	p = start2(t, yaml)
	addr = p.addr()
	p.waitLog(`bridge: connected to broker`)
	if n := p.countLog(`level=WARN msg="spool: the queue directory cannot be written`); n != 1 {
		t.Errorf("%d read-only WARN lines, want 1:\n%s", n, p.logs())
	}
	code, body := healthz(t, metricsAddr)
	if want := "queue: cannot write " + qdir + ": read-only file system"; code != 503 || !strings.Contains(body, want) {
		t.Errorf("/healthz = %d %q, want 503 with %q", code, body, want)
	}
	// The leftover lines arrive, and new ones go straight through.
	ctx, stop := context.WithCancel(context.Background())
	fresh, wait := startBoards(ctx, 3, "ro", func() string { return addr }, func(b *board) { b.limit = 50 })
	wait()
	stop()
	d := checkDelivered(t, sub, append(old, fresh...))
	if v := scrapeMetric(t, metricsAddr, "gatewayd_mqtt_queued_total"); v != 0 {
		t.Errorf("gatewayd_mqtt_queued_total = %v on a read-only queue, want 0", v)
	}
	// The queue's files stay: delivered, not deleted.
	if names := gatewaytest.DirNames(t, qdir); len(names) == 0 {
		t.Errorf("the read-only queue's files are gone")
	}

	// With the broker down a line cannot be taken: no receipt, the
	// board sends it again later.
	m.Stop()
	p.waitLog(`bridge: lost the broker`)
	late := &board{id: "late", addr: func() string { return addr }, limit: 1}
	lctx, lstop := context.WithTimeout(context.Background(), 3*time.Second)
	late.run(lctx)
	lstop()
	if late.receipted.Load() != 0 {
		t.Errorf("a line was receipted with the broker down and the queue read-only")
	}
	p.stop()
	t.Logf("read-only queue: gatewayd started, /healthz %d %q; %d leftover and %d new lines delivered in order, %d duplicates; with the broker down a line got no receipt (%d tries)",
		code, body, totalReceipted(old), totalReceipted(fresh), d.duplicates, late.reconn.Load())
}
