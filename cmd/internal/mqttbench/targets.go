package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

// target is one gateway under test: how to start it against a broker, and
// whether it echoes each line as the board's receipt.
type target struct {
	name   string
	echoes bool
	// start runs the gateway publishing to brokerURL, with dir its own
	// scratch directory, and returns once boards can connect.
	start func(ctx context.Context, brokerURL, dir string) (*gateway, error)
	// bridgeOff, when set, is the same gateway with no broker: it only
	// echoes. Its CPU per line at the fixed load is the floor under the
	// bridged figure, since every bridged line is read and receipted too.
	bridgeOff *target
}

// gateway is a started target.
type gateway struct {
	addr string
	pid  int // whose CPU time is the gateway's
	stop func()
}

func fromProcess(p *proc.Process) *gateway {
	return &gateway{addr: p.Addr, pid: p.Pid, stop: p.Stop}
}

var listeningRx = regexp.MustCompile(`listening addr=(\S+)`)

// gatewaydTarget runs the gatewayd binary with the bridge on, as
// CONTRACT.md's "The MQTT bridge" configures it.
func gatewaydTarget(bin string) target {
	off := gatewaydWith(bin, false)
	t := gatewaydWith(bin, true)
	t.bridgeOff = &off
	return t
}

// gatewaydWith runs the gatewayd binary with the bridge on or off; off,
// boards still say hello and get each line back as its receipt.
func gatewaydWith(bin string, bridge bool) target {
	name := "gatewayd"
	if !bridge {
		name = "gatewayd, bridge off"
	}
	return target{name: name, echoes: true, start: func(ctx context.Context, brokerURL, dir string) (*gateway, error) {
		conf := filepath.Join(dir, "gatewayd.yaml")
		yaml := `listen: "127.0.0.1:0"
framing: line
max_message_bytes: 4096
limits:
  max_clients: 20000
  max_clients_per_ip: 20000
log:
  level: info
gpio:
  driver: none
control: ""
`
		if bridge {
			yaml += fmt.Sprintf(`mqtt:
  broker: %q
  gateway_id: gw
  topic_prefix: gatewayd
  queue_dir: %q
  queue_max_bytes: 67108864
`, brokerURL, filepath.Join(dir, "queue"))
		}
		if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.CommandContext(ctx, bin, "-check", "-config", conf).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gatewayd refuses the bridge configuration (framing: line and an mqtt: section; see CONTRACT.md \"The MQTT bridge\"); this tree's gatewayd may not have the bridge wired in yet:\n%s\nthe configuration it was given:\n%s", strings.TrimSpace(string(out)), yaml)
		}
		p, err := proc.Start(ctx, proc.Spec{Name: "gatewayd", Argv: []string{bin, "-config", conf}, ListenRx: listeningRx})
		if err != nil {
			return nil, err
		}
		if bridge {
			// Measure from a connected bridge; lines sent before would only
			// be queued on disk first, which is not the path being measured.
			waitOutput(p, regexp.MustCompile(`(?i)connected to broker`), 10*time.Second)
		}
		return fromProcess(p), nil
	}}
}

// waitOutput waits until the process has printed a line matching rx, or
// limit passes; it reports which.
func waitOutput(p *proc.Process, rx *regexp.Regexp, limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if rx.MatchString(p.Output()) {
			return true
		}
	}
	return false
}
