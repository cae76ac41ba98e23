// Package pitest boots an emulated Raspberry Pi 3 with Debian's arm64 kernel,
// runs the cross-built gatewayd on it with the periph GPIO driver and checks,
// through the kernel's own debugfs, that the LED lines really are outputs
// owned by gatewayd and driven as the contract says. Unit tests with fake
// pins cannot show that; this test can.
//
// It is skipped unless GATEWAYD_PI_TEST=1. Run it with
//
//	GATEWAYD_PI_TEST=1 go test -v -count=1 -timeout 15m -run TestPi ./deploy/pitest/
//
// after deploy/pitest/install-deps.sh has installed QEMU.
package pitest

import (
	"bytes"
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// guestInit is the guest's /init: it runs gatewayd and reports what it sees.
//
//go:embed guest-init.sh
var guestInit []byte

// twoLEDs is the guest's configuration: GPIO17 lit while clients are
// connected, and the activity LED on the given pin blinking for 3s per
// message (long enough for the guest to catch it lit).
func twoLEDs(listen, activityPin string) string {
	return `listen: "` + listen + `"
gpio:
  driver: periph
  leds:
    - name: clients
      pin: GPIO17
      on: clients
      action: level
    - name: activity
      pin: ` + activityPin + `
      on: message
      action: blink
      duration: 3s
`
}

// The guest's configurations, in /etc/pitest.
var (
	mainConfig = twoLEDs("127.0.0.1:65432", "GPIO27")
	// GPIO99 does not exist on a Pi.
	wrongPinConfig = twoLEDs("127.0.0.1:65433", "GPIO99")
	// GPIO22 is held by holdline when this one starts.
	busyConfig = twoLEDs("127.0.0.1:65433", "GPIO22")
	// GPIO4 is named "GPIO_GCLK" by the Pi 3 device tree; users still
	// know it as GPIO4, its BCM number.
	bcmNumberConfig = `listen: "127.0.0.1:65433"
gpio:
  driver: periph
  leds:
    - name: clock-pin
      pin: GPIO4
      on: clients
      action: level
`
)

// guestTimeout bounds the emulated Pi's run, boot included. A passing run
// takes about 20 s on two cores without KVM; a daemon that never reaches the
// states the guest waits for makes every wait time out, and this cuts that short.
const guestTimeout = 4 * time.Minute

func TestPi(t *testing.T) {
	if os.Getenv("GATEWAYD_PI_TEST") != "1" {
		t.Skip("set GATEWAYD_PI_TEST=1 to boot an emulated Raspberry Pi 3 and check gatewayd's GPIO lines " +
			"(needs qemu-system-aarch64 and apt: deploy/pitest/install-deps.sh)")
	}
	qemu, err := exec.LookPath("qemu-system-aarch64")
	if err != nil {
		t.Fatalf("qemu-system-aarch64 not found (Debian package qemu-system-arm): run deploy/pitest/install-deps.sh: %v", err)
	}
	start := time.Now()
	a := fetchAssets(t)
	work := t.TempDir()
	gatewayd := crossBuild(t, work, "github.com/gatewayd/gatewayd/cmd/gatewayd")
	holdline := crossBuild(t, work, "github.com/gatewayd/gatewayd/deploy/pitest/holdline")
	initrd := filepath.Join(work, "initrd.gz")
	if err := writeInitrd(initrd, a.Busybox, gatewayd, holdline); err != nil {
		t.Fatalf("initramfs: %v", err)
	}
	t.Logf("prepared in %v: %s", time.Since(start).Round(time.Millisecond), a.Version)

	deadline := time.Now().Add(guestTimeout)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(deadline) {
		deadline = d.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	console := filepath.Join(work, "console.log")
	boot := time.Now()
	runErr := machine{QEMU: qemu, Kernel: a.Kernel, DTB: a.DTB, Initrd: initrd, Console: console}.run(ctx)
	t.Logf("emulated Pi ran for %v", time.Since(boot).Round(time.Millisecond))
	log, err := os.ReadFile(console)
	if err != nil {
		t.Fatal(err)
	}
	keepConsole(t, log)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serial console of the emulated Pi:\n%s", log)
		}
	})
	rep := parseReport(bytes.NewReader(log))
	if !rep.booted {
		t.Fatalf("the guest's /init never ran: %v", runErr)
	}
	if runErr != nil {
		t.Errorf("%v", runErr)
	}
	checkSession(t, rep)
	checkStartupErrors(t, rep)
}

