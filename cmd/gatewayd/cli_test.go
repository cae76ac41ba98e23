package main

import (
	"net"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func TestVersion(t *testing.T) {
	out, _, code := runOnce(t, "-version")
	if code != 0 || !strings.HasPrefix(out, "gatewayd ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit") {
		t.Fatalf("-version = %q, exit %d; want version, commit and Go version, exit 0", out, code)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"-nosuchflag"}, {"extra-argument"}, {"-config"}} {
		_, stderr, code := runOnce(t, args...)
		if code != 2 {
			t.Errorf("gatewayd %v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if !strings.Contains(stderr, "usage: gatewayd") {
			t.Errorf("gatewayd %v: stderr %q does not show the usage", args, stderr)
		}
	}
}

func TestHelpExits0AndBadFlagSaysItOnce(t *testing.T) {
	_, stderr, code := runOnce(t, "-h")
	if code != 0 || !strings.Contains(stderr, "usage: gatewayd") {
		t.Errorf("-h: exit %d, stderr %q; want the usage and exit 0", code, stderr)
	}
	_, stderr, _ = runOnce(t, "-bogus")
	if n := strings.Count(stderr, "-bogus"); n != 1 {
		t.Errorf("-bogus named %d times in %q; want once", n, stderr)
	}
}

// TestEarlySIGHUPIsNotFatal: a reload sent while the daemon is still
// starting (its first log line is out, it is not listening yet) must not
// kill it, which is SIGHUP's default action.
func TestEarlySIGHUPIsNotFatal(t *testing.T) {
	for range 3 {
		p := start(t, nil, "-config", writeConfig(t, quietConfig))
		p.waitLog(`msg="configuration loaded"`)
		p.signal(syscall.SIGHUP)
		p.addr()
		p.stop()
	}
}

func TestCheck(t *testing.T) {
	good := writeConfig(t, quietConfig)
	bad := writeConfig(t, `listen: "127.0.0.1:99999"
framing: lines
limits:
  max_clients: many
  idle_timeout: 5x
allow: ["10.0.0.0/33"]
gpio:
  drivr: sim
`)
	periph := writeConfig(t, "gpio:\n  driver: periph\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrRx []string
	}{
		{"built-in default", []string{"-check"}, 0, "config OK\n", nil},
		{"good file", []string{"-check", "-config", good}, 0, "config OK\n", nil},
		{"every problem at once", []string{"-check", "-config", bad}, 1, "", []string{
			regexp.QuoteMeta(bad) + `:1: listen: .*port`,
			regexp.QuoteMeta(bad) + `:2: framing: must be raw or line`,
			regexp.QuoteMeta(bad) + `:4: limits.max_clients: want a whole number`,
			regexp.QuoteMeta(bad) + `:5: limits.idle_timeout: .*not a duration`,
			regexp.QuoteMeta(bad) + `:6: allow\[0\]: .*not a CIDR`,
			regexp.QuoteMeta(bad) + `:8: gpio.drivr: unknown key \(did you mean "driver"\?\)`,
		}},
		{"missing file", []string{"-check", "-config", "/nonexistent/gatewayd.yaml"}, 1, "", []string{`/nonexistent/gatewayd.yaml: no such file`}},
	}
	if len(gpioChipPathsForTest()) == 0 {
		tests = append(tests, struct {
			name     string
			args     []string
			code     int
			stdout   string
			stderrRx []string
		}{"periph without GPIO lines", []string{"-check", "-config", periph}, 0, "config OK\n", []string{`^warning: the pins could not be verified on this host: gpio: this host has no GPIO lines`}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runOnce(t, tt.args...)
			if code != tt.code || stdout != tt.stdout {
				t.Fatalf("exit %d, stdout %q; want exit %d, stdout %q\nstderr: %s", code, stdout, tt.code, tt.stdout, stderr)
			}
			for _, rx := range tt.stderrRx {
				if !regexp.MustCompile("(?m)" + rx).MatchString(stderr) {
					t.Errorf("stderr does not match %q:\n%s", rx, stderr)
				}
			}
			if tt.code == 0 && len(tt.stderrRx) == 0 && stderr != "" {
				t.Errorf("unexpected stderr: %s", stderr)
			}
		})
	}
}

func TestBadConfigExits1NamingTheProblem(t *testing.T) {
	path := writeConfig(t, "listen: \"127.0.0.1:0\"\nlog:\n  level: loud\n")
	_, stderr, code := runOnce(t, "-config", path)
	if code != 1 || !strings.Contains(stderr, path+":3: log.level: must be debug, info, warn or error") {
		t.Fatalf("exit %d, stderr %q; want 1 and the file, line and key", code, stderr)
	}
}

func TestPortInUseIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	path := writeConfig(t, "listen: \""+l.Addr().String()+"\"\ngpio:\n  driver: none\n")
	_, stderr, code := runOnce(t, "-config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := "cannot listen on " + l.Addr().String() + ": address already in use"
	var errLines []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.Contains(line, "level=ERROR") {
			errLines = append(errLines, line)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], want) {
		t.Fatalf("error lines %q; want one naming %q\nstderr: %s", errLines, want, stderr)
	}
}
