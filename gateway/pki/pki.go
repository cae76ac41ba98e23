// Package pki makes the certificates gatewayd's TLS listener and its boards
// use, so that nobody has to learn openssl to run a fleet over TLS.
//
// One directory holds a small private CA:
//
//	DIR/ca.crt            the CA certificate: the boards trust it, and
//	                      gatewayd's client_ca_file points at it
//	DIR/ca.key            its key, mode 0600: whoever holds it can mint boards
//	DIR/server.crt, .key  gatewayd's certificate (cert_file, key_file)
//	DIR/boards/ID.crt     a board's certificate; its common name is the ID
//	DIR/boards/ID.key     the board's key, mode 0600
//
// Keys are ECDSA P-256, which ESP32 boards handle in hardware. Init and
// Board never overwrite a CA: an existing one is checked and reused. An
// existing server or board certificate is kept too (and its files reported
// again) unless Renew asks for a new one.
package pki

import (
	"time"
)

// File names inside a pki directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	BoardsDir      = "boards"
)

// Validity periods. The CA lives long because replacing it means a new
// certificate on every board. A board certificate lives long too: boards are
// flashed by hand, and an expired one locks the board out until someone
// visits it. The server certificate is cheap to renew (pki init -renew and a
// SIGHUP), so it is kept shorter.
const (
	CAValidity     = 20 * 365 * 24 * time.Hour
	ServerValidity = 825 * 24 * time.Hour
	BoardValidity  = 10 * 365 * 24 * time.Hour
)

// ValidFrom is when every certificate pki makes starts to be valid:
// 2000-01-01 UTC. An ESP32 has no battery-backed clock: after power-on its
// clock reads 2000-01-01 (or 1970) until SNTP answers, if it ever does, and
// mbedTLS on the board (MicroPython's ssl, Arduino's NetworkClientSecure)
// refuses a certificate whose NotBefore lies ahead of that clock. A
// certificate valid from "now" would fail every cold boot; one valid from
// 2000 is accepted by a board that has not set its clock yet, and by every
// clock since. Expiry still counts from the day of issue.
var ValidFrom = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)
