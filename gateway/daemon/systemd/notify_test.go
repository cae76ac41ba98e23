package systemd

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"400000", "", 200 * time.Millisecond},
		{"400000", "1", 0}, // another process's watchdog
		{"nonsense", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		if got := WatchdogInterval(); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tc.usec, tc.pid, got, tc.want)
		}
	}
}

// TestNotifierSends reads what systemd would from NOTIFY_SOCKET.
func TestNotifierSends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	var n Notifier
	for _, tc := range []struct {
		send func()
		want string
	}{
		{n.Ready, "READY=1"},
		{func() { n.Status("1 client, 2 messages") }, "STATUS=1 client, 2 messages"},
		{n.Watchdog, "WATCHDOG=1"},
		{n.Reloading, "RELOADING=1\nMONOTONIC_USEC="},
		{n.Stopping, "STOPPING=1"},
	} {
		tc.send()
		buf := make([]byte, 512)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:k]); !strings.HasPrefix(got, tc.want) {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
