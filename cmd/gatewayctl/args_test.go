package main

import (
	"flag"
	"io"
	"testing"
)

func TestFlagAfterArgument(t *testing.T) {
	tests := []struct {
		args []string
		bad  bool
	}{
		{[]string{"-socket", "s", "kitchen-1", "hi"}, false},
		{[]string{"kitchen-1", "-socket", "s"}, true},
		{[]string{"kitchen-1", "hi", "-x"}, true},
		{[]string{"--", "-5", "degrees"}, false},      // -- ends the flags
		{[]string{"-socket", "s", "--", "-5"}, false}, // after flags too
		{[]string{"kitchen-1", "--", "-5"}, false},    // and after an argument
		{[]string{"kitchen-1", "-"}, false},           // "-" alone is an argument
		{[]string{"kitchen-1", "a-b", "x-"}, false},   // dashes inside words
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("tell", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("socket", "", "")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		err := flagAfterArgument(fs, tt.args)
		if (err != nil) != tt.bad {
			t.Errorf("%q: got %v, want an error: %v", tt.args, err, tt.bad)
		}
	}
}
