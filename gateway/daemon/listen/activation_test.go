package listen

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestActivation(t *testing.T) {
	const pid = 4242
	for _, tc := range []struct {
		listenPID, listenFDs string
		want                 int
		wantErr              string // a part of the one-line error; "" = none
	}{
		{"", "", 0, ""},
		{"4242", "", 0, ""}, // LISTEN_PID alone: nothing passed
		{"4242", "1", 1, ""},
		{"4242", "3", 3, ""},
		{"4242", "1024", 1024, ""},
		{"4242", "1025", 0, `LISTEN_FDS="1025" is not a count`},
		{"4242", "0", 0, `LISTEN_FDS="0" is not a count`},
		{"4242", "-1", 0, `LISTEN_FDS="-1" is not a count`},
		{"4242", "two", 0, `LISTEN_FDS="two" is not a count`},
		{"4242", "99999999999999999999", 0, "is not a count"},
		{"", "1", 0, "without LISTEN_PID"},
		{"4243", "1", 0, `LISTEN_PID="4243" is not this process (4242)`},
		{"x", "1", 0, `LISTEN_PID="x" is not this process`},
	} {
		got, err := activation(tc.listenPID, tc.listenFDs, pid)
		if got != tc.want {
			t.Errorf("activation(%q, %q) = %d, want %d", tc.listenPID, tc.listenFDs, got, tc.want)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("activation(%q, %q): %v, want no error", tc.listenPID, tc.listenFDs, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("activation(%q, %q) error = %v, want one containing %q", tc.listenPID, tc.listenFDs, err, tc.wantErr)
		}
	}
}

// FuzzActivation: whatever the environment holds, the count is in range,
// an error is one line, and a count is given only with this process's pid.
func FuzzActivation(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"4242", "1"}, {"4242", "0"}, {"+4242", "+2"}, {"4242", "1025"}, {"1", "1"}, {"4242", "\n"}, {"4242", " 1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, listenPID, listenFDs string) {
		n, err := activation(listenPID, listenFDs, 4242)
		if n < 0 || n > maxFDs {
			t.Fatalf("activation(%q, %q) = %d: out of 0..%d", listenPID, listenFDs, n, maxFDs)
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("activation(%q, %q) = %d with error %v", listenPID, listenFDs, n, err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line: %q", msg)
			}
			return
		}
		if listenFDs == "" {
			if n != 0 {
				t.Fatalf("no LISTEN_FDS but %d sockets", n)
			}
			return
		}
		if p, perr := strconv.Atoi(listenPID); perr != nil || p != 4242 {
			t.Fatalf("activation(%q, %q) = %d for another process", listenPID, listenFDs, n)
		}
		if k, kerr := strconv.Atoi(listenFDs); kerr != nil || k != n {
			t.Fatalf("activation(%q, %q) = %d, not what LISTEN_FDS says", listenPID, listenFDs, n)
		}
	})
}

// TestSocketsBinds: without LISTEN_FDS a new socket is bound.
func TestSocketsBinds(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	ls, activated, err := Sockets("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ls[0].Close()
	if activated || len(ls) != 1 {
		t.Fatalf("activated %v, %d listeners; want false, 1", activated, len(ls))
	}
}

// TestSocketsRefusesForeignPID: sockets meant for another process are an
// error, not a silent bind, and the variables are gone afterwards.
func TestSocketsRefusesForeignPID(t *testing.T) {
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()+1))
	_, activated, err := Sockets("127.0.0.1:0")
	if err == nil || !activated || !strings.Contains(err.Error(), "is not this process") {
		t.Fatalf("activated %v, err %v; want true and the pid named", activated, err)
	}
	if v, ok := os.LookupEnv("LISTEN_FDS"); ok {
		t.Errorf("LISTEN_FDS=%q still set; children would inherit it", v)
	}
}

func TestTCPErrorIsOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = TCP(l.Addr().String())
	want := "cannot listen on " + l.Addr().String() + ": address already in use (is another gatewayd running?)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if err := bindError("x", syscall.EACCES); !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("EACCES: got %q", err)
	}
	if err := bindError("x", errors.New("odd")); err.Error() != "cannot listen on x: odd" {
		t.Errorf("other: got %q", err)
	}
}
