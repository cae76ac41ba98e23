package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// dialError says when a connection to the broker at addr was likely
// stopped by this machine rather than by the network. The packaged unit
// has IPAddressDeny=any with LAN-only IPAddressAllow=: the kernel's filter
// then fails connect(2) with EPERM, or drops the packets so that the dial
// times out, for any other address. Without a word about the filter,
// "operation not permitted" or "i/o timeout" sends people looking at the
// broker. Any other error is returned as it is.
func dialError(addr string, err error) error {
	return explainDial(addr, err, os.Getenv("INVOCATION_ID") != "")
}

// explainDial is dialError; underSystemd says whether this process is a
// systemd service (systemd sets INVOCATION_ID for each).
func explainDial(addr string, err error, underSystemd bool) error {
	const fix = "allow the broker with IPAddressAllow= in a drop-in: see cloud-broker.conf in /usr/share/doc/gatewayd/examples"
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("bridge: connecting to %s: %w: refused by this machine, most likely the systemd unit's IP filter (IPAddressDeny=any); %s", addr, err, fix)
	case underSystemd && isTimeout(err) && outsideUnitAllowList(err):
		return fmt.Errorf("bridge: connecting to %s: %w: the systemd unit's IP filter (IPAddressDeny=any) drops traffic to addresses outside the LAN; if the broker is up, %s", addr, err, fix)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unitAllowList is IPAddressAllow= of deploy/gatewayd.service.
var unitAllowList = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fc00::/7"),
}

// outsideUnitAllowList says whether the address err's dial went to is
// one the packaged unit does not allow.
func outsideUnitAllowList(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Addr == nil {
		return false
	}
	ap, perr := netip.ParseAddrPort(op.Addr.String())
	if perr != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range unitAllowList {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
