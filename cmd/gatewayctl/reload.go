package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// reloadFlags defines `gatewayctl reload`: have the daemon read its
// configuration file again, and wait for the outcome. It is the unit's
// ExecReload=, so `systemctl reload gatewayd` fails, with the problems,
// when the new file is bad, instead of succeeding while the daemon only
// logs them.
func reloadFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	socketPath := socketFlag(fs)
	timeout := fs.Duration("timeout", time.Minute, "give up on the daemon after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if err := control.NewClient(socketPath()).Reload(ctx); err != nil {
			return err
		}
		fmt.Fprintln(std.out, "configuration reloaded")
		return nil
	}
}
