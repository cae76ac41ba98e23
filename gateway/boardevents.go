package gateway

import "net/netip"

// BoardEvent is a board coming or going: its hello accepted (Up), or the
// end of that session. A session replaced by a newer one with the same ID
// makes no event: the board never went away.
type BoardEvent struct {
	ID     string
	Remote netip.AddrPort
	Up     bool
	// Reason is why a board went (Up false): nil for a clean close.
	Reason error
}

// OnBoard adds f to the listeners told of every BoardEvent, after those
// added before it. Each part of a program that follows boards (an MQTT
// bridge's presence, a Home Assistant publisher) adds its own listener,
// so none depends on the order the parts were set up in or wraps another;
// Hooks stay the connection hooks of one owner. It may be called at any
// time; a listener added while boards are connected hears only what
// happens next.
//
// Listeners are called under the board registry's lock, so for one ID
// they hear the sessions in the order they came; each must return at once
// (record the event, hand slow work to a goroutine) and must not call
// back into the Server.
func (s *Server) OnBoard(f func(BoardEvent)) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	s.onBoard = append(s.onBoard, f)
}

// boardEvent tells every listener of e; s.bmu is held.
func (s *Server) boardEvent(e BoardEvent) {
	for _, f := range s.onBoard {
		f(e)
	}
}
