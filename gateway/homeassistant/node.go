package homeassistant

import "strings"

// NodeID is the discovery node ID of board on gateway: "G_B" with every
// character outside a-zA-Z0-9_- written as "_". Home Assistant's
// discovery.py matches a node ID with [a-zA-Z0-9_-]+ and ignores a config
// whose topic does not match, so a board "kitchen.temp" on gateway
// "pi-1" is node "pi-1_kitchen_temp". With board "" it is the gateway's
// own node.
func NodeID(gateway, board string) string {
	s := gateway
	if board != "" {
		s += "_" + board
	}
	return Sanitize(s)
}

// Sanitize writes every character of s outside a-zA-Z0-9_- as "_" (one
// "_" per byte of a multi-byte character, so distinct IDs of one length
// stay distinct more often).
func Sanitize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
