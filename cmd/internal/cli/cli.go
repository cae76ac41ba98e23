// Package cli holds what gatewayd and gatewayctl share at the command
// line: the usage-error type and the mapping of errors to exit statuses
// (0 ok, 1 runtime error, 2 usage error).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// UsageError is a mistake on the command line: exit status 2.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// ErrReported means the failure was already shown to the user in full
// (flag's own message and usage, a list of config problems), so ExitCode
// prints nothing more.
var ErrReported = errors.New("failed")

// ExitCode prints err, if any and not already shown, prefixed with the
// program's name, and returns the exit status for it.
func ExitCode(prog string, err error, stderr io.Writer) int {
	var usage UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, ErrReported) {
			fmt.Fprintln(stderr, prog+":", err)
		}
		return 2
	case errors.Is(err, ErrReported):
		return 1
	default:
		fmt.Fprintln(stderr, prog+":", err)
		return 1
	}
}
