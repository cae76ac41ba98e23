package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// Hosts are the names and addresses a server certificate is valid for: a
// board must connect to one of them, or it rejects the gateway.
type Hosts struct {
	DNS []string
	IPs []netip.Addr
}

// ParseHosts checks each -host value, an IP address or a DNS name, and
// drops duplicates, keeping the order given.
func ParseHosts(hosts []string) (Hosts, error) {
	var h Hosts
	for _, s := range hosts {
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Zone() != "" {
				return Hosts{}, fmt.Errorf("pki: host %q: an address with a zone cannot go in a certificate", s)
			}
			if a = a.Unmap(); !slices.Contains(h.IPs, a) {
				h.IPs = append(h.IPs, a)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(s, "."))
		if err := checkDNSName(name); err != nil {
			return Hosts{}, fmt.Errorf("pki: host %q: %w", s, err)
		}
		if !slices.Contains(h.DNS, name) {
			h.DNS = append(h.DNS, name)
		}
	}
	if len(h.DNS) == 0 && len(h.IPs) == 0 {
		return Hosts{}, fmt.Errorf("pki: no host names or addresses for the server certificate")
	}
	return h, nil
}

// checkDNSName accepts a host name made of letters, digits and hyphens in
// dot-separated labels, as RFC 1123 allows.
func checkDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("not an IP address, and not a host name of 1 to 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("not an IP address, and %q is not a host name label of 1 to 63 characters", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("not an IP address, and a host name label cannot start or end with '-'")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("not an IP address, and %q is not allowed in a host name", r)
			}
		}
	}
	return nil
}

// DefaultHosts is what a server certificate covers when no -host is given:
// the host name, NAME.local (what Avahi publishes it as), localhost, and
// every address of the machine except link-local ones, which change and
// need a zone.
func DefaultHosts() (Hosts, error) {
	var names []string
	if hn, err := os.Hostname(); err == nil && hn != "" {
		names = append(names, hn)
		short, _, _ := strings.Cut(hn, ".")
		if !strings.HasSuffix(hn, ".local") {
			names = append(names, short+".local")
		}
	}
	names = append(names, "localhost")
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return Hosts{}, fmt.Errorf("pki: listing this host's addresses: %w", err)
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
			continue
		}
		names = append(names, ip.String())
	}
	return ParseHosts(names)
}

// Strings lists the names, then the addresses.
func (h Hosts) Strings() []string {
	s := slices.Clone(h.DNS)
	for _, a := range h.IPs {
		s = append(s, a.String())
	}
	return s
}

func (h Hosts) netIPs() []net.IP {
	ips := make([]net.IP, len(h.IPs))
	for i, a := range h.IPs {
		ips[i] = a.AsSlice()
	}
	return ips
}

// certHosts is what cert was issued for, in the same form as ParseHosts.
func certHosts(cert *x509.Certificate) Hosts {
	var h Hosts
	h.DNS = slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok {
			h.IPs = append(h.IPs, a.Unmap())
		}
	}
	return h
}

// sameSet reports whether h and o name the same hosts, in any order.
func (h Hosts) sameSet(o Hosts) bool {
	a, b := h.Strings(), o.Strings()
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
