package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gatewayd/gatewayd/cmd/internal/load"
	"github.com/gatewayd/gatewayd/cmd/internal/proc"
	"github.com/gatewayd/gatewayd/gateway/pki"
)

// runTLS is echobench -tls: both servers over TLS, with certificates made
// by gateway/pki (ECDSA P-256) and a client certificate on every
// connection, as boards with an identity have. It prints, beside the
// plaintext figures of the same run:
//   - echo CPU per message over TLS, handshakes excluded;
//   - full handshakes per second, TLS 1.2 and 1.3, and the server CPU each costs;
//   - resident memory per idle TLS connection;
//   - the p99 latency of connections that keep sending while a fleet
//     reconnects at once, against the same connections just before.
//
// The load generator shares the machine's cores with the server, and a
// client's side of a handshake costs more than the server's: read the
// connections per second as a floor, the server CPU per handshake as the
// figure that carries to other machines.
func runTLS(ctx context.Context, stdout io.Writer, opts options, bins binaries, dir string, plain []proc.Spec) error {
	pkiDir := filepath.Join(dir, "pki")
	srv, err := pki.Init(pkiDir, pki.Options{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		return err
	}
	board, err := pki.Board(pkiDir, "bench", pki.Options{})
	if err != nil {
		return err
	}
	client, err := clientConfig(srv.CAPEM, board.CertFile, board.KeyFile)
	if err != nil {
		return err
	}
	servers := []proc.Spec{
		server("baseline TLS", bins.baseline, "-addr", "127.0.0.1:0", "-cert", srv.CertFile, "-key", srv.KeyFile, "-client-ca", filepath.Join(pkiDir, pki.CACertFile)),
		server("gatewayd TLS", bins.gatewayd, "-config", writeFile(dir, "tls.yaml", allFeatures("sim")+tlsSection(pkiDir, srv))),
	}
	tlsHandshake := func(ctx context.Context, c net.Conn, _ int) (net.Conn, error) {
		tc := tls.Client(c, client)
		return tc, tc.HandshakeContext(ctx)
	}

	fmt.Fprintf(stdout, "echobench -tls: %d rounds of %v per load and server; median round shown, ratios (gatewayd to baseline, same transport) are medians of per-round ratios\n", opts.rounds, opts.duration)
	fmt.Fprintf(stdout, "TLS: ECDSA P-256 certificates from gateway/pki, a client certificate on every connection; TLS CPU/msg counts from the last handshake on\n\n")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tserver\tmsgs/s\tp50\tp99\tCPU/msg\tthroughput ratio\tCPU ratio\tTLS/plain CPU\t")
	for _, conns := range opts.conns {
		for _, size := range opts.sizes {
			cfg := load.Config{Conns: conns, Size: size, Duration: opts.duration}
			pres, err := compare(ctx, plain, cfg, opts.rounds)
			if err != nil {
				return err
			}
			cfg.Handshake = tlsHandshake
			tres, err := compare(ctx, servers, cfg, opts.rounds)
			if err != nil {
				return err
			}
			rows := []struct {
				name string
				m    measured
				over string
			}{
				{plain[0].Name, pres[0], ""}, {plain[1].Name, pres[1], ""},
				{servers[0].Name, tres[0], fmt.Sprintf("%.2f", float64(tres[0].cpuPerMsg)/float64(pres[0].cpuPerMsg))},
				{servers[1].Name, tres[1], fmt.Sprintf("%.2f", float64(tres[1].cpuPerMsg)/float64(pres[1].cpuPerMsg))},
			}
			for i, r := range rows {
				ratios := "\t\t"
				if i%2 == 1 {
					ratios = fmt.Sprintf("%.3f\t%.3f\t", r.m.rateRatio, r.m.cpuRatio)
				}
				fmt.Fprintf(tw, "%d conns × %d B\t%s\t%.0f\t%v\t%v\t%v\t%s%s\t\n", conns, size, r.name,
					r.m.rate, r.m.p50, r.m.p99, r.m.cpuPerMsg.Round(time.Nanosecond), ratios, r.over)
			}
		}
	}
	tw.Flush()

	fmt.Fprintln(stdout)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "handshakes (connect, full handshake, one echo, close), negotiated\tserver\tconns/s\tserver CPU/handshake\thandshakes per server core-second\t")
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := client.Clone()
		cfg.MinVersion, cfg.MaxVersion = version, version
		res, err := compareHandshakes(ctx, servers, cfg, opts.duration, opts.rounds)
		if err != nil {
			return err
		}
		for i, r := range res {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%v\t%.0f\t\n", r.suite, servers[i].Name, r.rate,
				r.cpu.Round(time.Microsecond), float64(time.Second)/float64(max(r.cpu, 1)))
		}
	}
	tw.Flush()

	fmt.Fprintln(stdout)
	for i, s := range append(slices.Clone(plain), servers...) {
		var cfg *tls.Config
		if i >= len(plain) {
			cfg = client
		}
		perConn, err := idleMemory(ctx, s, opts.idleConns, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		fmt.Fprintf(stdout, "idle memory, %s: %.2f KiB per connection (%d connections, VmRSS growth)\n", s.Name, perConn/1024, opts.idleConns)
	}

	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "reconnect storm: %d boards (client certificates) drop and reconnect at once while %d connections each send 64 B every %v; latency from when each message was due\n",
		opts.storm, opts.steady, stormInterval)
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tstorm took\tp50 before\tp99 before\tp50 in storm\tp99 in storm\tmax in storm\t")
	for _, s := range servers {
		r, err := reconnectStorm(ctx, s, client, opts)
		if err != nil {
			return fmt.Errorf("%s: reconnect storm: %w", s.Name, err)
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t%v\t%v\t%v\t\n", s.Name, r.took.Round(time.Millisecond),
			r.quiet.P50, r.quiet.P99, r.storm.P50, r.storm.P99, r.storm.Max)
	}
	return tw.Flush()
}

