package board

import "bytes"

// Kind says what a control line (a line starting with `!`) asks for.
type Kind int

const (
	// KindUnknown is a control line the gateway does not know; it is
	// answered `!err unknown-command` and the session goes on.
	KindUnknown Kind = iota
	// KindPing is `!ping`, answered `!pong`.
	KindPing
	// KindHello is a `!hello` line, which is only valid as the first line.
	KindHello
)

func (k Kind) String() string {
	switch k {
	case KindPing:
		return "ping"
	case KindHello:
		return "hello"
	}
	return "unknown"
}

// IsControl reports whether line is a control line rather than data.
func IsControl(line []byte) bool {
	return len(line) > 0 && line[0] == '!'
}

// ParseControl classifies a control line from a board, with or without its
// LF. It does not look inside a hello: see ParseHello.
func ParseControl(line []byte) Kind {
	if IsHello(line) {
		return KindHello
	}
	if bytes.Equal(trimEOL(line), []byte("!ping")) {
		return KindPing
	}
	return KindUnknown
}

// Pong answers `!ping`.
var Pong = []byte("!pong\n")

// OKLine is `!ok ID` with its LF: the answer to an accepted hello.
func OKLine(id string) []byte {
	return append(append([]byte("!ok "), id...), '\n')
}

// MsgLine is `!msg PAYLOAD` with its LF, a delivery to a board. The caller
// checks with ValidPayload first.
func MsgLine(payload []byte) []byte {
	b := make([]byte, 0, 5+len(payload)+1)
	b = append(b, "!msg "...)
	b = append(b, payload...)
	return append(b, '\n')
}

// ValidPayload reports whether payload fits on one `!msg` line: no LF, and
// no CR, which a board reading lines would take for the end of one.
func ValidPayload(payload []byte) bool {
	return bytes.IndexByte(payload, '\n') < 0 && bytes.IndexByte(payload, '\r') < 0
}
