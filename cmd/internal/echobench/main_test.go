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

// TestQuickTLSRun is the smoke run of -tls: certificates made, both
// servers over TLS, every figure printed (and logged for a reader).
func TestQuickTLSRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both servers")
	}
	var out strings.Builder
	if err := run([]string{"-quick", "-tls"}, &out); err != nil {
		t.Fatalf("echobench -quick -tls: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	for _, rx := range []string{
		`20 conns × 64 B\s+baseline\s+\d+`,
		`20 conns × 64 B\s+gatewayd\s+\d+\s+\S+\s+\S+\s+\S+\s+\d+\.\d{3}\s+\d+\.\d{3}`,
		`20 conns × 64 B\s+baseline TLS\s+\d+\s+\S+\s+\S+\s+\S+\s+\d+\.\d\d`,
		`20 conns × 64 B\s+gatewayd TLS\s+\d+\s+\S+\s+\S+\s+\S+\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d\d`,
		`TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\s+baseline TLS\s+\d+\s+\S+\s+\d+`,
		`TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\s+gatewayd TLS\s+\d+\s+\S+\s+\d+`,
		`TLS 1.3 TLS_\S+\s+gatewayd TLS\s+\d+\s+\S+\s+\d+`,
		`idle memory, baseline TLS: -?\d+\.\d\d KiB per connection \(200 connections`,
		`idle memory, gatewayd TLS: -?\d+\.\d\d KiB per connection \(200 connections`,
		`reconnect storm: 50 boards .* while 10 connections`,
		`gatewayd TLS\s+\d+ms\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+`,
	} {
		if !regexp.MustCompile(rx).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", rx, out.String())
		}
	}
}
