package gateway

import (
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Framing says what one message is.
type Framing int

const (
	// FramingRaw treats each read as one message and echoes it at once.
	FramingRaw Framing = iota
	// FramingLine treats one LF-terminated line as a message and echoes it
	// only once it is complete.
	FramingLine
)

func (f Framing) String() string {
	switch f {
	case FramingRaw:
		return "raw"
	case FramingLine:
		return "line"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// NoLimit as Policy.MaxMessageBytes lets a line grow without bound.
const NoLimit = math.MaxInt

// DefaultMaxMessageBytes is the longest line FramingLine accepts when
// Policy.MaxMessageBytes is zero.
const DefaultMaxMessageBytes = 64 << 10

// Policy is what a Server enforces on each connection. A zero Policy is
// valid: raw framing, no limits, no timeouts, any address.
type Policy struct {
	Framing Framing
	// MaxMessageBytes bounds one line, LF included, under FramingLine.
	// Zero means DefaultMaxMessageBytes; NoLimit means none.
	MaxMessageBytes int
	// MaxClients bounds the connections served at once; a connection
	// beyond it is closed as soon as it is accepted. Zero means no limit.
	MaxClients int
	// MaxClientsPerIP bounds the connections from one address. Zero means
	// no limit.
	MaxClientsPerIP int
	// Allow lists the networks a client may connect from. Empty allows
	// any. IPv4-mapped IPv6 addresses match IPv4 prefixes.
	Allow []netip.Prefix
	// IdleTimeout drops a client that sends nothing for this long. Zero
	// means never.
	IdleTimeout time.Duration
	// WriteTimeout drops a client whose echo cannot be written for this
	// long, which is what a client that stops reading looks like. Zero
	// means never.
	WriteTimeout time.Duration

	// Board sessions (FramingLine only; see session.go).

	// RequireHello closes a client whose first line is not a `!hello`,
	// with `!err hello-required`.
	RequireHello bool
	// HelloTimeout closes a client that has not finished its first line
	// this long after connecting, while RequireHello is on. Zero means
	// never.
	HelloTimeout time.Duration
	// Tokens maps a board ID to the token it must present in its hello.
	// Compared in constant time; never logged.
	Tokens map[string]string
	// RequireToken refuses, with `!err unknown-board`, a hello from a
	// board missing from Tokens.
	RequireToken bool
}

// requiresHello reports whether the first line must be a hello.
func (p *Policy) requiresHello() bool {
	return p.RequireHello && p.Framing == FramingLine
}

func (p *Policy) maxMessageBytes() int {
	if p.MaxMessageBytes > 0 {
		return p.MaxMessageBytes
	}
	return DefaultMaxMessageBytes
}

// allows reports whether addr may connect under p.Allow.
func (p *Policy) allows(addr netip.Addr) bool {
	if len(p.Allow) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, prefix := range p.Allow {
		if prefix.Contains(addr) {
			return true
		}
		// A prefix written as ::ffff:10.0.0.0/104 means IPv4 addresses too.
		if prefix.Addr().Is4In6() && prefix.Bits() >= 96 {
			v4 := netip.PrefixFrom(prefix.Addr().Unmap(), prefix.Bits()-96)
			if v4.Contains(addr) {
				return true
			}
		}
	}
	return false
}
