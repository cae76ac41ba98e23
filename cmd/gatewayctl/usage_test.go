package main

import (
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string // contained
	}{
		{nil, 2, "", "usage: gatewayctl"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"send"}, 2, "", "no message"},
		{[]string{"send", ""}, 2, "", "empty"},
		{[]string{"send", "-bogus", "x"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"chat", "extra"}, 2, "", "unexpected argument"},
		{[]string{"bench", "-c", "0"}, 2, "", "-c 0"},
		{[]string{"bench", "-size", "0"}, 2, "", "-size 0"},
		{[]string{"bench", "-d", "0"}, 2, "", "-d 0 needs -n"},
		{[]string{"bench", "-source", "nonsense"}, 2, "", "not an IP address"},
		{[]string{"bench", "extra"}, 2, "", "unexpected argument"},
		{[]string{"status", "extra"}, 2, "", "unexpected argument"},
		// A flag after an argument is never ignored.
		{[]string{"tell", "kitchen-1", "-socket", "/nonexistent.sock"}, 2, "", "gatewayctl tell: flag -socket after an argument"},
		{[]string{"tell", "kitchen-1", "hi", "-timeout", "1s"}, 2, "", "flag -timeout after an argument"},
		{[]string{"send", "hello", "-addr", "127.0.0.1:1"}, 2, "", "flag -addr after an argument"},
		{[]string{"boards", "x", "-socket", "y"}, 2, "", "flag -socket after an argument"},
		{[]string{"status", "x", "-addr", "y"}, 2, "", "flag -addr after an argument"},
		{[]string{"reload", "x", "-socket", "y"}, 2, "", "flag -socket after an argument"},
		{[]string{"chat", "x", "-tls"}, 2, "", "flag -tls after an argument"},
		{[]string{"bench", "x", "-n", "1"}, 2, "", "flag -n after an argument"},
		{[]string{"pki", "init", "/nonexistent/pki", "-host", "gw.local"}, 2, "", "gatewayctl pki init: flag -host after an argument"},
		{[]string{"pki", "board", "/nonexistent/pki", "kitchen-1", "-renew"}, 2, "", "gatewayctl pki board: flag -renew after an argument"},
		// One board-ID rule: no certificate for an ID the gateway refuses.
		{[]string{"pki", "board", "/nonexistent/pki", "ip-x"}, 1, "", `pki: board ID "ip-x": IDs starting with "ip-" name clients that never said hello`},
		{[]string{"send", "-hello", "ip-x", "hi"}, 2, "", `-hello: board ID "ip-x": IDs starting with "ip-"`},
		{[]string{"-version"}, 0, "gatewayctl v9.8.7-test (commit c0ffee, go", ""},
		{[]string{"help"}, 0, "bench", ""},
		{[]string{"help", "send"}, 0, "default \"127.0.0.1:65432\"", ""},
		{[]string{"help", "status"}, 0, "default \"127.0.0.1:9265\"", ""},
		{[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{[]string{"help", "pki"}, 0, "subcommands:\n  init ", ""},
		{[]string{"help", "pki", "init"}, 0, "usage: gatewayctl pki init [-renew] [-group GROUP] [-host NAME|IP]... DIR", ""},
		{[]string{"help", "pki", "board"}, 0, "-renew\n", ""},
		{[]string{"help", "pki", "nope"}, 2, "", `unknown pki subcommand "nope"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := ctl(t, nil, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q and %q", r.stdout, r.stderr, tt.stdout, tt.stderr)
			}
			if tt.code == 0 && r.stderr != "" {
				t.Errorf("stderr %q, want nothing", r.stderr)
			}
		})
	}
}
