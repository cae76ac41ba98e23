// Package control is gatewayd's local control socket: a small HTTP API on a
// Unix socket, and the typed client that gatewayctl uses.
//
// Nothing on the network can reach a Unix socket, and its file mode (0660,
// group gatewayd) is the authentication, as with the Docker socket and
// tailscaled's LocalAPI. The API:
//
//	GET  /v1/status               Status as JSON
//	GET  /v1/boards               []Board as JSON, sorted by ID
//	POST /v1/boards/ID/messages   text/plain body: one line delivered to
//	                              board ID as "!msg PAYLOAD"; 404 if ID is
//	                              not connected
//	GET  /v1/mqtt/dead-letters    []DeadLetter as JSON, oldest first: the
//	                              lines the broker refused; 404 without
//	                              the MQTT bridge
package control
