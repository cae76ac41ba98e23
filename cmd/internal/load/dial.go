package load

import (
	"context"
	"net"
	"net/netip"
	"sync"
)

// sourceAddrs returns the local addresses to dial from, nil for the
// kernel's choice.
func sourceAddrs(cfg Config) []netip.Addr {
	if cfg.SourceAddrs != nil {
		return cfg.SourceAddrs
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().Is4() || !ip.IsLoopback() || cfg.Conns <= cfg.PerSource {
		return nil
	}
	n := (cfg.Conns + cfg.PerSource - 1) / cfg.PerSource
	addrs := make([]netip.Addr, 0, n)
	a := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	for range n {
		addrs = append(addrs, a)
		a = a.Next()
	}
	return addrs
}

// dialers returns one dialer per source address (or one for the kernel's
// choice), to be used round-robin.
func dialers(cfg Config) []*net.Dialer {
	srcs := sourceAddrs(cfg)
	if len(srcs) == 0 {
		return []*net.Dialer{{Timeout: cfg.ConnectTimeout}}
	}
	ds := make([]*net.Dialer, len(srcs))
	for i, a := range srcs {
		ds[i] = &net.Dialer{
			Timeout:   cfg.ConnectTimeout,
			LocalAddr: &net.TCPAddr{IP: a.AsSlice()},
			Control:   bindAddressNoPort,
		}
	}
	return ds
}

// connectAll dials cfg.Conns connections with at most cfg.DialConcurrency in
// flight. The slice it returns holds nil where a dial failed.
func (r *runner) connectAll(ctx context.Context) []net.Conn {
	conns := make([]net.Conn, r.cfg.Conns)
	ds := dialers(r.cfg)
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	for i := range conns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := ds[i%len(ds)].DialContext(ctx, "tcp", r.cfg.Addr)
			if err != nil {
				if ctx.Err() == nil { // else the run was cancelled: not the server's failure
					r.connectFailed(err)
				}
				return
			}
			if r.cfg.Handshake != nil {
				hc, err := r.cfg.Handshake(ctx, c, i)
				if err != nil {
					c.Close()
					if ctx.Err() == nil {
						r.connectFailed(err)
					}
					return
				}
				c = hc
			}
			conns[i] = c
			r.connected.Add(1)
		})
	}
	wg.Wait()
	return conns
}

func (r *runner) connectFailed(err error) {
	r.connectErrors.Add(1)
	r.firstConnectErr.CompareAndSwap(nil, &errBox{err})
}
