// Package gateway is gatewayd's network core: a multi-client TCP echo server.
//
// A Server is shaped like net/http.Server. Serve takes any net.Listener, so a
// socket passed by systemd and a test's 127.0.0.1:0 listener take the same
// path; Shutdown drains and Close stops at once. Every client is served by
// its own goroutine, which echoes every byte back, in order and unchanged
// (RFC 862), framed as Policy.Framing says.
//
// With an Uplink (the MQTT bridge), a line's echo is its receipt: it is
// written once the Uplink says the line is safe. Each connection keeps up
// to 32 lines in flight to the Uplink and writes their receipts in the
// order of the lines, mostly straight from the Uplink's done call
// (pipeline.go); a 33rd line waits, and TCP holds the board back. Each
// connection has its own context, which ends when the connection does, and
// a connection blocked on the Uplink is watched for its client going away
// (blocked.go), so that it frees its slot at once and none of its lines is
// taken after its board's newer ones.
//
// The package knows nothing of LEDs or systemd: it reports what happens
// through Hooks, board listeners (Server.OnBoard) and Stats, and
// cmd/gatewayd wires those to the rest.
package gateway
