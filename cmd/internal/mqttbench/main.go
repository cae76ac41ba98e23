// Command mqttbench measures gatewayd's MQTT bridge against Node-RED's
// tcp in → mqtt out flow, side by side on the same mosquitto, and prints
// the figures issue 11 asks for, for each number of boards:
//
//   - the highest sustained rate delivered to a subscriber;
//
//   - the gateway's CPU time per delivered message at a fixed offered load;
//
//   - p50 and p99 latency from send to arrival at the subscriber (Node-RED's
//     tcp in does not echo, so that is the latency both are compared on),
//     and gatewayd's send → receipt (its echo);
//
//   - lines lost through a broker restart.
//
//     go run ./cmd/internal/mqttbench                      # the full run
//     go run ./cmd/internal/mqttbench -gateways nodered    # Node-RED alone
//     go run ./cmd/internal/mqttbench -quick               # a smoke run
//
// The tool starts mosquitto on a free loopback port with a configuration
// it writes, builds gatewayd from this tree, and installs Node-RED
// (node-red@4.1.8) with npm into a cache directory the first time. Each
// gateway runs as its own process, started afresh for each measure, and
// its CPU time comes from /proc/PID/stat. A subscriber on the broker
// counts every line by board and sequence number. It prints figures and
// never fails on them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/intlist"
	"github.com/gatewayd/gatewayd/cmd/internal/proc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mqttbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mqttbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	boards := fs.String("boards", "100,1000", "numbers of boards to measure with, comma-separated")
	d := fs.Duration("d", 5*time.Second, "length of each measured `run`")
	rate := fs.Float64("rate", 5000, "fixed offered load for CPU and latency, msg/s across all boards")
	size := fs.Int("size", 64, "line length in bytes, LF included")
	gateways := fs.String("gateways", "gatewayd,nodered", "gateways to measure: gatewayd, nodered or both")
	gatewaydBin := fs.String("gatewayd", "", "a gatewayd `binary` to measure; empty builds ./cmd/gatewayd from this tree")
	nrDir := fs.String("nodered-dir", defaultNodeREDDir(), "where Node-RED is installed with npm (reused)")
	quick := fs.Bool("quick", false, "a smoke run: few boards, short runs")
	verbose := fs.Bool("v", false, "log each ramp step")
	native := fs.Bool("native", true, "measure the native limit too: a paho.mqtt.golang publisher, one connection, N publishers each waiting for its PUBACK")
	nativePublisher := fs.String("native-publisher", "", "internal: run as the native publisher against `BROKER_URL`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nativePublisher != "" {
		return runNativePublisher(ctx, *nativePublisher, *size)
	}
	opts := options{
		size: *size, d: *d, rate: *rate, warmup: time.Second,
		rampFrom: 500, rampSteps: 8,
		restartRate: 1000, restartRun: 12 * time.Second, restartAt: 4 * time.Second, outage: 2 * time.Second,
		drain: 60 * time.Second, reconnectQuiet: 10 * time.Second,
	}
	var err error
	if opts.boards, err = intlist.Parse(*boards); err != nil {
		return fmt.Errorf("-boards: %w", err)
	}
	if *quick {
		opts = quickOptions(opts.size)
	}
	if opts.size < 48 {
		return fmt.Errorf("-size %d: lines need at least 48 bytes for board, sequence number and time", opts.size)
	}

	dir, err := os.MkdirTemp("", "mqttbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	quiet := func(string, ...any) {}
	var targets []target
	for _, name := range strings.Split(*gateways, ",") {
		switch strings.TrimSpace(name) {
		case "gatewayd":
			bin := *gatewaydBin
			if bin == "" {
				bin = filepath.Join(dir, "gatewayd")
				if err := proc.Build(ctx, map[string]string{"./cmd/gatewayd": bin}); err != nil {
					return err
				}
			}
			targets = append(targets, gatewaydTarget(bin))
		case "nodered":
			red, err := installNodeRED(ctx, *nrDir, func(s string) { logf("%s", s) })
			if err != nil {
				return err
			}
			targets = append(targets, noderedTarget(red))
		default:
			return fmt.Errorf("-gateways: %q: want gatewayd or nodered", name)
		}
	}
	if !*verbose {
		logf = quiet
	}
	opts.native = *native
	return measureAll(ctx, opts, dir, targets, stdout, logf)
}

// quickOptions is the smoke run: seconds, not minutes.
func quickOptions(size int) options {
	return options{
		boards: []int{5}, size: size, d: time.Second, rate: 200, warmup: 200 * time.Millisecond,
		rampFrom: 100, rampSteps: 2,
		restartRate: 100, restartRun: 3 * time.Second, restartAt: time.Second, outage: 300 * time.Millisecond,
		drain: 20 * time.Second, reconnectQuiet: 8 * time.Second,
	}
}

