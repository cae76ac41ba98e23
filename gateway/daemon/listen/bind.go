package listen

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// TCP listens on addr, saying in one line what is wrong when it cannot.
func TCP(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, bindError(addr, err)
	}
	return l, nil
}

// bindError says in one line what is wrong with addr. The text is the one
// the README quotes, so it carries no package prefix.
func bindError(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: address already in use (is another gatewayd running?)", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need root or socket activation)", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no such address on this host", addr)
	}
	return fmt.Errorf("cannot listen on %s: %w", addr, err)
}
