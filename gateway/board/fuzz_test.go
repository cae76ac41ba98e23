package board

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParseHello feeds arbitrary lines to the hello and control parsers:
// they must never panic, must agree with each other, and an accepted hello
// must satisfy every rule of the protocol and survive a round trip.
func FuzzParseHello(f *testing.F) {
	for _, s := range []string{
		"!hello b1\n", "!hello b1 token=t fw=1.0\n", "!hello b1 fw=x token=\r\n",
		"!hello ip-1\n", "!hello b1 x\n", "!hello  \n", "!ping\n", "!pong", "data\n",
		"!hello " + strings.Repeat("z", 70) + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		kind := ParseControl(line)
		h, err := ParseHello(line)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeBadHello && e.Code != CodeReserved) {
				t.Fatalf("ParseHello(%q) error %v: want a bad-hello or reserved *Error", line, err)
			}
			if e.Code == CodeReserved && kind != KindHello {
				t.Fatalf("ParseHello(%q) reserved, but ParseControl says %v", line, kind)
			}
			if bytes.Contains(e.Line()[:len(e.Line())-1], []byte("\n")) {
				t.Fatalf("ParseHello(%q): answer %q is not one line", line, e.Line())
			}
			return
		}
		if kind != KindHello || !IsHello(line) {
			t.Fatalf("ParseHello(%q) accepted, but ParseControl says %v", line, kind)
		}
		if len(line) > MaxHelloBytes {
			t.Fatalf("ParseHello accepted %d bytes", len(line))
		}
		if !ValidID(h.ID) || strings.HasPrefix(h.ID, ReservedPrefix) {
			t.Fatalf("ParseHello(%q) accepted ID %q", line, h.ID)
		}
		if strings.ContainsAny(h.Token+h.FW, " \n\r\x00") {
			t.Fatalf("ParseHello(%q) = %+v: a value holds a separator", line, h)
		}
		again := "!hello " + h.ID
		if h.HasToken {
			again += " token=" + h.Token
		}
		if h.FW != "" {
			again += " fw=" + h.FW
		}
		h2, err := ParseHello([]byte(again))
		if err != nil || h2 != h {
			t.Fatalf("round trip of %q via %q = %+v, %v; want %+v", line, again, h2, err, h)
		}
	})
}
