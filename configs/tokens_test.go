package configs

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name string
		data string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"comments only", "# none yet\n", map[string]string{}},
		{"two boards", "esp32-kitchen: 9f86d081\nESP.garage_2: \"x-y=z\"\n", map[string]string{"esp32-kitchen": "9f86d081", "ESP.garage_2": "x-y=z"}},
		{"number kept as written", "b: 0123\n", map[string]string{"b": "0123"}},
		{"flow mapping", "{a: t1, b: t2}\n", map[string]string{"a": "t1", "b": "t2"}},
		{"64-byte ID", strings.Repeat("i", 64) + ": t\n", map[string]string{strings.Repeat("i", 64): "t"}},
		{"128-byte token", "b: " + strings.Repeat("t", 128) + "\n", map[string]string{"b": strings.Repeat("t", 128)}},
	}
	for _, tt := range tests {
		got, err := ParseTokens("tokens.yaml", []byte(tt.data))
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("%s: ParseTokens = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseTokensProblems(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"a list", "- a\n- b\n", []string{`tokens.yaml:1: want a mapping of board ID: token, got a list`}},
		{"a scalar", "hello\n", []string{`tokens.yaml:1: want a mapping of board ID: token, got "hello"`}},
		{"bad ID", "\"a b\": t\n", []string{`tokens.yaml:1: board ID "a b": only A-Z a-z 0-9 . _ - are allowed`}},
		{"empty ID", "\"\": t\n", []string{`tokens.yaml:1: board ID "": must be 1 to 64 characters, got 0`}},
		{"long ID", strings.Repeat("i", 65) + ": t\n", []string{`tokens.yaml:1: board ID "` + strings.Repeat("i", 65) + `": must be 1 to 64 characters, got 65`}},
		{"mapping as ID", "? {a: b}\n: t\n", []string{`tokens.yaml:1: want a board ID, got a mapping`}},
		{"twice", "a: t\nb: u\na: v\n", []string{`tokens.yaml:3: a: listed twice (first at line 1)`}},
		{"no token", "a:\n", []string{`tokens.yaml:1: a: want a token, got nothing`}},
		{"empty token", "a: \"\"\n", []string{`tokens.yaml:1: a: empty token`}},
		{"list token", "a: [x]\n", []string{`tokens.yaml:1: a: want a token, got a list`}},
		{"bool token", "a: true\n", []string{`tokens.yaml:1: a: want a token string (quote it)`}},
		{"space in token", "a: \"se cret\"\n", []string{`tokens.yaml:1: a: token has a byte 0x20 at 2; only printable ASCII without spaces is allowed`}},
		{"long token", "a: " + strings.Repeat("t", 129) + "\n", []string{`tokens.yaml:1: a: token is 129 bytes; at most 128 fit in a hello`}},
		{"bad YAML", "a: t\n b: u\n", []string{`tokens.yaml:2: invalid YAML: mapping values are not allowed in this context`}},
		{"second document", "a: t\n---\nb: u\n", []string{`tokens.yaml:2: a second YAML document`}},
		{"several", "ok: t\n\"x y\": t\nok: u\nz:\n", []string{
			`tokens.yaml:2: board ID "x y"`,
			`tokens.yaml:3: ok: listed twice`,
			`tokens.yaml:4: z: want a token`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokens("tokens.yaml", []byte(tt.data))
			if got != nil {
				t.Errorf("ParseTokens returned %v with its error", got)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("ParseTokens = %v (%T), want Problems", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d problems:\n%v\nwant %d", len(lines), err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, lines[i], w)
				}
			}
			// A token is a secret: no problem quotes one.
			if strings.Contains(err.Error(), "se cret") {
				t.Errorf("a problem quotes the token: %v", err)
			}
		})
	}
}

// FuzzParseTokens: whatever the tokens file holds, ParseTokens does not
// panic, and returns either tokens that a hello can carry or problems
// that each name the file.
func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("esp32-kitchen: 9f86d081\nESP.garage_2: \"x-y=z\"\n"))
	f.Add([]byte(""))
	f.Add([]byte("a: &x t\nb: *x\n\"a b\": t\na: u\n"))
	f.Add([]byte("- a\n"))
	f.Add([]byte("{a: [x], b: \"\", c: true}\n---\nd: e\n"))
	const file = "tokens.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, err := ParseTokens(file, data)
		if err != nil {
			var ps Problems
			if tokens != nil || !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("ParseTokens = %v, %v (%T); want nil and Problems", tokens, err, err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, file+":") {
					t.Errorf("problem %q does not start with the file name", line)
				}
			}
			return
		}
		for id, token := range tokens {
			if checkBoardID(id) != nil {
				t.Errorf("accepted board ID %q", id)
			}
			if token == "" || len(token) > maxTokenBytes || strings.ContainsAny(token, " \t\r\n\x00") {
				t.Errorf("accepted token %q for %q", token, id)
			}
		}
	})
}
