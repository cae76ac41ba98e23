package tlsconf

import (
	"errors"
	"net"
)

// recordTypeHandshake is the first byte of every TLS connection: the
// record type of the ClientHello.
const recordTypeHandshake = 0x16

// ErrPlaintext is the cause of a handshake refused because the client
// spoke something other than TLS.
var ErrPlaintext = errors.New("tlsconf: plaintext client on TLS listener")

// Sniff reads c's first byte and reports whether it opens a TLS handshake
// record. It returns c wrapped so that the byte is read again.
//
// One byte is enough, and it must be only one: crypto/tls waits for a
// whole 5-byte record header, so a plaintext client that sent "hi\n" and
// waits for its echo would otherwise sit there until the handshake timeout
// and be logged as slow instead of as what it is.
func Sniff(c net.Conn) (conn net.Conn, isTLS bool, err error) {
	var b [1]byte
	for {
		n, err := c.Read(b[:])
		if n == 1 {
			return &peeked{Conn: c, first: b[0], has: true}, b[0] == recordTypeHandshake, nil
		}
		if err != nil {
			return c, false, err
		}
	}
}

// peeked is a connection whose first byte was read by Sniff and is
// returned again by the first Read.
type peeked struct {
	net.Conn
	first byte
	has   bool
}

func (p *peeked) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		b[0], p.has = p.first, false
		return 1, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite half-closes the connection beneath, when it can.
func (p *peeked) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the connection beneath, as tls.Conn.NetConn does.
func (p *peeked) NetConn() net.Conn { return p.Conn }
