package gateway

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// readBufferBytes is the most one read takes, so the most one raw message
// holds.
const readBufferBytes = 32 << 10

// buffers lends read buffers to connections only while they hold data. An
// idle connection, blocked waiting for its client, holds none: that is what
// keeps 10,000 idle clients in a few KiB each.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, readBufferBytes)
	return &b
}}

// reader reads a connection into pooled buffers. read and readQueued return
// data valid until release.
type reader interface {
	read() ([]byte, error)
	// readQueued returns what the kernel already holds, without waiting.
	readQueued() ([]byte, error)
	release()
}

func newReader(nc net.Conn) reader {
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			r := &rawReader{raw: raw}
			r.readFn = r.readFd
			r.queuedFn = r.readFdNow
			return r
		}
	}
	return &plainReader{nc: nc}
}

// rawReader waits for readability through the runtime's poller and only
// then takes a buffer, so a connection blocked in read holds no buffer.
// Deadlines apply as with net.Conn.Read.
type rawReader struct {
	raw      syscall.RawConn
	buf      *[]byte
	n        int
	err      error
	readFn   func(fd uintptr) bool // bound once, so reads do not allocate
	queuedFn func(fd uintptr)
}

func (r *rawReader) read() ([]byte, error) {
	r.n, r.err = 0, nil
	if err := r.raw.Read(r.readFn); err != nil {
		r.release()
		return nil, err
	}
	return r.result()
}

func (r *rawReader) readQueued() ([]byte, error) {
	r.n, r.err = 0, nil
	if err := r.raw.Control(r.queuedFn); err != nil {
		r.release()
		return nil, err
	}
	return r.result()
}

func (r *rawReader) result() ([]byte, error) {
	if r.err != nil {
		r.release()
		return nil, r.err
	}
	if r.n == 0 {
		r.release()
		return nil, io.EOF
	}
	return (*r.buf)[:r.n], nil
}

// readFd is called by the poller whenever the socket may be readable; it
// returns false to wait for readability.
func (r *rawReader) readFd(fd uintptr) bool {
	for {
		if r.buf == nil {
			r.buf = buffers.Get().(*[]byte)
		}
		n, err := syscall.Read(int(fd), *r.buf)
		switch err {
		case nil:
			r.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			r.release()
			return false
		default:
			r.err = wrapSyscallErr("read", err)
			return true
		}
	}
}

// readFdNow reads without waiting; nothing queued counts as an error so
// the caller stops.
func (r *rawReader) readFdNow(fd uintptr) {
	if r.buf == nil {
		r.buf = buffers.Get().(*[]byte)
	}
	n, _, err := syscall.Recvfrom(int(fd), *r.buf, syscall.MSG_DONTWAIT)
	if err != nil {
		r.err = wrapSyscallErr("read", err)
		return
	}
	r.n = n
}

func (r *rawReader) release() {
	if r.buf != nil {
		buffers.Put(r.buf)
		r.buf = nil
	}
}

// plainReader serves connections that are not sockets, such as net.Pipe.
type plainReader struct {
	nc  net.Conn
	buf *[]byte
}

func (r *plainReader) read() ([]byte, error) {
	r.buf = buffers.Get().(*[]byte)
	n, err := r.nc.Read(*r.buf)
	if n == 0 {
		r.release()
		return nil, err
	}
	return (*r.buf)[:n], err
}

func (r *plainReader) readQueued() ([]byte, error) {
	r.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
	return r.read()
}

func (r *plainReader) release() {
	if r.buf != nil {
		buffers.Put(r.buf)
		r.buf = nil
	}
}

// wrapSyscallErr makes a raw read's errno look like net.Conn.Read's, so a
// reset is logged as "read: connection reset by peer".
func wrapSyscallErr(op string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return os.NewSyscallError(op, errno)
	}
	return err
}
