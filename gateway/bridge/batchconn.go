package bridge

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"time"
)

// batchConn is the broker connection as paho sees it. Left to itself,
// paho.mqtt.golang costs a write system call per packet (its one writer
// goroutine writes each packet whole, in one Write) and three reads per
// PUBACK (packets.ReadPacket reads a packet's type byte, each byte of its
// length and its body, each straight from the connection). batchConn
// hands the writes to a goroutine of its own that writes everything
// handed over while an earlier write was in the kernel as one write, and
// reads through a buffer, so a burst of PUBACKs costs one read.
//
// Writing late weakens no receipt: a receipt waits for the PUBACK, which
// cannot come before the PUBLISH is written. The byte stream is the same,
// in the same order: paho writes one packet per Write.
//
// Measured on paho.mqtt.golang (BenchmarkSend, 2 cores shared, 50,000
// lines): 100 boards 17-20 µs of CPU a line with it, 28 µs without; one
// board 53 µs against 58-61. It stays.
type batchConn struct {
	net.Conn
	r *bufio.Reader

	kick chan struct{} // wakes the writer; holds at most one wake-up
	done chan struct{} // closed by Close: the writer flushes and stops
	quit chan struct{} // closed when the writer has stopped

	mu      sync.Mutex
	pending []byte // packets' bytes, in order, not yet handed to the kernel
	err     error  // the first write error, which every later Write returns
	closed  bool
}

// batchWrites is off only in BenchmarkSend's plain-connection runs, which
// measure what batchConn saves.
var batchWrites = true

// batchReadBytes is the read buffer: a few hundred PUBACKs, or a downlink
// of a typical size.
const batchReadBytes = 16 << 10

// batchKeepBytes is the largest write buffer kept for the next batch; one
// that a burst grew beyond it is left to the garbage collector.
const batchKeepBytes = 64 << 10

// batchCloseFlush bounds how long Close waits to write what is pending
// (a DISCONNECT, typically) to a broker that does not read.
const batchCloseFlush = 2 * time.Second

func newBatchConn(nc net.Conn) *batchConn {
	c := &batchConn{
		Conn: nc,
		r:    bufio.NewReaderSize(nc, batchReadBytes),
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
		quit: make(chan struct{}),
	}
	go c.writer()
	return c
}

// dialBroker connects to br, over TLS for mqtts, within ctx.
func dialBroker(ctx context.Context, br broker) (net.Conn, error) {
	var (
		nc  net.Conn
		err error
	)
	if br.tls != nil {
		d := tls.Dialer{Config: br.tls}
		nc, err = d.DialContext(ctx, "tcp", br.addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(ctx, "tcp", br.addr)
	}
	if err != nil {
		return nil, dialError(br.addr, err)
	}
	if !batchWrites {
		return nc, nil
	}
	return newBatchConn(nc), nil
}

func (c *batchConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write hands p, a whole packet, to the writer.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.pending = append(c.pending, p...)
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // the writer is already due to run
	}
	return len(p), nil
}

// writer writes whatever is pending, as one write, each time it is woken,
// until Close. A failed write closes the connection, so paho's reader
// fails at once and the bridge reconnects, as it would had paho's own write
// failed.
func (c *batchConn) writer() {
	defer close(c.quit)
	var out []byte
	for {
		select {
		case <-c.kick:
			// Let the publishers that are ready to run hand their
			// packets over first: a PUBACK burst wakes many at once.
			runtime.Gosched()
		case <-c.done:
			c.flush(out)
			return
		}
		out = c.flush(out)
	}
}

// flush writes what is pending, with out as the spare buffer, and returns
// the spare for the next time.
func (c *batchConn) flush(out []byte) []byte {
	c.mu.Lock()
	out, c.pending = c.pending, out[:0]
	failed := c.err != nil
	c.mu.Unlock()
	if len(out) == 0 || failed {
		return out
	}
	if _, err := c.Conn.Write(out); err != nil {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		c.Conn.Close()
	}
	if cap(out) > batchKeepBytes {
		out = nil
	}
	return out
}

// Close writes what is pending, giving a broker that does not read
// batchCloseFlush, then closes the connection.
func (c *batchConn) Close() error {
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	close(c.done)
	c.Conn.SetWriteDeadline(time.Now().Add(batchCloseFlush))
	<-c.quit
	return c.Conn.Close()
}
