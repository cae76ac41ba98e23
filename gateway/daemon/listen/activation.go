package listen

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// firstFD is SD_LISTEN_FDS_START: systemd passes its sockets from fd 3 on.
const firstFD = 3

// maxFDs bounds LISTEN_FDS. A socket unit passes a handful; a larger count
// is a broken environment, and believing it would wrap file descriptors.
const maxFDs = 1024

// Sockets returns the stream sockets systemd passed (socket activation),
// or else one new listener on addr. activated says which.
func Sockets(addr string) (ls []net.Listener, activated bool, err error) {
	n, err := activation(os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getpid())
	// The variables describe this process's descriptors only: a child we
	// start must not believe they are its own, as sd_listen_fds(1) does.
	for _, v := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if err != nil {
		return nil, true, err
	}
	if n == 0 {
		l, err := TCP(addr)
		if err != nil {
			return nil, false, err
		}
		return []net.Listener{l}, false, nil
	}
	for fd := firstFD; fd < firstFD+n; fd++ {
		// Children we start must not inherit the sockets.
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener holds its own duplicate
		if err != nil {
			continue // a datagram or FIFO socket: not ours to serve
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, true, errors.New("systemd passed no stream socket (LISTEN_FDS is set); check gatewayd.socket")
	}
	return ls, true, nil
}

// activation reads systemd's socket-activation variables for process pid:
// how many sockets, from fd 3 on, are ours. 0 means no activation
// (LISTEN_FDS unset), and the daemon binds its own socket. Set but
// unusable is an error rather than a silent bind, because a daemon started
// by gatewayd.socket that binds on its own fights the socket unit for the
// port.
func activation(listenPID, listenFDs string, pid int) (int, error) {
	if listenFDs == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(listenFDs)
	if err != nil || n < 1 || n > maxFDs {
		return 0, fmt.Errorf("systemd passed no stream socket: LISTEN_FDS=%q is not a count from 1 to %d; check gatewayd.socket", listenFDs, maxFDs)
	}
	if listenPID == "" {
		return 0, errors.New("systemd passed no stream socket: LISTEN_FDS is set without LISTEN_PID; check gatewayd.socket")
	}
	p, err := strconv.Atoi(listenPID)
	if err != nil || p != pid {
		return 0, fmt.Errorf("systemd passed no stream socket: LISTEN_PID=%q is not this process (%d); the sockets were meant for another", listenPID, pid)
	}
	return n, nil
}
