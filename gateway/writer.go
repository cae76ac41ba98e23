package gateway

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// errFull is what writer.write returns, without waiting, when the socket's
// send buffer fills before the message is all in.
var errFull = errors.New("gateway: send buffer full")

// writer writes a connection's echoes and keeps the evidence the write
// timeout is measured from: the last time the client was seen taking data.
//
// A write that blocks and returns at its deadline cannot say when the bytes
// it did write went in: early, or just before the deadline. Counting them
// at the deadline let each blocked write extend a stalled client's life by
// another full timeout. So the socket writer writes without blocking and
// stamps each moment of progress itself.
type writer interface {
	// write writes msg and returns how much of it went in. If wait is
	// false it returns errFull as soon as the send buffer is full; if true
	// it waits for room until the write deadline (os.ErrDeadlineExceeded).
	write(msg []byte, wait bool) (int, error)
	// check looks again for progress made while write was waiting.
	check()
	// tookAt is the last time the client was seen taking data since write
	// first found the buffer full; zero if never.
	tookAt() time.Time
}

func newWriter(nc net.Conn) writer {
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			w := &rawWriter{raw: raw}
			w.writeFn = w.writeFd
			w.checkFn = w.checkFd
			return w
		}
	}
	return &plainWriter{nc: nc}
}

// rawWriter writes a socket through the runtime's poller.
//
// Progress is either of two things. Bytes going into the send buffer after
// it was full: the client's TCP stack made room by acknowledging data. Or,
// where the kernel reports it (SIOCOUTQ on Linux), a rise in the bytes the
// client has acknowledged, sent minus still unacknowledged: this sees a
// client that drains slowly, whose acknowledgements each free too little
// room to wake a blocked write. The first is stamped when it happens; the
// second when it is seen, at the latest one check interval late.
type rawWriter struct {
	raw     syscall.RawConn
	msg     []byte
	n       int
	err     error
	wait    bool
	full    bool                  // msg met a full buffer and write returned errFull
	in      bool                  // bytes went in since the last time the buffer was full
	sent    uint64                // bytes written on this connection
	acked   uint64                // sent minus unacknowledged, when last looked at
	took    time.Time             // last progress seen
	writeFn func(fd uintptr) bool // bound once, so writes do not allocate
	checkFn func(fd uintptr)
}

func (w *rawWriter) write(msg []byte, wait bool) (int, error) {
	w.msg, w.n, w.err, w.wait, w.full = msg, 0, nil, wait, false
	err := w.raw.Write(w.writeFn)
	w.msg = nil // do not hold the caller's (pooled) buffer
	switch {
	case w.err != nil:
		return w.n, w.err
	case err != nil:
		return w.n, err
	case w.full:
		return w.n, errFull
	}
	return w.n, nil
}

// writeFd is called by the poller whenever the socket may be writable; it
// returns false to wait for room.
func (w *rawWriter) writeFd(fd uintptr) bool {
	for len(w.msg) > 0 {
		n, err := syscall.Write(int(fd), w.msg)
		if n > 0 {
			w.msg = w.msg[n:]
			w.n += n
			w.sent += uint64(n)
			w.in = true
		}
		switch err {
		case nil:
		case syscall.EINTR:
		case syscall.EAGAIN:
			w.noteProgress(fd, time.Now())
			if !w.wait {
				w.full = true
				return true
			}
			return false
		default:
			w.err = wrapSyscallErr("write", err)
			return true
		}
	}
	return true
}

// noteProgress stamps now as progress if bytes went in since the buffer
// was last full, or if the client acknowledged more since the last look.
func (w *rawWriter) noteProgress(fd uintptr, now time.Time) {
	if w.in {
		w.in = false
		w.took = now
	}
	if unacked, ok := unacknowledged(fd); ok {
		acked := w.sent - uint64(unacked)
		if acked != w.acked {
			w.acked = acked
			w.took = now
		}
	}
}

func (w *rawWriter) check() {
	w.raw.Control(w.checkFn)
}

func (w *rawWriter) checkFd(fd uintptr) {
	w.noteProgress(fd, time.Now())
}

func (w *rawWriter) tookAt() time.Time { return w.took }

// plainWriter serves connections that are not sockets, such as net.Pipe.
// It cannot see when bytes went in during a blocked write, so it counts
// them at the moment the write returns, as a deadline can wake it up to a
// timeout late: a stalled client there may last up to twice the timeout.
type plainWriter struct {
	nc   net.Conn
	took time.Time
}

func (w *plainWriter) write(msg []byte, _ bool) (int, error) {
	n, err := w.nc.Write(msg)
	if err != nil && n > 0 {
		w.took = time.Now()
	}
	return n, err
}

func (w *plainWriter) check() {}

func (w *plainWriter) tookAt() time.Time { return w.took }
