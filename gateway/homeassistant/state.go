package homeassistant

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// MaxKeyBytes is the longest KEY of a KEY=VALUE pair.
const MaxKeyBytes = 32

// Pair is one KEY=VALUE of a state line.
type Pair struct {
	Key   string
	Value string
}

// ErrNotState is returned by ParseState for a line that is not made only
// of KEY=VALUE pairs. Most such lines are ordinary data, not mistakes.
var ErrNotState = errors.New("homeassistant: not a line of KEY=VALUE pairs")

// ParseState reads a data line made only of KEY=VALUE pairs separated by
// spaces or commas (any run of them, also before the first pair and after
// the last). KEY is 1 to MaxKeyBytes of a-z 0-9 _; VALUE is at least one
// byte, none of them a space or a comma, and runs to the next separator:
// it may itself hold "=" (url=a=b is url "a=b"). One CR at the end is the
// line ending of a board that prints with println, not part of the last
// value. A KEY given twice keeps its first place and its last value.
// Anything else is ErrNotState.
func ParseState(line []byte) ([]Pair, error) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	var pairs []Pair
	for i := 0; i < len(line); {
		if isSep(line[i]) {
			i++
			continue
		}
		j := i
		for j < len(line) && !isSep(line[j]) {
			j++
		}
		key, value, ok := bytes.Cut(line[i:j], []byte("="))
		if !ok || !validKey(key) || len(value) == 0 {
			return nil, ErrNotState
		}
		k, v := string(key), string(value)
		if at := slices.IndexFunc(pairs, func(p Pair) bool { return p.Key == k }); at >= 0 {
			pairs[at].Value = v
		} else {
			pairs = append(pairs, Pair{Key: k, Value: v})
		}
		i = j
	}
	if len(pairs) == 0 {
		return nil, ErrNotState
	}
	return pairs, nil
}

func isSep(c byte) bool { return c == ' ' || c == ',' }

// ValidKey says whether key may name a KEY=VALUE pair: 1 to MaxKeyBytes of
// a-z 0-9 _. Such a key is a valid Home Assistant object ID as it is.
func ValidKey(key string) bool { return validKey([]byte(key)) }

func validKey(key []byte) bool {
	if len(key) == 0 || len(key) > MaxKeyBytes {
		return false
	}
	for _, c := range key {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// StateJSON is the JSON object of pairs, in their order: a VALUE written
// as a JSON number (RFC 8259, section 6: -12, 21.5, 1e3) is a number, as
// it was written; any other VALUE is a string ("05", "+1", "0x1A", "NaN"
// and "on" among them), so nothing a board sends is read as more than it
// says.
func StateJSON(pairs []Pair) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(p.Key)) // a-z 0-9 _: JSON and Go quoting agree
		b.WriteByte(':')
		if IsJSONNumber(p.Value) {
			b.WriteString(p.Value)
		} else {
			v, _ := json.Marshal(p.Value) // a string always marshals
			b.Write(v)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// IsJSONNumber says whether s is a number in JSON's grammar.
func IsJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
