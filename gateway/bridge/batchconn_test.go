package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// loopbackPair is a real TCP connection on 127.0.0.1: ours and the peer's.
func loopbackPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	ours, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { ours.Close(); peer.Close() })
	return ours, peer
}

// countingConn counts the reads and writes that reach the socket, and can
// hold writes back until released.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int64
	gate          chan struct{} // nil: writes pass; else each write waits for a receive
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.Conn.Write(p)
}

func publishPacket(i int) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.Qos = 1
	p.MessageID = uint16(i + 1)
	p.TopicName = fmt.Sprintf("p/g/b%d/up", i%7)
	p.Payload = []byte(fmt.Sprintf("seq=%d %s", i, bytes.Repeat([]byte("x"), i%300)))
	return p
}

// readPublishes reads n PUBLISH packets from r and checks each is the
// publishPacket of its ID: intact, whatever order they were written in.
func readPublishes(t *testing.T, r io.Reader, n int) {
	t.Helper()
	seen := make(map[uint16]bool)
	for range n {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(seen), err)
		}
		p, ok := cp.(*packets.PublishPacket)
		if !ok {
			t.Fatalf("read a %T, want a PUBLISH", cp)
		}
		want := publishPacket(int(p.MessageID) - 1)
		if seen[p.MessageID] || p.TopicName != want.TopicName || !bytes.Equal(p.Payload, want.Payload) {
			t.Fatalf("packet %d: topic %q payload %.20q (seen before: %v); want %q %.20q", p.MessageID, p.TopicName, p.Payload, seen[p.MessageID], want.TopicName, want.Payload)
		}
		seen[p.MessageID] = true
	}
}

// Packets that paho writes from many goroutines at once reach the broker
// whole: no packet's parts are interleaved with another's.
func TestBatchConnPacketsStayWhole(t *testing.T) {
	ours, peer := loopbackPair(t)
	c := newBatchConn(ours)
	defer c.Close()
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := publishPacket(w*each + i).Write(c); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	readPublishes(t, peer, writers*each)
	wg.Wait()
}

// While one write is in the kernel, the packets written meanwhile wait and
// then go out together, in one write.
func TestBatchConnCoalescesWrites(t *testing.T) {
	ours, peer := loopbackPair(t)
	cc := &countingConn{Conn: ours, gate: make(chan struct{})}
	c := newBatchConn(cc)
	defer c.Close()
	go func() {
		// The first packet's write is held at the gate; the other 99 are
		// written meanwhile, then the gate opens for good.
		for i := range 100 {
			publishPacket(i).Write(c)
		}
		close(cc.gate)
	}()
	peer.SetReadDeadline(time.Now().Add(30 * time.Second))
	readPublishes(t, peer, 100)
	if n := cc.writes.Load(); n > 3 {
		t.Errorf("100 packets took %d writes; want them gathered into at most 3", n)
	}
	t.Logf("100 packets in %d writes", cc.writes.Load())
}

// A burst of PUBACKs is read with a read or two, not three reads each.
func TestBatchConnBuffersReads(t *testing.T) {
	ours, peer := loopbackPair(t)
	cc := &countingConn{Conn: ours}
	c := newBatchConn(cc)
	defer c.Close()
	var burst bytes.Buffer
	for i := range 200 {
		ack := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
		ack.MessageID = uint16(i + 1)
		ack.Write(&burst)
	}
	if _, err := peer.Write(burst.Bytes()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for i := range 200 {
		cp, err := packets.ReadPacket(c)
		if err != nil {
			t.Fatalf("PUBACK %d: %v", i+1, err)
		}
		if got := cp.Details().MessageID; got != uint16(i+1) {
			t.Fatalf("PUBACK %d has ID %d", i+1, got)
		}
	}
	if n := cc.reads.Load(); n > 4 {
		t.Errorf("200 PUBACKs (%d bytes) took %d reads", burst.Len(), n)
	}
	t.Logf("200 PUBACKs in %d reads", cc.reads.Load())
}

// Close writes what is pending first: paho's DISCONNECT, written just
// before it closes the connection, reaches the broker.
func TestBatchConnCloseFlushes(t *testing.T) {
	ours, peer := loopbackPair(t)
	c := newBatchConn(ours)
	d := packets.NewControlPacket(packets.Disconnect)
	if err := d.Write(c); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	cp, err := packets.ReadPacket(peer)
	if _, ok := cp.(*packets.DisconnectPacket); err != nil || !ok {
		t.Fatalf("read %v, %v; want the DISCONNECT", cp, err)
	}
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the DISCONNECT: %v, want EOF", err)
	}
	if _, err := c.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

// Close gives up on a broker that reads nothing after batchCloseFlush,
// rather than hang the bridge's shutdown.
func TestBatchConnCloseGivesUp(t *testing.T) {
	ours, _ := loopbackPair(t) // the peer never reads
	c := newBatchConn(ours)
	chunk := make([]byte, 1<<20)
	for range 64 { // far more than both socket buffers hold
		c.Write(chunk)
	}
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > batchCloseFlush+5*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// failingConn fails every write, as a socket whose broker has gone.
type failingConn struct{ net.Conn }

var errBrokenPipe = errors.New("broken pipe (test)")

func (failingConn) Write([]byte) (int, error) { return 0, errBrokenPipe }

// A failed write closes the connection, so paho's reader, waiting on a
// broker that still says nothing, sees the loss at once; later writes
// report it.
func TestBatchConnWriteErrorCloses(t *testing.T) {
	ours, _ := loopbackPair(t) // the peer stays, silent
	c := newBatchConn(failingConn{ours})
	defer c.Close()
	if err := publishPacket(1).Write(c); err != nil {
		t.Fatalf("first write = %v; want it taken, to be written later", err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
		t.Fatalf("Read after the failed write = %v; want the connection closed", err)
	}
	if err := publishPacket(2).Write(c); !errors.Is(err, errBrokenPipe) {
		t.Errorf("write after the failure = %v, want %v", err, errBrokenPipe)
	}
}
