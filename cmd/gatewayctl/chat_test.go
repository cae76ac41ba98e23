package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"
)

func TestChatEchoesEveryByte(t *testing.T) {
	_, addr := startGatewayd(t, "")
	binary := []byte("first line\n\x00\x01\xfe\xff binary\r\n")
	for i := range 4096 {
		binary = append(binary, byte(i*7))
	}
	tests := []struct {
		name  string
		stdin []byte
	}{
		{"lines", []byte("Hello\nHow are you?\nGoodbye\n")},
		{"binary, last line without LF", binary},
		{"no input", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ctl(t, tt.stdin, "chat", "-addr", addr)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			if !bytes.Equal([]byte(r.stdout), tt.stdin) {
				t.Errorf("stdout %q, want the input back %q", r.stdout, tt.stdin)
			}
		})
	}
}

func TestChatServerClosesEarly(t *testing.T) {
	// The server echoes the first 3 bytes, then hangs up.
	addr := startTCP(t, func(c net.Conn) {
		b := make([]byte, 3)
		n, _ := c.Read(b)
		_, _ = c.Write(b[:n])
	})
	r := ctl(t, []byte("abc\n"), "chat", "-addr", addr)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	oneLine(t, "stderr", r.stderr, addr, "closed the connection")
}

func TestChatServerHangsUpWhileInputIsOpen(t *testing.T) {
	addr := startTCP(t, func(c net.Conn) {}) // closes at once, in order
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close() // input stays open for as long as gatewayctl runs
	defer stdinR.Close()
	r := ctlReader(t, stdinR, "chat", "-addr", addr)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	oneLine(t, "stderr", r.stderr, addr, "closed the connection")
}

func TestChatEchoCutShortAfterInput(t *testing.T) {
	// Reads everything up to the client's half-close, echoes half, closes.
	addr := startTCP(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		_, _ = c.Write(b[:len(b)/2])
	})
	r := ctl(t, []byte("abcdefgh\n12345678\n"), "chat", "-addr", addr)
	if r.code != 1 || r.stdout != "abcdefgh\n" {
		t.Errorf("exit %d, stdout %q; want 1 and the half echoed", r.code, r.stdout)
	}
	oneLine(t, "stderr", r.stderr, addr, "closed the connection: 9 of 18 bytes of the echo came back")
}

func TestChatClosedPort(t *testing.T) {
	r := ctl(t, []byte("hi\n"), "chat", "-addr", closedAddr(t))
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	oneLine(t, "stderr", r.stderr, "cannot connect to", "connection refused")
}
