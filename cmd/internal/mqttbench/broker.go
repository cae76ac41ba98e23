package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// broker is the mosquitto that both gateways publish to, started by the
// benchmark on a free loopback port with a configuration it writes.
type broker struct {
	bin, data, conf, addr string
	p                     *proc.Process
}

// brokerDir makes mosquitto's data directory. Started as root, mosquitto
// drops to the mosquitto user before it saves its database: the directory
// must be that user's, and reachable by it, or persistence fails with no
// more than a line in mosquitto's log and a restart loses every session.
func brokerDir(parent string) (string, error) {
	if os.Geteuid() != 0 {
		data := filepath.Join(parent, "mosquitto")
		return data, os.MkdirAll(data, 0o755)
	}
	data, err := os.MkdirTemp("", "mqttbench-mosquitto")
	if err != nil {
		return "", err
	}
	if u, err := user.Lookup("mosquitto"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(data, uid, gid); err != nil {
			return "", err
		}
	}
	return data, nil
}

// startBroker writes a mosquitto configuration in dir and starts it. It
// keeps sessions and queued messages across a restart (persistence, as a
// packaged mosquitto does), so the subscriber's own session loses nothing
// through the restart measure, and queues without limit for a subscriber
// that falls behind: losses counted are then the gateway's alone.
func startBroker(ctx context.Context, dir string) (*broker, error) {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/mosquitto"); err != nil {
			return nil, errors.New("mosquitto not found: install it (apt-get install mosquitto)")
		}
		bin = "/usr/sbin/mosquitto"
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	data, err := brokerDir(dir)
	if err != nil {
		return nil, err
	}
	b := &broker{bin: bin, data: data, conf: filepath.Join(data, "mosquitto.conf"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	conf := strings.Join([]string{
		fmt.Sprintf("listener %d 127.0.0.1", port),
		"allow_anonymous true",
		"persistence true",
		"persistence_location " + data + "/",
		"autosave_interval 1800",
		"max_queued_messages 0",
		"max_inflight_messages 100",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"",
	}, "\n")
	if err := os.WriteFile(b.conf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return b, b.start(ctx)
}

func (b *broker) url() string { return "mqtt://" + b.addr }

func (b *broker) start(ctx context.Context) error {
	p, err := proc.Start(ctx, proc.Spec{Name: "mosquitto", Argv: []string{b.bin, "-c", b.conf}, Addr: b.addr})
	if err != nil {
		return err
	}
	b.p = p
	return nil
}

// close stops mosquitto for good and removes its data.
func (b *broker) close() {
	b.stop()
	os.RemoveAll(b.data)
}

// stop ends mosquitto as systemd would (SIGTERM), which saves its
// sessions to disk.
func (b *broker) stop() {
	if b.p != nil {
		b.p.Stop()
		b.p = nil
	}
}

// version is what `mosquitto -h` says of itself, for the report.
func (b *broker) version() string {
	out, _ := exec.Command(b.bin, "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}
