package board

import "fmt"

// Code is what follows `!err` on the wire.
type Code string

// The error codes of the protocol.
const (
	CodeBadHello         Code = "bad-hello"
	CodeHelloRequired    Code = "hello-required"
	CodeUnknownBoard     Code = "unknown-board"
	CodeBadToken         Code = "bad-token"
	CodeIdentityMismatch Code = "identity-mismatch"
	CodeReplaced         Code = "replaced"
	CodeUnknownCommand   Code = "unknown-command"
	CodeReserved         Code = "reserved"
	CodeTooLarge              = "too-large"
)

// Error is a protocol error: the Code for the wire and a short text for a
// person reading it.
type Error struct {
	Code Code
	Text string
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Text == "" {
		return "board: " + string(e.Code)
	}
	return "board: " + string(e.Code) + ": " + e.Text
}

// Line is the `!err CODE [TEXT]` line that answers e, LF included.
func (e *Error) Line() []byte {
	return ErrLine(e.Code, e.Text)
}

// ErrLine formats `!err CODE [TEXT]` with its LF. Line breaks in text are
// made spaces so the answer stays one line.
func ErrLine(code Code, text string) []byte {
	b := make([]byte, 0, 6+len(code)+1+len(text)+1)
	b = append(b, "!err "...)
	b = append(b, code...)
	if text != "" {
		b = append(b, ' ')
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '\n' || c == '\r' {
				c = ' '
			}
			b = append(b, c)
		}
	}
	return append(b, '\n')
}
