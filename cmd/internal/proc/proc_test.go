package proc

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rx := regexp.MustCompile(`listening addr=(\S+)`)
	tests := []struct {
		name     string
		spec     Spec
		wantAddr string
		wantErr  string // in the error; "" for none
	}{
		{"logs its address after other lines",
			Spec{Name: "logger", Argv: []string{"sh", "-c", "echo starting; echo 'msg=listening addr=127.0.0.1:4242'; echo more; exec sleep 30"}, ListenRx: rx},
			"127.0.0.1:4242", ""},
		{"accepts on its address",
			Spec{Name: "acceptor", Argv: []string{"sleep", "30"}, Addr: l.Addr().String()},
			l.Addr().String(), ""},
		{"exits first, with its reason",
			Spec{Name: "refuser", Argv: []string{"sh", "-c", "echo 'config.yaml:3: unknown key \"mqtt\"' >&2; exit 1"}, ListenRx: rx},
			"", `refuser exited before listening:
config.yaml:3: unknown key "mqtt"`},
		{"never listens",
			Spec{Name: "mute", Argv: []string{"sleep", "30"}, ListenRx: rx, Ready: 200 * time.Millisecond},
			"", "mute did not listen within 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Start(context.Background(), tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Start: got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			if p.Addr != tt.wantAddr {
				t.Errorf("got address %q, want %q", p.Addr, tt.wantAddr)
			}
			if _, err := p.CPUTime(); err != nil {
				t.Errorf("CPUTime: %v", err)
			}
		})
	}
}

// A child that burns CPU, as the benchmarks measure their servers: not the
// test process itself, whose /proc/self/stat qemu-user fakes (with zero CPU
// time) when the suite runs emulated.
func TestCPUTimeAndRSS(t *testing.T) {
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30`)
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh to measure: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	var cpu time.Duration
	var err error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cpu, err = CPUTime(pid); err != nil || cpu > 0 {
			break
		}
	}
	if err != nil || cpu <= 0 {
		t.Errorf("CPUTime(busy child) = %v, %v; want > 0", cpu, err)
	}
	rss, err := RSS(pid)
	if err != nil || rss <= 0 {
		t.Errorf("RSS(busy child) = %v, %v; want > 0", rss, err)
	}
}

// A child that sleeps and wakes 20 times gives up its CPU at least that
// often; a pid that is not there is an error.
func TestContextSwitches(t *testing.T) {
	cmd := exec.Command("sh", "-c", `sleep 0.3; i=0; while [ $i -lt 20 ]; do sleep 0.01; i=$((i+1)); done; exec sleep 30`)
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh to measure: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := cmd.Process.Pid
	before, err := ContextSwitches(pid)
	if err != nil {
		t.Fatalf("ContextSwitches: %v", err)
	}
	var after uint64
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		// The shell waits for each sleep it forks: a switch per sleep.
		if after, err = ContextSwitches(pid); err != nil || after >= before+20 {
			break
		}
	}
	if err != nil || after < before+20 {
		t.Errorf("ContextSwitches went from %d to %d (%v); want 20 more", before, after, err)
	}
	if _, err := ContextSwitches(1 << 30); err == nil {
		t.Error("ContextSwitches of no process: no error")
	}
}