// clientConfig is a board's side: it trusts the pki CA and presents the
// board certificate.
func clientConfig(caPEM []byte, certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return &tls.Config{
		RootCAs:      roots,
		ServerName:   "127.0.0.1",
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// tlsSection is gatewayd's tls: section for the pki directory, client
// certificates required.
func tlsSection(dir string, srv *pki.Result) string {
	return fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n  client_ca_file: %q\n  handshake_timeout: 30s\n",
		srv.CertFile, srv.KeyFile, filepath.Join(dir, pki.CACertFile))
}

// handshakeWorkers is how many clients connect in a loop: enough to keep
// the server busy while each waits on its round trips.
const handshakeWorkers = 8

type handshakes struct {
	rate  float64       // new connections per second
	cpu   time.Duration // server CPU per connection
	suite string        // what was negotiated
}

// compareHandshakes measures each server's handshakes, alternating the
// servers round by round as compare does, and returns the median rounds.
func compareHandshakes(ctx context.Context, servers []proc.Spec, cfg *tls.Config, d time.Duration, rounds int) ([]handshakes, error) {
	all := make([][]handshakes, len(servers))
	for round := range rounds {
		order := []int{0, 1}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			h, err := measureHandshakes(ctx, servers[i], cfg, d)
			if err != nil {
				return nil, fmt.Errorf("%s: handshakes: %w", servers[i].Name, err)
			}
			all[i] = append(all[i], h)
		}
	}
	out := make([]handshakes, len(servers))
	for i, hs := range all {
		slices.SortFunc(hs, func(a, b handshakes) int { return int(a.rate - b.rate) })
		out[i] = hs[len(hs)/2]
	}
	return out, nil
}

// measureHandshakes has handshakeWorkers clients open connections for d,
// each a full handshake (no session resumption: a rebooted board has no
// ticket) followed by one echo, so the server has finished its side
// before the client closes.
func measureHandshakes(ctx context.Context, s proc.Spec, cfg *tls.Config, d time.Duration) (handshakes, error) {
	p, err := proc.Start(ctx, s)
	if err != nil {
		return handshakes{}, err
	}
	defer p.Stop()
	before, err := p.CPUTime()
	if err != nil {
		return handshakes{}, err
	}
	var (
		count    atomic.Int64
		firstErr atomic.Pointer[error]
		suite    atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for range handshakeWorkers {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				st, err := connectEcho(ctx, p.Addr, cfg)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				suite.Store(tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite))
				count.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := p.CPUTime()
	if err != nil {
		return handshakes{}, err
	}
	if e := firstErr.Load(); e != nil {
		return handshakes{}, *e
	}
	n := max(count.Load(), 1)
	name, _ := suite.Load().(string)
	return handshakes{
		rate:  float64(n) / elapsed.Seconds(),
		cpu:   (after - before) / time.Duration(n),
		suite: name,
	}, nil
}

// connectEcho opens a connection, completes the TLS handshake and one
// echo, and closes it.
func connectEcho(ctx context.Context, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write([]byte("x")); err != nil {
		return tls.ConnectionState{}, err
	}
	var b [1]byte
	if _, err := io.ReadFull(tc, b[:]); err != nil {
		return tls.ConnectionState{}, fmt.Errorf("echo after the handshake: %w", err)
	}
	return tc.ConnectionState(), nil
}
