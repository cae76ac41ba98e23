package gateway

import "net/netip"

// RejectReason says why a connection was closed as soon as it was accepted.
type RejectReason int

const (
	// RejectNotAllowed: the address is outside Policy.Allow.
	RejectNotAllowed RejectReason = iota
	// RejectMaxClients: Policy.MaxClients were already connected.
	RejectMaxClients
	// RejectMaxClientsPerIP: Policy.MaxClientsPerIP were already connected
	// from that address.
	RejectMaxClientsPerIP
	// RejectShuttingDown: the server was shutting down.
	RejectShuttingDown

	numRejectReasons
)

func (r RejectReason) String() string {
	switch r {
	case RejectNotAllowed:
		return "not_allowed"
	case RejectMaxClients:
		return "max_clients"
	case RejectMaxClientsPerIP:
		return "max_clients_per_ip"
	case RejectShuttingDown:
		return "shutting_down"
	}
	return "unknown"
}

// RejectReasons lists every RejectReason, for callers that export counts.
func RejectReasons() []RejectReason {
	rs := make([]RejectReason, numRejectReasons)
	for i := range rs {
		rs[i] = RejectReason(i)
	}
	return rs
}

// Hooks are called as clients come and go (boards, named by their hello,
// are followed through Server.OnBoard instead), with no lock held: Connect and
// Reject on the accept loop, Message and Disconnect on the goroutine of the
// connection concerned (Message, with an Uplink, also on whichever
// goroutine wrote the receipt: the Uplink's done call or a writer of the
// connection). A hook must return at once: record the event and
// hand any slow work (GPIO, network) to a goroutine of its own. A nil hook
// is skipped.
type Hooks struct {
	// Connect is called once a client is admitted; clients counts it.
	Connect func(remote netip.AddrPort, clients int)
	// Message is called for each message echoed, with its size.
	Message func(remote netip.AddrPort, bytes int)
	// Disconnect is called once a client's connection is closed; clients
	// no longer counts it. reason is nil for a clean close by the client.
	Disconnect func(remote netip.AddrPort, clients int, reason error)
	// Reject is called when a connection is closed as soon as it was
	// accepted.
	Reject func(remote netip.AddrPort, reason RejectReason)
}
