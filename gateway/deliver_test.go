package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDeliver(t *testing.T) {
	s, addr, _ := startServer(t, Policy{Framing: FramingLine, MaxMessageBytes: 100}, Hooks{})
	c := dialLines(t, addr)
	c.hello("b1")
	if err := s.Deliver("b1", []byte("led on")); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	c.expect("!msg led on\n")

	tests := []struct {
		id, payload string
		want        error
	}{
		{"b2", "x", ErrNoSuchBoard},
		{"b1", "two\nlines", ErrBadPayload},
		{"b1", "cr\r", ErrBadPayload},
		{"b1", strings.Repeat("x", 95), ErrBadPayload}, // 101 bytes as a line
	}
	for _, tt := range tests {
		start := time.Now()
		err := s.Deliver(tt.id, []byte(tt.payload))
		if !errors.Is(err, tt.want) {
			t.Errorf("Deliver(%q, %.10q) = %v, want %v", tt.id, tt.payload, err, tt.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Deliver(%q) took %v; a refusal must not wait", tt.id, d)
		}
	}
	if err := s.Deliver("b1", []byte(strings.Repeat("x", 94))); err != nil {
		t.Errorf("Deliver of a 100-byte line: %v", err)
	}
	c.expect("!msg " + strings.Repeat("x", 94) + "\n")
	if b := s.Boards()[0]; b.MessagesOut != 2 {
		t.Errorf("MessagesOut = %d, want 2 deliveries", b.MessagesOut)
	}
	c.nc.Close()
	eventually(t, "the board gone", func() bool { return len(s.Boards()) == 0 })
	if err := s.Deliver("b1", []byte("x")); !errors.Is(err, ErrNoSuchBoard) {
		t.Errorf("Deliver after the board left = %v, want ErrNoSuchBoard", err)
	}
}

// A board that stops reading is dropped by the write timeout, whether its
// receipts or its deliveries fill the socket.
func TestDeliverToBoardThatStopsReading(t *testing.T) {
	s, addr, logs := startServer(t, Policy{Framing: FramingLine, WriteTimeout: 300 * time.Millisecond}, Hooks{})
	c := dialLines(t, addr)
	c.hello("stuck")
	payload := []byte(strings.Repeat("p", 60000))
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = s.Deliver("stuck", payload)
	}
	if !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("Deliver to a board that stopped reading = %v, want ErrWriteTimeout", err)
	}
	eventually(t, "the board dropped", func() bool { return len(s.Boards()) == 0 })
	eventually(t, "the drop logged", func() bool {
		return strings.Contains(logs.String(), "board=stuck") && strings.Contains(logs.String(), "reason=\"write timeout: client stopped reading\"")
	})
}

// Many boards, each sending data lines while messages are delivered to it:
// every receipt and every message arrives whole and in its own order.
func TestDeliveryOrderingUnderLoad(t *testing.T) {
	boards, lines := 1000, 100
	if testing.Short() {
		boards = 100
	}
	s, addr, _ := startServer(t, Policy{Framing: FramingLine, WriteTimeout: time.Minute}, Hooks{})

	errs := make(chan error, 3*boards)
	var clients, deliverers sync.WaitGroup
	ready := make(chan struct{})
	var named sync.WaitGroup
	named.Add(boards)
	for b := range boards {
		id := fmt.Sprintf("board-%04d", b)
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(5 * time.Minute)) // a bound against a hang, not a speed test
		r := bufio.NewReader(nc)
		if _, err := io.WriteString(nc, "!hello "+id+"\n"); err != nil {
			t.Fatal(err)
		}
		clients.Add(2)
		go func() { // reads: receipts and messages, each in order
			defer clients.Done()
			if line, err := r.ReadString('\n'); line != "!ok "+id+"\n" {
				errs <- fmt.Errorf("%s: hello answered %q, %v", id, line, err)
				named.Done()
				return
			}
			named.Done()
			nextData, nextMsg := 0, 0
			for nextData < lines || nextMsg < lines {
				line, err := r.ReadString('\n')
				if err != nil {
					errs <- fmt.Errorf("%s: after %d receipts and %d messages: %v", id, nextData, nextMsg, err)
					return
				}
				if want := fmt.Sprintf("%s data %d\n", id, nextData); line == want {
					nextData++
					continue
				}
				if want := fmt.Sprintf("!msg %s msg %d\n", id, nextMsg); line == want {
					nextMsg++
					continue
				}
				errs <- fmt.Errorf("%s: got %q; want receipt %d or message %d", id, line, nextData, nextMsg)
				return
			}
		}()
		go func() { // writes data lines
			defer clients.Done()
			<-ready
			w := bufio.NewWriter(nc)
			for i := range lines {
				fmt.Fprintf(w, "%s data %d\n", id, i)
				if i%10 == 9 {
					if err := w.Flush(); err != nil {
						errs <- fmt.Errorf("%s: write: %v", id, err)
						return
					}
				}
			}
			w.Flush()
		}()
	}
	named.Wait()
	close(ready)
	// A few delivering goroutines, as the control socket and the MQTT
	// bridge would be, each serving its share of the boards in turn.
	const workers = 16
	for w := range workers {
		deliverers.Add(1)
		go func() {
			defer deliverers.Done()
			for i := range lines {
				for b := w; b < boards; b += workers {
					id := fmt.Sprintf("board-%04d", b)
					if err := s.Deliver(id, fmt.Appendf(nil, "%s msg %d", id, i)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	deliverers.Wait()
	clients.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Error(err)
		}
	}
	if n > 0 {
		t.Fatalf("%d failures", n)
	}
}
