package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatewayd/gatewayd/gateway/pki"
)

// pkiFlags defines `gatewayctl pki init|board`, the front end to package
// pki: certificates for TLS in one command, and the lines to paste into a
// board's configuration.
func pkiFlags(*flag.FlagSet) func(context.Context, []string, stdio) error {
	return func(_ context.Context, args []string, std stdio) error {
		if len(args) == 0 {
			return usageError{Err: errors.New("no subcommand: init or board")}
		}
		switch args[0] {
		case "init":
			return pkiInit(args[1:], std)
		case "board":
			return pkiBoard(args[1:], std)
		}
		return usageError{Err: fmt.Errorf("unknown subcommand %q: init or board", args[0])}
	}
}

// pkiSubcommands are pki's subcommands, for its help.
var pkiSubcommands = []struct {
	name, summary string
	run           func([]string, stdio) error
}{
	{"init", "a CA and a server certificate for gatewayd", pkiInit},
	{"board", "a certificate and key for one board, from that CA", pkiBoard},
}

// pkiHelp prints pki's subcommands, or with SUB one subcommand's usage and
// flags, on stdout.
func pkiHelp(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		for _, c := range commands {
			if c.name == "pki" {
				fmt.Fprintf(stdout, "usage: gatewayctl pki %s\n\n%s.\n\nsubcommands:\n", c.args, upperFirst(c.summary))
			}
		}
		for _, s := range pkiSubcommands {
			fmt.Fprintf(stdout, "  %-7s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(stdout, "\nRun 'gatewayctl help pki SUBCOMMAND' for a subcommand's flags.\n")
		return nil
	}
	for _, s := range pkiSubcommands {
		if s.name == args[0] {
			// -h makes the subcommand print its usage and flags, and
			// nothing else; here that is the answer, not an error.
			_ = s.run([]string{"-h"}, stdio{out: stdout, errOut: stdout})
			return nil
		}
	}
	fmt.Fprintf(stderr, "gatewayctl: unknown pki subcommand %q: init or board\n", args[0])
	return usageError{Err: errReported}
}

// pkiSubFlags is the flag set of `pki init` or `pki board`.
func pkiSubFlags(name, args, summary string, out io.Writer) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("pki "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gatewayctl pki %s %s\n\n%s\n\n", name, args, summary)
		fs.PrintDefaults()
	}
	renew := fs.Bool("renew", false, "issue a new certificate even if one exists (never a new CA)")
	return fs, renew
}

func pkiInit(args []string, std stdio) error {
	fs, renew := pkiSubFlags("init", "[-renew] [-group GROUP] [-host NAME|IP]... DIR",
		"Create DIR (if needed), a CA and a server certificate for gatewayd.\nAn existing CA is kept; so is an existing server certificate, unless -renew.", std.errOut)
	var hosts []string
	fs.Func("host", "a `NAME|IP` the server certificate is for; repeat for more\n(default: the host name, NAME.local, localhost and this host's addresses)", func(s string) error {
		hosts = append(hosts, s)
		return nil
	})
	group := fs.String("group", "", "let `GROUP` read DIR and server.key (dir 0750, key 0640), for the daemon running as that group\n(default: "+pki.DaemonGroup+" when DIR is "+pki.DaemonDir+", else nobody: DIR 0700)")
	if err := fs.Parse(args); err != nil {
		return usageError{Err: errReported}
	}
	if err := flagAfterArgument(fs, args); err != nil {
		fmt.Fprintf(std.errOut, "gatewayctl %s: %v\n", fs.Name(), err)
		fs.Usage()
		return usageError{Err: errReported}
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(std.errOut, "gatewayctl pki init: want one argument, DIR, got %d\n", fs.NArg())
		fs.Usage()
		return usageError{Err: errReported}
	}
	dir, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	if !flagSet(fs, "group") && dir == pki.DaemonDir {
		*group = pki.DaemonGroup
	}
	res, err := pki.Init(dir, pki.Options{Hosts: hosts, Renew: *renew, Group: *group})
	if err != nil {
		return err
	}
	w := std.out
	files(w, res, fmt.Sprintf("server certificate for %s, valid until %s", strings.Join(res.Hosts.Strings(), ", "), res.Cert.NotAfter.Format(time.DateOnly)))
	fmt.Fprintf(w, "\nIn gatewayd.yaml:\ntls:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s  # leave out to accept boards without a certificate\n",
		res.CertFile, res.KeyFile, filepath.Join(dir, pki.CACertFile))
	secrets(w, pki.BoardSecrets{CAPEM: res.CAPEM}, "boards check the gateway's certificate: set GATEWAY_HOST to one of the names above")
	fmt.Fprintf(w, "\nNext, a certificate for each board: gatewayctl pki board %s ID\n", dir)
	return nil
}

func pkiBoard(args []string, std stdio) error {
	fs, renew := pkiSubFlags("board", "[-renew] DIR ID",
		"Issue board ID's certificate (common name ID) from the CA in DIR.\nAn existing one is kept and printed again, unless -renew.", std.errOut)
	if err := fs.Parse(args); err != nil {
		return usageError{Err: errReported}
	}
	if err := flagAfterArgument(fs, args); err != nil {
		fmt.Fprintf(std.errOut, "gatewayctl %s: %v\n", fs.Name(), err)
		fs.Usage()
		return usageError{Err: errReported}
	}
	if fs.NArg() != 2 {
		fmt.Fprintf(std.errOut, "gatewayctl pki board: want two arguments, DIR and ID, got %d\n", fs.NArg())
		fs.Usage()
		return usageError{Err: errReported}
	}
	dir, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	id := fs.Arg(1)
	res, err := pki.Board(dir, id, pki.Options{Renew: *renew})
	if err != nil {
		return err
	}
	w := std.out
	files(w, res, fmt.Sprintf("board %q, valid until %s", id, res.Cert.NotAfter.Format(time.DateOnly)))
	secrets(w, pki.BoardSecrets{ID: id, CAPEM: res.CAPEM, CertPEM: res.CertPEM, KeyPEM: res.KeyPEM},
		"the board proves it is "+id+"; secrets.h and config.py now hold its private key: never commit them")
	return nil
}

// files prints what was written and what was kept, one file a line, and
// the notes.
func files(w io.Writer, res *pki.Result, certWhat string) {
	describe := func(path string) string {
		switch {
		case path == res.CertFile:
			return " (" + certWhat + ")"
		case strings.HasSuffix(path, ".key"):
			return " (readable by its owner only)"
		}
		return ""
	}
	for _, p := range res.Written {
		fmt.Fprintf(w, "wrote %s%s\n", p, describe(p))
	}
	for _, p := range res.Kept {
		fmt.Fprintf(w, "kept  %s%s\n", p, describe(p))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// secrets prints the lines for the Arduino sketch and the MicroPython
// client.
func secrets(w io.Writer, s pki.BoardSecrets, why string) {
	fmt.Fprintf(w, "\nIn the sketch's secrets.h (%s):\n%s", why, s.Arduino())
	fmt.Fprintf(w, "\nIn the MicroPython config.py:\n%s", s.MicroPython())
}
