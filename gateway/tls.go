package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gatewayd/gatewayd/gateway/tlsconf"
)

// A client of a TLS listener (Server.TLS) is served like any other once its
// handshake is done, through a tls.Conn. Beneath the tls.Conn, tlsIO keeps
// the two properties of the plaintext path that matter at scale:
//
//   - Writes go through the same socket writer (writeSocket), so a TLS
//     record that meets a full send buffer is finished under the same
//     write-timeout rule, measured from the client's last progress, and
//     the tls.Conn never sees a deadline (its write errors are permanent,
//     so a deadline used to look for progress would break the stream).
//   - An idle client holds no read buffer: tlsReader asks the tls.Conn for
//     what it already has without waiting (tlsIO returns errWouldBlock
//     instead of blocking), and only when there is nothing waits for the
//     socket to become readable, holding no buffer.
//
// The write-timeout slack is the plaintext one: the socket beneath is
// sampled with SIOCOUTQ in the same way. What TLS adds is that progress is
// counted in ciphertext bytes, which differ from the echo's bytes only by
// the records' overhead.

// errPlaintext is the reason a plaintext client of a TLS listener was
// closed.
var errPlaintext = errors.New("plaintext client on TLS listener")

// handshakeError is the reason a connection closed at its handshake.
type handshakeError struct{ reason string }

func (e handshakeError) Error() string { return "TLS handshake: " + e.reason }

// wouldBlock is what tlsIO's Read returns, while polling, when the socket
// has nothing. It is a temporary net.Error, so the tls.Conn keeps a record
// read in part and the stream stays usable.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "gateway: no data ready" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

// handshake runs the TLS handshake on the connection's goroutine, within
// Policy.HandshakeTimeout, and sets the connection up to be served over
// it. A failure is logged as one line naming the remote and the reason,
// and returned as the reason the connection closed.
func (c *conn) handshake() error {
	c.tio = newTLSIO(c)
	tc, err := tlsconf.Handshake(c.srv.baseContext(), c.tio, c.tlsConfig, c.policy.HandshakeTimeout)
	if err != nil {
		switch {
		case errors.Is(err, tlsconf.ErrPlaintext):
			c.log.Warn("plaintext client on TLS listener; closed", "remote", c.remote.String())
			return errPlaintext
		case c.srv.shuttingDown.Load():
			// Shutdown's wake-up cut the handshake short.
			return ErrShutdown
		}
		reason := err.Error()
		var he *tlsconf.HandshakeError
		if errors.As(err, &he) {
			reason = he.Reason
		}
		c.log.Warn("TLS handshake failed", "remote", c.remote.String(), "reason", reason)
		return handshakeError{reason}
	}
	id, err := tlsconf.BoardID(tc.ConnectionState())
	if err != nil {
		c.log.Warn("TLS handshake failed", "remote", c.remote.String(), "reason", err.Error())
		return handshakeError{err.Error()}
	}
	c.tls, c.certID = tc, id
	c.tio.established = true
	if c.tio.raw != nil {
		r := &tlsReader{tc: tc, tio: c.tio}
		r.waitFn = r.waitReadable
		c.in = r
	} else {
		c.in = &plainReader{nc: tc}
	}
	return nil
}

// writeTLS writes msg as TLS records; the records go through writeSocket.
func (c *conn) writeTLS(msg []byte) error {
	n, err := c.tls.Write(msg)
	c.bytesOut.Add(uint64(n))
	return err
}

// closeWrite sends EOF: over TLS a close_notify alert first, then, on a
// socket, a half-close.
func (c *conn) closeWrite() {
	if c.tls != nil {
		c.tls.CloseWrite()
	}
	closeWrite(c.nc)
}

// tlsIO is the net.Conn beneath a connection's tls.Conn: the socket, with
// the handshake done plainly (under its deadline) and, after it, writes
// through writeSocket and reads that can poll.
type tlsIO struct {
	net.Conn
	c   *conn
	raw syscall.RawConn // nil if the connection is not a socket

	established bool // the handshake is done; set before any other goroutine writes
	poll        bool // Read returns errWouldBlock rather than wait

	p      []byte
	n      int
	err    error
	pollFn func(fd uintptr) bool // bound once, so reads do not allocate
}

func newTLSIO(c *conn) *tlsIO {
	t := &tlsIO{Conn: c.nc, c: c}
	if sc, ok := c.nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			t.raw = raw
		}
	}
	t.pollFn = t.readNow
	return t
}

func (t *tlsIO) Read(p []byte) (int, error) {
	if !t.poll || t.raw == nil {
		return t.Conn.Read(p)
	}
	t.p, t.n, t.err = p, 0, nil
	err := t.raw.Read(t.pollFn)
	t.p = nil
	if err != nil {
		return 0, err
	}
	return t.n, t.err
}

// readNow reads what the socket has, without waiting.
func (t *tlsIO) readNow(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), t.p)
		switch err {
		case nil:
			t.n = n
			if n == 0 {
				t.err = io.EOF
			}
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			t.err = errWouldBlock
		default:
			t.err = wrapSyscallErr("read", err)
		}
		return true
	}
}

func (t *tlsIO) Write(b []byte) (int, error) {
	if !t.established {
		return t.Conn.Write(b)
	}
	return t.c.writeSocket(b, time.Now())
}

// CloseWrite half-closes the socket (tlsconf's sniffer passes it on).
func (t *tlsIO) CloseWrite() error {
	closeWrite(t.Conn)
	return nil
}

// tlsReader reads a TLS connection into pooled buffers, holding none
// while it waits for the client.
type tlsReader struct {
	tc     *tls.Conn
	tio    *tlsIO
	buf    *[]byte
	peek   [1]byte
	waited bool
	waitFn func(fd uintptr) bool // bound once, so reads do not allocate
}

func (r *tlsReader) read() ([]byte, error) {
	for {
		data, err := r.readQueued()
		if err != errWouldBlock {
			return data, err
		}
		r.waited = false
		if err := r.tio.raw.Read(r.waitFn); err != nil {
			return nil, err
		}
	}
}

// readQueued returns the plaintext that the tls.Conn holds or can make
// from what the socket holds; errWouldBlock if there is none yet.
func (r *tlsReader) readQueued() ([]byte, error) {
	r.buf = buffers.Get().(*[]byte)
	r.tio.poll = true
	n, err := r.tc.Read(*r.buf)
	r.tio.poll = false
	if n == 0 {
		r.release()
		if err == nil {
			err = errWouldBlock
		} else if errors.Is(err, errWouldBlock) {
			err = errWouldBlock
		}
		return nil, err
	}
	return (*r.buf)[:n], nil
}

// waitReadable is called by the poller until the socket has data. The
// first call looks, since readiness seen before the wait began is not
// remembered; a later one is the poller saying it is readable.
func (r *tlsReader) waitReadable(fd uintptr) bool {
	if r.waited {
		return true
	}
	r.waited = true
	_, _, err := syscall.Recvfrom(int(fd), r.peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}

func (r *tlsReader) release() {
	if r.buf != nil {
		buffers.Put(r.buf)
		r.buf = nil
	}
}
