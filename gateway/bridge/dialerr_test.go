package bridge

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// The errors are built as net.Dialer builds them (net/fd_unix.go: connect
// fails with os.NewSyscallError("connect", errno); a deadline with
// os.ErrDeadlineExceeded, its Timeout() true; both wrapped in an OpError
// naming the remote address).
func TestDialError(t *testing.T) {
	dialErr := func(ip string, err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1883}, Err: err}
	}
	eperm := os.NewSyscallError("connect", syscall.EPERM)
	timeout := os.ErrDeadlineExceeded
	tests := []struct {
		name         string
		err          error
		underSystemd bool
		want         []string // nil: unchanged
	}{
		{"EPERM", dialErr("203.0.113.10", eperm), false, []string{"operation not permitted", "refused by this machine", "IPAddressAllow=", "cloud-broker.conf"}},
		{"timeout to a public address under systemd", dialErr("203.0.113.10", timeout), true, []string{"i/o timeout", "drops traffic to addresses outside the LAN", "IPAddressAllow="}},
		{"timeout by hand", dialErr("203.0.113.10", timeout), false, nil},
		{"timeout to the LAN", dialErr("192.168.1.5", timeout), true, nil},
		{"refused", dialErr("127.0.0.1", os.NewSyscallError("connect", syscall.ECONNREFUSED)), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explainDial("broker:1883", tt.err, tt.underSystemd)
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("became %q", got)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("%v no longer wraps %v", got, tt.err)
			}
		})
	}
	if explainDial("x", nil, true) != nil {
		t.Errorf("nil became an error")
	}
}
