package gatewaytest

import (
	"testing"
	"time"
)

// EventuallyWithin is how long Eventually waits: generous, for a loaded
// machine running tests under -race.
const EventuallyWithin = 10 * time.Second

// Eventually polls cond every millisecond until it holds, and fails the
// test if it has not after EventuallyWithin. what names the awaited state
// in the failure.
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(EventuallyWithin)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: still waiting for %s", EventuallyWithin, what)
		}
		time.Sleep(time.Millisecond)
	}
}
