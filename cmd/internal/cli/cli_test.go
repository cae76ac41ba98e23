package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"ok", nil, 0, ""},
		{"runtime error", errors.New("boom"), 1, "prog: boom\n"},
		{"already reported", fmt.Errorf("config: %w", ErrReported), 1, ""},
		{"usage", UsageError{errors.New("unexpected argument \"x\"")}, 2, "prog: unexpected argument \"x\"\n"},
		{"usage already shown", UsageError{ErrReported}, 2, ""},
		{"help", UsageError{flag.ErrHelp}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := ExitCode("prog", tt.err, &stderr); got != tt.code || stderr.String() != tt.stderr {
				t.Errorf("ExitCode = %d, stderr %q; want %d, %q", got, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}
