package main

import (
	"flag"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// socketFlag defines -socket and returns where the control socket is:
// the flag, else $GATEWAYD_SOCKET, else where gatewayd puts it by default
// (control.Env.ClientPath: the daemon follows the same rule).
func socketFlag(fs *flag.FlagSet) func() string {
	s := fs.String("socket", "", "the daemon's control socket, `PATH` (default: $"+control.SocketEnv+", else "+control.DefaultSocket+" under systemd, else $XDG_RUNTIME_DIR/gatewayd/gatewayd.sock, else ./gatewayd.sock)")
	return func() string { return control.Env{}.ClientPath(*s) }
}
