package main

import (
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSeedLab runs the Python TCP lab's own clients, unchanged
// (testdata/client.py and client_multi.py), against gatewayd with no
// flags, on the lab's address, and checks both sides' expected output.
func TestSeedLab(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; the lab's clients need it")
	}
	if l, err := net.Listen("tcp", "127.0.0.1:65432"); err != nil {
		t.Skipf("the lab's port 127.0.0.1:65432 is taken on this host: %v", err)
	} else {
		l.Close()
	}
	p := start(t, nil) // no flags: the built-in default configuration
	if got := p.addr(); got != "127.0.0.1:65432" {
		t.Fatalf("listening on %s, want the lab's 127.0.0.1:65432", got)
	}

	run := func(script string) string {
		out, err := exec.Command(python, "testdata/"+script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	if got, want := run("client.py"), "Received from server: Hello from client!\n"; got != want {
		t.Errorf("client.py printed %q, want %q", got, want)
	}
	want := "Received from server: Hello\nReceived from server: How are you?\nReceived from server: Goodbye\n"
	if got := run("client_multi.py"); got != want {
		t.Errorf("client_multi.py printed %q, want %q", got, want)
	}

	// Several multi-message clients at once: the threaded server's case.
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			out, err := exec.Command(python, "testdata/client_multi.py").CombinedOutput()
			if err == nil && string(out) != want {
				err = &mismatch{string(out)}
			}
			errs <- err
		}()
	}
	for range 5 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent client_multi.py: %v", err)
		}
	}

	// The server side shows what the lab's server printed, as log lines.
	p.waitLog(`msg="client disconnected" remote=127\.0\.0\.1:\d+ clients=\d+`)
	for _, rx := range []string{
		`msg=listening addr=127\.0\.0\.1:65432`,
		`msg="client connected" remote=127\.0\.0\.1:\d+ clients=1`,
		`msg="client disconnected" remote=127\.0\.0\.1:\d+ clients=0`,
	} {
		if !regexp.MustCompile(rx).MatchString(p.logs()) {
			t.Errorf("log lacks %s", rx)
		}
	}
	if n := p.countLog(`msg="client connected"`); n != 7 {
		t.Errorf("%d connects logged, want 7", n)
	}
	p.stop()
}

type mismatch struct{ got string }

func (m *mismatch) Error() string { return "printed " + m.got }

// TestWrongPort is the lab's question 3: a client dialling a port where
// nothing listens is refused at once.
func TestWrongPort(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, quietConfig))
	addr := p.addr()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err := net.DialTimeout("tcp", closed, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("dialing a closed port: %v, want connection refused", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("refusal took %v", time.Since(start))
	}
	if got := echo(t, addr, "right port"); got != "right port" {
		t.Errorf("echo = %q", got)
	}
	p.stop()
}

// TestDebugLogsPayload: at debug level every message is logged with its
// size and its first 64 bytes, quoted Go-style even when plain.
func TestDebugLogsPayload(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, quietConfig+"log:\n  level: debug\n"))
	addr := p.addr()
	echo(t, addr, "hello")
	long := strings.Repeat("a", 100) + "\x00"
	echo(t, addr, long)
	p.waitLog(`msg=received remote=127\.0\.0\.1:\d+ bytes=5 data="hello"`)
	p.waitLog(`msg=received remote=127\.0\.0\.1:\d+ bytes=101 data="` + strings.Repeat("a", 64) + `"\n`)
	p.stop()
}

// TestInfoHidesPayload: payloads never reach the log at info level.
func TestInfoHidesPayload(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, quietConfig))
	echo(t, p.addr(), "secret-payload")
	p.stop()
	if strings.Contains(p.logs(), "secret-payload") || strings.Contains(p.logs(), "msg=received") {
		t.Errorf("payload logged at info level:\n%s", p.logs())
	}
}

func TestJSONLogsAndJournalTimestamps(t *testing.T) {
	p := start(t, []string{"JOURNAL_STREAM=8:1234"}, "-config", writeConfig(t, quietConfig+"log:\n  format: json\n"))
	p.waitLog(`"msg":"listening","addr":"127\.0\.0\.1:\d+"`)
	p.stop()
	if strings.Contains(p.logs(), `"time"`) {
		t.Errorf("timestamps logged under journald:\n%s", p.logs())
	}
	q := start(t, nil, "-config", writeConfig(t, quietConfig))
	q.waitLog(`^time=\S+ level=INFO`)
	q.stop()
}
