// Command gatewayctl is the client for gatewayd: it sends messages and
// prints their echoes (send, chat), load-tests a gateway while checking
// every echoed byte (bench), and summarises the daemon's status endpoint
// (status), and lists and talks to named boards through the daemon's
// control socket (boards, tell).
//
//	gatewayctl send Hello "How are you?" Goodbye
//	gatewayctl chat -addr 192.168.1.20:65432
//	gatewayctl bench -c 1000 -size 64 -d 10s
//	gatewayctl status
//	gatewayctl boards
//	gatewayctl tell kitchen-1 led on
//
// Flags come before arguments: a flag after an argument is a usage error.
// Exit status: 0 ok, 1 runtime error (and, for
// bench, any echo mismatch; for status, an unhealthy daemon), 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/gatewayd/gatewayd/cmd/internal/cli"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// Set at link time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode("gatewayctl", err, os.Stderr))
}

// The command-line conventions gatewayd shares.
type usageError = cli.UsageError

var errReported = cli.ErrReported

// command is one subcommand: its flags are defined on fs, and run gets the
// arguments left after them.
type command struct {
	name, args, summary string
	flags               func(fs *flag.FlagSet) func(ctx context.Context, args []string, io stdio) error
}

// stdio is where a command reads and writes.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

var commands = []command{
	{"send", "[-addr HOST:PORT] [-timeout D] [-tls [-ca FILE] [-cert FILE -key FILE]] [-hello ID] MESSAGE...", "send each message, print its echo", sendFlags},
	{"chat", "[-addr HOST:PORT] [-timeout D] [-tls [-ca FILE] [-cert FILE -key FILE]] [-hello ID]", "send each line of input, print the echo", chatFlags},
	{"bench", "[-addr HOST:PORT] [-c CONNS] [-size BYTES] [-d DURATION] [-n MESSAGES] [-rate R] [-json] [-tls [-ca FILE] [-cert FILE -key FILE]] [-hello ID]", "load test that verifies every echoed byte", benchFlags},
	{"status", "[-socket PATH | -addr HOST:PORT]", "the daemon's health and counters", statusFlags},
	{"boards", "[-socket PATH] [forget ID]", "the connected boards, one row each; forget removes a board from Home Assistant", boardsFlags},
	{"tell", "[-socket PATH] ID MESSAGE", "deliver a message to a connected board", tellFlags},
	{"reload", "[-socket PATH]", "have the daemon reload its configuration, and wait for the outcome", reloadFlags},
	{"queue", "dead [-socket PATH]", "the lines the MQTT broker refused (dead letters)", queueFlags},
	{"pki", "init [-renew] [-group GROUP] [-host NAME|IP]... DIR | board [-renew] DIR ID", "make the CA and certificates for TLS", pkiFlags},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: gatewayctl [-version] COMMAND [FLAGS] [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-7s %s\n\nRun 'gatewayctl help COMMAND' for a command's flags.\n", "help", "this text, or a command's flags")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatewayctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { usage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return usageError{Err: errReported}
	}
	if *showVersion {
		fmt.Fprintf(stdout, "gatewayctl %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	if fs.NArg() == 0 {
		usage(stderr)
		return usageError{Err: errReported}
	}
	name, args := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		return help(args, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args, stdio{stdin, stdout, stderr})
		}
	}
	fmt.Fprintf(stderr, "gatewayctl: unknown command %q\n", name)
	usage(stderr)
	return usageError{Err: errReported}
}

// help prints the overview, or one command's flags, on stdout.
func help(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stdout)
		return nil
	}
	if h, ok := subcommandHelp[args[0]]; ok {
		return h(args[1:], stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			fs := c.flagSet(stdout)
			c.flags(fs)
			fs.Usage()
			return nil
		}
	}
	fmt.Fprintf(stderr, "gatewayctl: unknown command %q\n", args[0])
	usage(stderr)
	return usageError{Err: errReported}
}

// subcommandHelp gives the help of a command made of subcommands, which
// has no flags of its own: `help CMD` lists the subcommands, `help CMD SUB`
// prints SUB's flags.
var subcommandHelp = map[string]func(args []string, stdout, stderr io.Writer) error{
	"pki":   pkiHelp,
	"queue": queueHelp,
}

func (c command) flagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gatewayctl %s %s\n\n%s.\n\n", c.name, c.args, upperFirst(c.summary))
		fs.PrintDefaults()
	}
	return fs
}

func (c command) run(ctx context.Context, args []string, std stdio) error {
	fs := c.flagSet(std.errOut)
	runCmd := c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return usageError{Err: errReported} // flag has printed the problem and the usage
	}
	// A command made of subcommands checks each subcommand's own flags.
	if _, sub := subcommandHelp[c.name]; !sub {
		if err := flagAfterArgument(fs, args); err != nil {
			fmt.Fprintf(std.errOut, "gatewayctl %s: %v\n", c.name, err)
			fs.Usage()
			return usageError{Err: errReported}
		}
	}
	err := runCmd(ctx, fs.Args(), std)
	var usage usageError
	if errors.As(err, &usage) && !errors.Is(err, errReported) {
		fmt.Fprintf(std.errOut, "gatewayctl %s: %v\n", c.name, usage.Err)
		fs.Usage()
		return usageError{Err: errReported}
	}
	return err
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