// checkSession asserts on gatewayd's run from idle to SIGTERM.
func checkSession(t *testing.T, rep report) {
	pid := rep.pids["main"]
	if pid == "" {
		t.Fatal("the guest did not start gatewayd")
	}
	owner := "gatewayd@" + pid
	if code, ok := rep.exits["main"]; ok && rep.waits["idle"] == "" {
		t.Fatalf("gatewayd exited at start with status %s:\n%s", code, strings.Join(rep.out["main"], "\n"))
	}

	// Before gatewayd, the lines were left latched high by another program,
	// so that "off at start" below is gatewayd's doing.
	for _, pin := range []string{"17", "27"} {
		if got := rep.pins["preset"][pin]; got.Level != "hi" {
			t.Errorf("before gatewayd: pin %s reads %q, want the hi left by holdline (is the emulated pin controller as expected?)", pin, got.Level)
		}
	}
	steps := []struct {
		stage, what string
		lines       map[string]string // line name: "out lo" or "out hi"
	}{
		{"idle", "idle, both LEDs claimed as outputs and off",
			map[string]string{"GPIO17": "out lo", "GPIO27": "out lo"}},
		{"connected", "a client connected: the clients LED is lit",
			map[string]string{"GPIO17": "out hi", "GPIO27": "out lo"}},
		{"message", "right after a message: the activity LED is lit",
			map[string]string{"GPIO17": "out hi", "GPIO27": "out hi"}},
		{"blinked", "after the blink's duration: the activity LED is off again",
			map[string]string{"GPIO17": "out hi", "GPIO27": "out lo"}},
		{"disconnected", "the client left: the clients LED is off",
			map[string]string{"GPIO17": "out lo", "GPIO27": "out lo"}},
		{"lit", "a second client sent a message: both LEDs lit",
			map[string]string{"GPIO17": "out hi", "GPIO27": "out hi"}},
	}
	for _, s := range steps {
		if rep.gpio[s.stage] == nil {
			t.Errorf("%s: no report from the guest (it stopped early: see its console)", s.what)
			continue
		}
		for _, name := range []string{"GPIO17", "GPIO27"} {
			got := rep.gpio[s.stage][name]
			want := gpioLine{Name: name, Consumer: owner}
			want.Dir, want.Value, _ = strings.Cut(s.lines[name], " ")
			if got != want {
				t.Errorf("%s: kernel shows %v, want %v (the guest's wait for this state: %s)", s.what, got, want, rep.waits[s.stage])
			}
		}
	}
	if got, want := rep.echo["c1"], []string{"hello from the pi"}; !slices.Equal(got, want) {
		t.Errorf("client received %q, want the echo %q", got, want)
	}

	if got := rep.exits["main"]; got != "0" {
		t.Errorf("gatewayd after SIGTERM: exit status %q, want 0\n%s", got, strings.Join(rep.out["main"], "\n"))
	}
	for _, name := range []string{"GPIO17", "GPIO27"} {
		if got := rep.gpio["stopped"][name]; got.Consumer != "" || got.Dir != "" {
			t.Errorf("after gatewayd exited: kernel shows %v, want the line released", got)
		}
	}
	for _, pin := range []string{"17", "27"} {
		if got := rep.pins["stopped"][pin]; got.Level != "lo" {
			t.Errorf("after gatewayd exited while both LEDs were lit: pin %s reads %q, want lo (LEDs off after shutdown)", pin, got.Level)
		}
	}
}

