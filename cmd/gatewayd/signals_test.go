package main

import (
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMWith100Clients: every connected client gets the echo of what
// it sent, then EOF; the daemon exits 0 well within shutdown_timeout.
func TestSIGTERMWith100Clients(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, quietConfig+"shutdown_timeout: 10s\n"))
	addr := p.addr()
	conns := make([]net.Conn, 100)
	for i := range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	p.waitLog(`clients=100`)
	for _, c := range conns {
		io.WriteString(c, "bye")
	}
	var wg sync.WaitGroup
	got := make([]string, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			b, _ := io.ReadAll(c) // until the daemon's EOF
			got[i] = string(b)
			c.Close() // as a client does on EOF
		}()
	}
	time.Sleep(100 * time.Millisecond)
	begin := time.Now()
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	took := time.Since(begin)
	wg.Wait()
	for i, g := range got {
		if g != "bye" {
			t.Fatalf("client %d got %q before EOF, want %q", i, g, "bye")
		}
	}
	if took > 5*time.Second {
		t.Errorf("shutdown with cooperative clients took %v", took)
	}
	t.Logf("SIGTERM with 100 clients: exited 0 after %v", took)
}

// TestSIGTERMCutsStubbornClients: clients that never close are cut at
// shutdown_timeout, and the exit is still 0.
func TestSIGTERMCutsStubbornClients(t *testing.T) {
	p := start(t, nil, "-config", writeConfig(t, quietConfig+"shutdown_timeout: 500ms\n"))
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.waitLog(`clients=1`)
	p.signal(syscall.SIGINT)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	p.waitLog(`cut off`)
}

// TestSIGHUP: a good file applies to new connections at once; a bad one
// is logged with its problems and changes nothing.
func TestSIGHUP(t *testing.T) {
	path := writeConfig(t, quietConfig)
	p := start(t, nil, "-config", path)
	addr := p.addr()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	p.waitLog(`clients=1`)

	// Good: at most one client, and debug logging.
	os.WriteFile(path, []byte(quietConfig+"limits:\n  max_clients: 1\nlog:\n  level: debug\n"), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog(`msg="configuration reloaded"`)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("second client read %d, %v; want it closed under max_clients: 1", n, err)
	}
	p.waitLog(`msg="client rejected" remote=\S+ reason=max_clients`)
	io.WriteString(first, "ping")
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadFull(first, make([]byte, 4))
	p.waitLog(`msg=received .* data="ping"`) // debug level applied

	// Bad: logged with file, line and key; nothing changes.
	os.WriteFile(path, []byte(quietConfig+"limits:\n  max_clients: -3\n  idle_timout: 1s\n"), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog(`msg="reload failed; configuration unchanged"`)
	for _, want := range []string{path + ":6: limits.max_clients: must be 0 (no limit) or more", path + ":7: limits.idle_timout: unknown key"} {
		p.waitLog(`msg="config problem" problem="` + regexp.QuoteMeta(want))
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := third.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("after a bad reload the max_clients: 1 limit should still hold")
	}

	// A changed listen needs a restart and says so.
	os.WriteFile(path, []byte(strings.Replace(quietConfig, "127.0.0.1:0", "127.0.0.1:1", 1)), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog(`listen changed; restart gatewayd to apply it`)
	first.Close()
	p.stop()
}

// TestSIGHUPAppliesLEDs: a new LED list replaces the old one; the old LED
// is driven off and the new one starts off and then works.
func TestSIGHUPAppliesLEDs(t *testing.T) {
	led := func(name, pin string) string {
		return "listen: \"127.0.0.1:0\"\ngpio:\n  driver: sim\n  leds:\n    - {name: " + name + ", pin: " + pin + ", on: clients, action: level}\n"
	}
	path := writeConfig(t, led("old", "GPIO17"))
	p := start(t, nil, "-config", path)
	addr := p.addr()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.waitLog(`msg=led name=old pin=GPIO17 state=on`)

	os.WriteFile(path, []byte(led("new", "GPIO22")), 0o644)
	p.signal(syscall.SIGHUP)
	p.waitLog(`msg="LEDs applied" driver=sim leds=1`)
	p.waitLog(`msg=led name=old pin=GPIO17 state=off`)
	p.waitLog(`msg=led name=new pin=GPIO22 state=on`) // a client is still connected
	c.Close()
	p.waitLog(`msg=led name=new pin=GPIO22 state=off`)
	p.stop()
}
