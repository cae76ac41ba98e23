package board

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	tests := []struct {
		id   string
		want string // in the error; "" for ok
	}{
		{"a", ""},
		{"esp32-kitchen_01.v2", ""},
		{strings.Repeat("x", 64), ""},
		{"kip-1", ""},
		{"", "1 to 64 characters"},
		{strings.Repeat("x", 65), "1 to 64 characters"},
		{"has space", "only A-Z a-z 0-9 . _ -"},
		{"slash/no", "only A-Z a-z 0-9 . _ -"},
		{"ümlaut", "only A-Z a-z 0-9 . _ -"},
		{"new\nline", "only A-Z a-z 0-9 . _ -"},
		// pki issued certificates for these, which the gateway refused.
		{"ip-x", `board ID "ip-x": IDs starting with "ip-" name clients that never said hello`},
		{"ip-10-0-0-1", `IDs starting with "ip-"`},
	}
	for _, tt := range tests {
		err := CheckID(tt.id)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckID(%q) = %v, want ok", tt.id, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckID(%q) = %v, want an error saying %q", tt.id, err, tt.want)
		}
		// The hello and CheckID agree on every ID.
		_, herr := ParseHello([]byte("!hello " + tt.id + "\n"))
		if (herr == nil) != (err == nil) && !strings.ContainsAny(tt.id, " \n") && tt.id != "" {
			t.Errorf("ParseHello(%q) = %v but CheckID = %v", tt.id, herr, err)
		}
	}
}

func TestAnonymousID(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":       "ip-192-0-2-7",
		"2001:db8::1":     "ip-2001-db8--1",
		"fe80::1%eth0":    "ip-fe80--1",
		"::ffff:10.0.0.1": "ip---ffff-10-0-0-1",
	} {
		got := AnonymousID(netip.MustParseAddr(addr))
		if got != want {
			t.Errorf("AnonymousID(%s) = %q, want %q", addr, got, want)
		}
		if CheckID(got) == nil {
			t.Errorf("CheckID(%q) = nil: a board could take an anonymous client's name", got)
		}
	}
}