// checkStartupErrors asserts on -check and on the start-up failures.
func checkStartupErrors(t *testing.T, rep report) {
	output := func(name string) string { return strings.Join(rep.out[name], "\n") }
	noCrash := func(name string) {
		if out := output(name); strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
			t.Errorf("gatewayd (%s) crashed instead of reporting an error:\n%s", name, out)
		}
	}
	if got := rep.exits["check"]; got != "0" {
		t.Errorf("gatewayd -check with pins that exist: exit status %q, want 0\n%s", got, output("check"))
	}
	if got := rep.exits["check-bcmnumber"]; got != "0" {
		t.Errorf("gatewayd -check with GPIO4, a line the device tree names GPIO_GCLK: exit status %q, want 0\n%s", got, output("check-bcmnumber"))
	}
	for _, run := range []struct {
		name, what string
		want       []*regexp.Regexp
	}{
		{"check-wrongpin", "gatewayd -check with pin GPIO99", []*regexp.Regexp{regexp.MustCompile(`GPIO99`)}},
		{"wrongpin", "gatewayd with pin GPIO99",
			[]*regexp.Regexp{regexp.MustCompile(`GPIO99`), regexp.MustCompile(`(?i)does not exist|not found|no such`)}},
		{"busy", "gatewayd with GPIO22 held by another program",
			[]*regexp.Regexp{regexp.MustCompile(`GPIO22`), regexp.MustCompile(`(?i)busy|in use`), regexp.MustCompile(`pitest-holder`)}},
	} {
		if got := rep.exits[run.name]; got != "1" {
			t.Errorf("%s: exit status %q, want 1\n%s", run.what, got, output(run.name))
		}
		noCrash(run.name)
		for _, re := range run.want {
			if !re.MatchString(output(run.name)) {
				t.Errorf("%s: output does not match %q:\n%s", run.what, re, output(run.name))
			}
		}
	}
	want := gpioLine{Name: "GPIO22", Consumer: "pitest-holder", Dir: "out", Value: "lo"}
	if got := rep.gpio["busy"]["GPIO22"]; got != want {
		t.Errorf("before the busy start: kernel shows %v, want %v", got, want)
	}
	if got := rep.gpio["busy-after"]["GPIO22"]; got != want {
		t.Errorf("after gatewayd failed on the busy line: kernel shows %v, want the holder's %v", got, want)
	}
}

// crossBuild builds pkg for linux/arm64 into dir and returns the binary's path.
func crossBuild(t *testing.T, dir, pkg string) string {
	t.Helper()
	out, err := gatewaytest.Build(dir, pkg, gatewaytest.BuildOptions{
		Env:   []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"},
		Flags: []string{"-trimpath"},
	})
	if err != nil {
		t.Fatalf("for linux/arm64: %v", err)
	}
	return out
}

// writeInitrd builds the guest's whole root file system.
func writeInitrd(dst, busybox, gatewayd, holdline string) error {
	a, err := newInitramfs(dst)
	if err != nil {
		return err
	}
	for _, d := range []string{"bin", "dev", "etc", "etc/pitest", "proc", "sys", "tmp"} {
		a.Dir(d)
	}
	// The kernel opens /dev/console for /init before devtmpfs is mounted.
	a.CharDev("dev/console", 5, 1)
	a.File("init", 0o755, guestInit)
	for name, src := range map[string]string{"bin/busybox": busybox, "bin/gatewayd": gatewayd, "bin/holdline": holdline} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		a.File(name, 0o755, b)
	}
	for name, conf := range map[string]string{"main": mainConfig, "wrongpin": wrongPinConfig, "busy": busyConfig, "bcmnumber": bcmNumberConfig} {
		a.File("etc/pitest/"+name+".yaml", 0o644, []byte(conf))
	}
	return a.Close()
}

// keepConsole leaves the last run's console log in the cache directory, for
// reading after the test's temporary directory is gone.
func keepConsole(t *testing.T, log []byte) {
	dir, err := cacheDir()
	if err != nil {
		return
	}
	p := filepath.Join(dir, "console.log")
	if err := os.WriteFile(p, log, 0o644); err != nil {
		t.Logf("keeping the console log: %v", err)
		return
	}
	t.Logf("serial console log: %s", p)
}
