package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// listeners returns the sockets systemd passed (socket activation), or
// else a new one on addr. activated says which.
func listeners(addr string) (ls []net.Listener, activated bool, err error) {
	if os.Getenv("LISTEN_FDS") != "" {
		ls, err := activation.Listeners()
		if err != nil {
			return nil, true, fmt.Errorf("cannot use the sockets systemd passed: %w", err)
		}
		var usable []net.Listener
		for _, l := range ls {
			if l != nil {
				usable = append(usable, l)
			}
		}
		if len(usable) == 0 {
			return nil, true, errors.New("systemd passed no stream socket (LISTEN_FDS is set); check gatewayd.socket")
		}
		return usable, true, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false, listenError(addr, err)
	}
	return []net.Listener{l}, false, nil
}

// listenError says in one line what is wrong with addr.
func listenError(addr string, err error) error {
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
