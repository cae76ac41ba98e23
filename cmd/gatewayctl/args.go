package main

import (
	"flag"
	"fmt"
	"strings"
)

// flagAfterArgument finds a flag written after an argument, which the
// flag package would take as one more argument and so silently ignore:
// `tell kitchen-1 -socket X` would use the default socket. args is the
// whole command line of fs, parsed already. An argument that starts with
// "-" is still possible after "--".
func flagAfterArgument(fs *flag.FlagSet, args []string) error {
	rest := fs.Args()
	if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
		return nil // "--" ended the flags: everything after is an argument
	}
	for _, a := range rest {
		if a == "--" {
			return nil
		}
		if len(a) > 1 && strings.HasPrefix(a, "-") {
			return fmt.Errorf("flag %s after an argument: flags come first (or put -- before an argument that starts with -)", a)
		}
	}
	return nil
}
