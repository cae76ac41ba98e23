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
	Within(tb, EventuallyWithin, what, cond)
}

// Within is Eventually with a limit of the caller's, for states that take
// longer to come, such as a broker reconnect after its backoff.
func Within(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: still waiting for %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
}
