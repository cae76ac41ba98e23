package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gatewayd/gatewayd/gateway/control"
)

// queueFlags defines `gatewayctl queue`, made of subcommands; `queue dead`
// prints the lines the MQTT broker refused, as BOARD LINE, one per line.
func queueFlags(*flag.FlagSet) func(context.Context, []string, stdio) error {
	return func(ctx context.Context, args []string, std stdio) error {
		if len(args) == 0 {
			return usageError{Err: errors.New("no subcommand: dead")}
		}
		if args[0] != "dead" {
			return usageError{Err: fmt.Errorf("unknown subcommand %q: dead", args[0])}
		}
		return queueDead(ctx, args[1:], std)
	}
}

// queueDeadFlags are `queue dead`'s flags.
func queueDeadFlags(fs *flag.FlagSet) (socket *string, timeout *time.Duration) {
	socket = fs.String("socket", control.DefaultSocket, "the daemon's control socket, `PATH` (control)")
	timeout = fs.Duration("timeout", 5*time.Second, "give up on the daemon after `D`")
	return socket, timeout
}

func queueDead(ctx context.Context, args []string, std stdio) error {
	fs := flag.NewFlagSet("queue dead", flag.ContinueOnError)
	fs.SetOutput(std.errOut)
	socket, timeout := queueDeadFlags(fs)
	fs.Usage = func() { queueDeadUsage(fs) }
	if err := fs.Parse(args); err != nil {
		return usageError{Err: errReported}
	}
	if fs.NArg() > 0 {
		return usageError{Err: fmt.Errorf("unexpected argument %q (flags come before arguments)", fs.Arg(0))}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	dl, err := control.NewClient(*socket).DeadLetters(ctx)
	if err != nil {
		return err
	}
	return writeDeadLetters(std.out, dl)
}

// writeDeadLetters prints BOARD LINE, one per line, the line's bytes as
// the board sent them.
func writeDeadLetters(w io.Writer, dl []control.DeadLetter) error {
	bw := bufio.NewWriter(w)
	for _, d := range dl {
		bw.WriteString(d.Board)
		bw.WriteByte(' ')
		bw.Write(d.Line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func queueDeadUsage(fs *flag.FlagSet) {
	fmt.Fprintf(fs.Output(), "usage: gatewayctl queue dead [-socket PATH] [-timeout D]\n\nPrint the lines the MQTT broker refused (moved to QUEUE_DIR/dead-letter), as BOARD LINE, one per line.\n\n")
	fs.PrintDefaults()
}

// queueHelp prints queue's subcommands, or `queue dead`'s flags.
func queueHelp(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stdout, "usage: gatewayctl queue dead [-socket PATH]\n\nThe MQTT bridge's queue.\n\nsubcommands:\n  dead    the lines the broker refused, as BOARD LINE\n")
		return nil
	}
	if args[0] != "dead" {
		fmt.Fprintf(stderr, "gatewayctl: unknown subcommand %q of queue: dead\n", args[0])
		return usageError{Err: errReported}
	}
	fs := flag.NewFlagSet("queue dead", flag.ContinueOnError)
	fs.SetOutput(stdout)
	queueDeadFlags(fs)
	queueDeadUsage(fs)
	return nil
}
