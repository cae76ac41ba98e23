// Command echobaseline is the smallest fair goroutine-per-connection TCP
// echo server: the baseline gatewayd's throughput, latency and memory are
// measured against. It has no features on purpose: no limits, no logging
// per connection, no framing, no hooks.
//
//	go run ./cmd/internal/echobaseline -addr 127.0.0.1:0
//
// It prints `listening addr=HOST:PORT` on stderr and runs until SIGTERM or
// SIGINT.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen on `HOST:PORT`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echobaseline:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "listening addr=%s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		ln.Close() // ends the accept loop; the process exit closes the connections
	}()

	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // such as EMFILE: wait for descriptors to free up
			fmt.Fprintln(os.Stderr, "echobaseline:", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
