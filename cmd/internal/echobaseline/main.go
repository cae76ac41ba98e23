// Command echobaseline is the smallest fair goroutine-per-connection TCP
// echo server: the baseline gatewayd's throughput, latency and memory are
// measured against. It has no features on purpose: no limits, no logging
// per connection, no framing, no hooks.
//
//	go run ./cmd/internal/echobaseline -addr 127.0.0.1:0
//
// With -cert and -key it is the same server over crypto/tls (TLS 1.2 and
// 1.3, Go's defaults otherwise; -client-ca requires client certificates
// from that CA), the baseline for gatewayd's TLS listener. The handshake
// runs on the connection's goroutine, at its first read.
//
// It prints `listening addr=HOST:PORT` on stderr and runs until SIGTERM or
// SIGINT.
package main

import (
	"crypto/tls"
	"crypto/x509"
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
	certFile := flag.String("cert", "", "serve TLS with the certificate chain in `FILE` (PEM)")
	keyFile := flag.String("key", "", "the key of -cert, in `FILE`")
	clientCA := flag.String("client-ca", "", "with -cert, require client certificates from the CA in `FILE`")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err == nil && *certFile != "" {
		var cfg *tls.Config
		if cfg, err = tlsConfig(*certFile, *keyFile, *clientCA); err == nil {
			ln = tls.NewListener(ln, cfg)
		}
	}
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

// tlsConfig is the plainest crypto/tls server: the certificate, TLS 1.2
// as the floor (what ESP32 boards speak), and client certificates when a
// CA is given.
func tlsConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-client-ca %q: no PEM certificate in it", clientCA)
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
