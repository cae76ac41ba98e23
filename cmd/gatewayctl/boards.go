package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// boardsFlags defines `gatewayctl boards`: a table of the connected
// boards, from the control socket.
func boardsFlags(fs *flag.FlagSet) func(context.Context, []string, stdio) error {
	socketPath := socketFlag(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "give up on the daemon after `D`")
	return func(ctx context.Context, args []string, std stdio) error {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if len(args) > 0 && args[0] == "forget" {
			return forget(ctx, control.NewClient(socketPath()), args[1:], std)
		}
		if len(args) > 0 {
			return usageError{Err: fmt.Errorf("unexpected argument %q", args[0])}
		}
		bs, err := control.NewClient(socketPath()).Boards(ctx)
		if err != nil {
			return err
		}
		writeBoards(std.out, bs, time.Now())
		return nil
	}
}

// forget is `gatewayctl boards forget ID`: the board's Home Assistant
// discovery configs are removed from the broker.
func forget(ctx context.Context, c *control.Client, args []string, std stdio) error {
	if len(args) != 1 {
		return usageError{Err: errors.New("forget takes one board ID")}
	}
	if err := c.Forget(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "forgot %s: its Home Assistant entities are removed (a board still sending comes back)\n", args[0])
	return nil
}

// writeBoards prints one row per board; times are local, last seen is how
// long ago.
func writeBoards(w io.Writer, bs []control.Board, now time.Time) {
	if len(bs) == 0 {
		fmt.Fprintln(w, "no boards connected")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREMOTE\tCONNECTED SINCE\tIN\tOUT\tLAST SEEN\tTLS")
	for _, b := range bs {
		tls := "no"
		if b.TLS {
			tls = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", b.ID, b.Remote,
			b.Since.Local().Format(time.DateTime), b.MessagesIn, b.MessagesOut, ago(now.Sub(b.LastSeen)), tls)
	}
	tw.Flush()
}

// ago says how long ago, to the second.
func ago(d time.Duration) string {
	if d < time.Second {
		return "now"
	}
	return d.Truncate(time.Second).String() + " ago"
}
