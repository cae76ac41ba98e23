// Package gateway is gatewayd's network core: a multi-client TCP echo server.
//
// A Server is shaped like net/http.Server. Serve takes any net.Listener, so a
// socket passed by systemd and a test's 127.0.0.1:0 listener take the same
// path; Shutdown drains and Close stops at once. Every client is served by
// its own goroutine, which echoes every byte back, in order and unchanged
// (RFC 862), framed as Policy.Framing says.
//
// The package knows nothing of LEDs or systemd: it reports what happens
// through Hooks and Stats, and cmd/gatewayd wires those to the rest.
package gateway
