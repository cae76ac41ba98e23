// Command gatewayd is the gateway daemon: a multi-client TCP echo server
// that lights GPIO LEDs on a Raspberry Pi as clients connect and talk.
//
// See README.md at the top of the repository for its flags, configuration
// and operation under systemd.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	os.Exit(exitCode(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// usageError is a mistake on the command line: exit status 2. shown means
// it was already printed.
type usageError struct {
	err   error
	shown bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode prints err, if any, and maps it to the contract's exit status.
func exitCode(err error, stderr io.Writer) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		if !usage.shown {
			fmt.Fprintln(stderr, "gatewayd:", err)
		}
		return 2
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintln(stderr, "gatewayd:", err)
		return 1
	}
}

// errReported means the failure was already told to the user in full.
var errReported = errors.New("failed")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gatewayd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "read the configuration from `FILE` instead of the built-in default")
	check := fs.Bool("check", false, "validate the configuration (and the GPIO pins) and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gatewayd [-config FILE] [-check] [-version]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h: the usage was asked for and shown
		}
		return usageError{err: err, shown: true} // the flag package said it
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *showVersion {
		fmt.Fprintf(stdout, "gatewayd %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	// SIGHUP's default action is to end the process: catch it before
	// anything else, so a reload that comes early is never fatal.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errReported
	}
	if *check {
		return checkConfig(cfg, stdout, stderr)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, cfg, *configPath, hup, stderr)
}
