package tlsconf

import (
	"crypto/tls"
	"fmt"

	"github.com/gatewayd/gatewayd/gateway/board"
)

// BoardID is the board ID a client proved with its certificate: the common
// name of the verified leaf, which pki issues as the ID. It returns "" and
// no error when the client presented no verified certificate (client
// certificates are not asked for), and an error when the common name is not
// a valid board ID (a certificate made by other means than pki).
func BoardID(cs tls.ConnectionState) (string, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", nil
	}
	cn := cs.VerifiedChains[0][0].Subject.CommonName
	if err := board.CheckID(cn); err != nil {
		return "", fmt.Errorf("tlsconf: client certificate: %w", err)
	}
	return cn, nil
}
