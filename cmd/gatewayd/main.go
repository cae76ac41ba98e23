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

	"github.com/gatewayd/gatewayd/cmd/internal/cli"
)

// Set at link time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	os.Exit(cli.ExitCode("gatewayd", run(context.Background(), os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// The command-line conventions gatewayctl shares.
type usageError = cli.UsageError

// errReported means the failure was already told to the user in full.
var errReported = cli.ErrReported

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
		return usageError{Err: errReported} // the flag package said it
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
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
	return newDaemon(cfg, *configPath, stderr).run(ctx, hup)
}
