// Package gatewaytest holds what the tests of gatewayd's packages,
// commands and deployment share, in the way net/http/httptest serves
// net/http's users: building the gatewayd binary (and other main
// packages) to run as real processes, a log buffer that a process writes
// while the test reads it, and a poll for a condition that is reached
// asynchronously.
//
// It imports only the standard library, never gateway or gpio, so any
// package's tests can use it without a cycle, including those under
// deploy/.
package gatewaytest
