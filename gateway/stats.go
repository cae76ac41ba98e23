package gateway

// Stats is a snapshot of a Server's counters since it was created.
type Stats struct {
	Clients      int    // connected now
	Accepted     uint64 // connections admitted
	Disconnected uint64 // admitted connections since closed
	MessagesIn   uint64 // messages received: reads (raw) or lines, too-long ones included
	Messages     uint64 // messages echoed
	BytesIn      uint64
	BytesOut     uint64
	// Rejected counts connections closed at once, by RejectReason.
	Rejected [numRejectReasons]uint64
}

// Stats returns the counters. It is cheap enough to call every second but
// not per message: it visits every connection, whose counters are kept on
// the connection so that busy clients never contend for one cache line.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.closed
	st.Clients = len(s.conns)
	st.Accepted = s.accepted
	st.Rejected = s.rejected
	for c := range s.conns {
		// What went out before what came in: each is echoed or receipted
		// only after it came in, so read in this order the figures never
		// show more out than in, however busy the connection.
		messages, bytesOut := c.messages.Load(), c.bytesOut.Load()
		st.MessagesIn += c.messagesIn.Load()
		st.Messages += messages
		st.BytesIn += c.bytesIn.Load()
		st.BytesOut += bytesOut
	}
	return st
}
