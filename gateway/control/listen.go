package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// SocketMode is the control socket's permission bits: the daemon's user
// and group may talk to it, nobody else.
const SocketMode = 0o660

// Listen creates the control socket at path with mode SocketMode and the
// process's group. A socket file left by a daemon that is gone is
// replaced; a path where another process is listening, or a file that is
// not a socket, is refused, since removing either would break something.
// The socket file is removed when the listener is closed.
func Listen(path string) (net.Listener, error) {
	if err := clearStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: listen on %q: %w", path, err)
	}
	// The mode is set explicitly: under systemd the umask (UMask=0077)
	// would leave the group out.
	if err := os.Chmod(path, SocketMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("control: %q: %w", path, err)
	}
	return l, nil
}

// clearStale removes a socket file at path that nothing listens on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control: %q: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control: %q exists and is not a socket: remove it or set control to another path", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control: %q is in use: is another gatewayd running? Stop it or set control to another path", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control: %q exists and cannot be checked: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control: removing the stale socket %q: %w", path, err)
	}
	return nil
}
