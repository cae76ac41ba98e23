package board

import (
	"bytes"
	"fmt"
)

// Limits of a hello line, from the protocol.
const (
	// MaxHelloBytes bounds the whole hello line, LF included.
	MaxHelloBytes = 256
	// MaxIDBytes bounds a board ID.
	MaxIDBytes = 64
)

// ReservedPrefix starts the names the gateway gives clients that never said
// hello (ip-192-0-2-7), so no board may take an ID that starts with it.
const ReservedPrefix = "ip-"

// Hello is a parsed `!hello` line.
type Hello struct {
	ID string
	// Token is the board's secret; HasToken tells `token=` (an empty
	// token) from no token at all.
	Token    string
	HasToken bool
	// FW is the firmware version the board reports, "" if none.
	FW string
}

// IsHello reports whether line is a hello at all: `!hello` followed by a
// space or the end of the line. Such a line is answered as a hello, well
// formed or not; any other line is not one.
func IsHello(line []byte) bool {
	rest, ok := bytes.CutPrefix(trimEOL(line), []byte("!hello"))
	return ok && (len(rest) == 0 || rest[0] == ' ')
}

// ParseHello parses one hello line, with or without its LF (and a CR before
// it, which Arduino's println sends). Anything but a well-formed hello is an
// *Error with CodeBadHello, or CodeReserved for an ID the gateway keeps for
// itself.
func ParseHello(line []byte) (Hello, error) {
	if len(line) > MaxHelloBytes {
		return Hello{}, errorf(CodeBadHello, "longer than %d bytes", MaxHelloBytes)
	}
	rest, ok := bytes.CutPrefix(trimEOL(line), []byte("!hello"))
	if !ok || (len(rest) > 0 && rest[0] != ' ') {
		return Hello{}, errorf(CodeBadHello, "not a hello line")
	}
	fields := bytes.Split(rest, []byte(" "))[1:] // rest starts with the space
	if len(fields) == 0 || len(fields[0]) == 0 {
		return Hello{}, errorf(CodeBadHello, "want !hello ID [token=TOKEN] [fw=VERSION]")
	}
	var h Hello
	if err := checkID(fields[0]); err != nil {
		return Hello{}, err
	}
	h.ID = string(fields[0])
	seen := map[string]bool{}
	for _, f := range fields[1:] {
		key, value, ok := bytes.Cut(f, []byte("="))
		if !ok {
			if len(f) == 0 {
				return Hello{}, errorf(CodeBadHello, "an empty field (an extra space)")
			}
			// Not quoted: a stray word may be a token typed without its key.
			return Hello{}, errorf(CodeBadHello, "a word without key= after the ID")
		}
		k := string(key)
		if seen[k] {
			return Hello{}, errorf(CodeBadHello, "%s= given twice", quoteKey(key))
		}
		seen[k] = true
		switch k {
		case "token":
			h.Token, h.HasToken = string(value), true
		case "fw":
			if err := checkValue(value); err != nil {
				return Hello{}, errorf(CodeBadHello, "fw: %s", err.Error())
			}
			h.FW = string(value)
		default:
			// Only the key is shown: its value may be a mistyped token.
			return Hello{}, errorf(CodeBadHello, "unknown key %s (want token= or fw=)", quoteKey(key))
		}
	}
	if h.HasToken {
		if err := checkValue([]byte(h.Token)); err != nil {
			return Hello{}, errorf(CodeBadHello, "token: %s", err.Error())
		}
	}
	if err := checkReserved(h.ID); err != nil {
		return Hello{}, err
	}
	return h, nil
}

// ValidID reports whether id may name a board: 1 to MaxIDBytes characters
// of A-Z a-z 0-9 . _ -.
func ValidID(id string) bool {
	return checkID([]byte(id)) == nil
}

func checkID(id []byte) error {
	if len(id) == 0 || len(id) > MaxIDBytes {
		return errorf(CodeBadHello, "the ID must be 1 to %d characters", MaxIDBytes)
	}
	for _, b := range id {
		if !idByte(b) {
			return errorf(CodeBadHello, "the ID may hold only A-Z a-z 0-9 . _ -")
		}
	}
	return nil
}

func idByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-'
}

// checkValue refuses control characters in a token or version: they would
// corrupt logs and topics further on.
func checkValue(v []byte) error {
	for _, b := range v {
		if b < 0x20 || b == 0x7f {
			return fmt.Errorf("control character 0x%02x", b)
		}
	}
	return nil
}

// quoteKey shows a key safely, cut short if long.
func quoteKey(k []byte) string {
	if len(k) > 16 {
		k = k[:16]
	}
	return fmt.Sprintf("%q", k)
}

// trimEOL removes a trailing LF and the CR before it, if any.
func trimEOL(line []byte) []byte {
	line, _ = bytes.CutSuffix(line, []byte("\n"))
	line, _ = bytes.CutSuffix(line, []byte("\r"))
	return line
}