// measureAll starts the broker and the subscriber, checks that every
// target starts, then measures each one for each number of boards and
// prints the table.
func measureAll(ctx context.Context, opts options, dir string, targets []target, stdout io.Writer, logf func(string, ...any)) error {
	br, err := startBroker(ctx, dir)
	if err != nil {
		return err
	}
	defer br.close()
	sub, err := subscribe(ctx, br.url())
	if err != nil {
		return err
	}
	defer sub.close()
	b := &bench{opts: opts, broker: br, sub: sub, dir: dir, logf: logf}
	// Start each gateway once before measuring anything, so a refused
	// configuration or a missing install stops the run at once.
	for _, t := range targets {
		g, err := b.startTarget(ctx, t)
		if err != nil {
			return err
		}
		g.stop()
	}

	fmt.Fprintf(stdout, "mqttbench: %s on %s; QoS 1; %d-byte lines; runs of %v; one round, each measure on a freshly started gateway\n\n",
		br.version(), br.addr, opts.size, opts.d)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "boards\tgateway\tsustained msg/s\thow\t@%.0f/s: delivered/s\tCPU/msg\tbridge off\tsend→sub p50\tp99\tsend→echo p50\tp99\trestart: counted\tarrived\tlost\tdups\t\n", opts.rate)
	var notes []string
	gatewaydRows, nativeRows := map[int]row{}, map[int]nativeRow{}
	for _, n := range opts.boards {
		for _, t := range targets {
			var r row
			if r.sustained, r.sustainedHow, r.cpuSat, err = b.sustained(ctx, t, n); err != nil {
				return err
			}
			if err := b.fixedLoad(ctx, t, n, &r); err != nil {
				return err
			}
			off := "—"
			if t.bridgeOff != nil {
				if r.cpuBridgeOff, err = b.bridgeOffLoad(ctx, t, n); err != nil {
					return err
				}
				off = r.cpuBridgeOff.Round(100 * time.Nanosecond).String()
			}
			if r.restart, err = b.restart(ctx, t, n); err != nil {
				return err
			}
			echo50, echo99 := "—", "—"
			if t.echoes {
				echo50, echo99 = dur(r.echoP50), dur(r.echoP99)
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%.0f\t%v\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n",
				n, t.name, r.sustained, r.sustainedHow, r.fixedArrived, r.cpuPerMsg.Round(100*time.Nanosecond), off,
				dur(r.subP50), dur(r.subP99), echo50, echo99,
				r.restart.counted, r.restart.arrived, r.restart.lost, r.restart.dups)
			if r.restart.subscriberLost {
				notes = append(notes, fmt.Sprintf("%d boards, %s: mosquitto came back without the subscriber's session; lines published before it subscribed again are counted lost, but were not the gateway's to lose", n, t.name))
			}
			if t.name == "gatewayd" {
				gatewaydRows[n] = r
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if opts.native {
			nr, err := b.native(ctx, n)
			if err != nil {
				return err
			}
			nativeRows[n] = nr
		}
	}
	tw.Flush()
	if opts.native {
		writeNative(stdout, opts, gatewaydRows, nativeRows)
	}
	for _, note := range notes {
		fmt.Fprintln(stdout, "warning:", note)
	}
	fmt.Fprintf(stdout, `
sustained: msg/s reaching the subscriber; gatewayd's boards send each line once the last is
  receipted (closed loop); Node-RED's are offered doubling rates from %.0f msg/s, and a rate is
  kept up when every line written reached the subscriber within a second of the run's end;
  one more rate halfway between the last kept up and the first not, on a fresh process.
@%.0f/s: after a second's warm-up, the boards offer that load in all; CPU/msg is the gateway process's CPU time
  (/proc/PID/stat, stragglers included) over the messages delivered; latencies are from
  when a line was due to its arrival at the subscriber (send→sub, compared for both, as
  Node-RED's tcp in does not echo) and, for gatewayd, to its echo (the receipt).
  bridge off: the same gateway's CPU/msg with no broker, the same boards and load: it reads
  each line and writes its receipt, as it must with the bridge on too, so it is the floor
  under the CPU/msg beside it.
restart: %.0f msg/s for %v; mosquitto stopped (SIGTERM) at %v for %v and started again.
  counted: lines the gateway answered for (gatewayd: receipted; Node-RED: written to it);
  lost: counted lines that never reached the subscriber; dups: deliveries beyond the first.
`, opts.rampFrom, opts.rate, opts.restartRate, opts.restartRun, opts.restartAt, opts.outage)
	return nil
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}
