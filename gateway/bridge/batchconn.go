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
// paho costs a write system call per PUBLISH and three reads per PUBACK
// (packets.ReadPacket reads a packet's type byte, its length and its body
// each straight from the connection). With a line per board in flight,
// that was most of the bridge's CPU per message. batchConn writes every
// packet that publishers hand it while an earlier write is in the kernel
// as one write, and reads through a buffer, so a burst of PUBACKs costs
// one read.
//
// Writing late weakens no receipt: a receipt waits for the PUBACK, which
// cannot come before the PUBLISH is written.
//
// paho writes a packet as several Writes between Lock and Unlock
// (packets.ControlPacket.WriteTo locks a writer that is a sync.Locker, and
// every packet paho v0.23 sends goes through it), so one packet is built
// at a time and the buffer holds the packets in order; Unlock hands them
// to the writer goroutine. The writer may take a packet still being built
// and send its rest with the next batch: the byte stream is the same.
// Close waits for the packet being built, so the stream never ends in
// part of one.
type batchConn struct {
	net.Conn
	r *bufio.Reader

	packet sync.Mutex    // held by paho from a packet's first byte to its last
	kick   chan struct{} // wakes the writer; holds at most one wake-up
	done   chan struct{} // closed by Close: the writer flushes and stops
	quit   chan struct{} // closed when the writer has stopped

	mu      sync.Mutex
	pending []byte // packets' bytes, in order, not yet handed to the kernel
	err     error  // the first write error, which every later Write returns
	closed  bool
}

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
	return newBatchConn(nc), nil
}

func (c *batchConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Lock begins a packet; see the type's comment.
func (c *batchConn) Lock() { c.packet.Lock() }

// Unlock ends a packet and has it written.
func (c *batchConn) Unlock() {
	c.packet.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // the writer is already due to run
	}
}

// Write adds p to the packet being built; the caller holds Lock.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	return len(p), nil
}

// writer writes whatever is pending, as one write, each time it is woken,
// until Close. A failed write closes the connection, so paho's reader
// fails at once and autopaho reconnects, as it would had paho's own write
// failed.
func (c *batchConn) writer() {
	defer close(c.quit)
	var out []byte
	for {
		select {
		case <-c.kick:
			// Let the publishers that are ready to run write their
			// packets first: a PUBACK burst wakes many at once. Without
			// this the writer, woken on the other core, took 1.1
			// packets a write; with it about 5, and BenchmarkSend's
			// 100 senders went from about 50,000 lines a second to
			// 70,000.
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
	// Never between two Writes of one packet: Write does not block, so
	// this waits no longer than a packet takes to build.
	c.packet.Lock()
	c.mu.Lock()
	closed := c.closed
	c.closed = true
	c.mu.Unlock()
	c.packet.Unlock()
	if closed {
		return net.ErrClosed
	}
	close(c.done)
	c.Conn.SetWriteDeadline(time.Now().Add(batchCloseFlush))
	<-c.quit
	return c.Conn.Close()
}
