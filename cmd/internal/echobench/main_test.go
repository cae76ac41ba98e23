package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestQuickRun runs the smoke configuration end to end: both servers
// built and started, every figure printed. It checks that figures come
// out, never what they are.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both servers")
	}
	var out strings.Builder
	if err := run([]string{"-quick"}, &out); err != nil {
		t.Fatalf("echobench -quick: %v\n%s", err, out.String())
	}
	for _, rx := range []string{
		`20 conns × 64 B\s+baseline\s+\d+`,
		`20 conns × 64 B\s+gatewayd\s+\d+\s+\S+\s+\S+\s+\S+\s+\d+\.\d{3}\s+\d+\.\d{3}`,
		`LED cost, 20 conns × 64 B: CPU/msg \S+ with driver none, \S+ with sim LEDs: ratio \d+\.\d{3}`,
		`idle memory, baseline: \d+\.\d\d KiB per connection \(200 connections`,
		`idle memory, gatewayd: \d+\.\d\d KiB per connection \(200 connections`,
	} {
		if !regexp.MustCompile(rx).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", rx, out.String())
		}
	}
}

func TestParseInts(t *testing.T) {
	if got, err := parseInts("100, 1000"); err != nil || len(got) != 2 || got[0] != 100 || got[1] != 1000 {
		t.Errorf("parseInts(\"100, 1000\") = %v, %v", got, err)
	}
	for _, bad := range []string{"", "x", "0", "10,-1"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) accepted", bad)
		}
	}
}
