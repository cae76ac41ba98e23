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
//
// # Layout
//
// The folders below gateway/ are of two kinds.
//
// The gateway itself, what a board and its lines meet: this package (the
// server, sessions, the Uplink), board (the ! line protocol and board
// IDs), bridge (MQTT), spool (the disk queue), homeassistant, statuspage,
// control (the control socket's API), tlsconf and pki (TLS and its
// certificates) and stall (liveness watches); gatewaytest holds the tests'
// harness for all of them.
//
// gateway/daemon/ holds the plumbing that makes gatewayd a well-behaved
// Linux daemon and is on no line's path: daemon/listen (systemd's sockets
// or a bound one), daemon/systemd (sd_notify), daemon/logging (slog and
// journal priorities), daemon/httpd (HTTP with timeouts and a connection
// cap) and daemon/metrics (the Prometheus collector and /healthz). Of the
// gateway's own packages only metrics imports any (the server's and the
// control socket's figures); only cmd/gatewayd imports them (and control,
// for httpd).
package gateway
