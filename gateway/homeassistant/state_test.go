package homeassistant

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		line string
		want string // the JSON, or "" for ErrNotState
	}{
		{"temp=21.5", `{"temp":21.5}`},
		{"temp=21.5 hum=40", `{"temp":21.5,"hum":40}`},
		{"temp=21.5,hum=40", `{"temp":21.5,"hum":40}`},
		{" ,temp=-3, hum=4e2 ,, ", `{"temp":-3,"hum":4e2}`},
		{"temp=21.5\r", `{"temp":21.5}`},
		{"state=on", `{"state":"on"}`},
		{"url=a=b", `{"url":"a=b"}`},
		{"n=05 p=+1 h=0x1A x=NaN i=Inf d=1. e=.5", `{"n":"05","p":"+1","h":"0x1A","x":"NaN","i":"Inf","d":"1.","e":".5"}`},
		{`q="<script>"`, `{"q":"\"\u003cscript\u003e\""}`},
		{"a=1 a=2 b=3", `{"a":2,"b":3}`},
		{"k_9=0", `{"k_9":0}`},
		{"abcdefghijklmnopqrstuvwxyz012345=1", `{"abcdefghijklmnopqrstuvwxyz012345":1}`},
		{"abcdefghijklmnopqrstuvwxyz0123456=1", ""}, // 33 bytes
		{"", ""},
		{" , ", ""},
		{"hello world", ""},
		{"temp=21.5 and more", ""},
		{"Temp=1", ""},
		{"t-1=1", ""},
		{"=1", ""},
		{"temp=", ""},
		{"temp=1\tx=2", `{"temp":"1\tx=2"}`}, // a tab is not a separator
		{"temp=1\r\r", `{"temp":"1\r"}`},
		{"!ping", ""},
		{"v=\xff", `{"v":"\ufffd"}`},
	}
	for _, tt := range tests {
		pairs, err := ParseState([]byte(tt.line))
		if tt.want == "" {
			if !errors.Is(err, ErrNotState) {
				t.Errorf("ParseState(%q) = %v, %v; want ErrNotState", tt.line, pairs, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseState(%q): %v", tt.line, err)
			continue
		}
		if got := string(StateJSON(pairs)); got != tt.want {
			t.Errorf("StateJSON(ParseState(%q)) = %s; want %s", tt.line, got, tt.want)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "-12", "21.5", "1e3", "1E+3", "2.5e-10", "123456789012345678901234567890"} {
		if !IsJSONNumber(s) {
			t.Errorf("IsJSONNumber(%q) = false; want true", s)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "1.", ".5", "1e", "1e+", "0x1", "NaN", "Inf", "1_000", "1.2.3", " 1"} {
		if IsJSONNumber(s) {
			t.Errorf("IsJSONNumber(%q) = true; want false", s)
		}
	}
}

// FuzzParseState checks that whatever a board sends, a line taken as state
// becomes a valid JSON object with exactly its keys, each a valid key, and
// that numbers stay numbers and strings strings.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"temp=21.5 hum=40", "a=1,b=x", "a=1 a=2", "x=\xff\x00", "k=1e5\r", "", "no"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		pairs, err := ParseState(line)
		if err != nil {
			if !errors.Is(err, ErrNotState) {
				t.Fatalf("ParseState(%q): %v", line, err)
			}
			return
		}
		out := StateJSON(pairs)
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("StateJSON(%q) = %q: not JSON: %v", line, out, err)
		}
		if len(obj) != len(pairs) {
			t.Fatalf("StateJSON(%q) = %s: %d keys, want %d", line, out, len(obj), len(pairs))
		}
		for _, p := range pairs {
			if !ValidKey(p.Key) {
				t.Fatalf("ParseState(%q): bad key %q", line, p.Key)
			}
			v, ok := obj[p.Key]
			if !ok {
				t.Fatalf("StateJSON(%q) = %s: key %q missing", line, out, p.Key)
			}
			if _, num := v.(float64); num != IsJSONNumber(p.Value) {
				t.Fatalf("StateJSON(%q) = %s: %q is %T", line, out, p.Key, v)
			}
		}
	})
}

func TestAddKeys(t *testing.T) {
	keys, added := AddKeys(nil, []Pair{{"a", "1"}, {"b", "2"}})
	if !added || !reflect.DeepEqual(keys, []string{"a", "b"}) {
		t.Fatalf("AddKeys(nil, a b) = %v, %v", keys, added)
	}
	keys, added = AddKeys(keys, []Pair{{"b", "3"}, {"a", "1"}})
	if added || len(keys) != 2 {
		t.Fatalf("AddKeys(a b, b a) = %v, %v; want nothing added", keys, added)
	}
	keys, added = AddKeys(keys, []Pair{{"b", "3"}, {"c", "1"}})
	if !added || !reflect.DeepEqual(keys, []string{"a", "b", "c"}) {
		t.Fatalf("AddKeys(a b, b c) = %v, %v", keys, added)
	}
}
