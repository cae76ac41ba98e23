package board

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHello(t *testing.T) {
	long := strings.Repeat("a", MaxIDBytes)
	tests := []struct {
		line string
		want Hello
		code Code // "" when the hello is good
	}{
		{"!hello b1\n", Hello{ID: "b1"}, ""},
		{"!hello b1", Hello{ID: "b1"}, ""},
		{"!hello b1\r\n", Hello{ID: "b1"}, ""},
		{"!hello Kitchen.Sensor_2-a token=s3cret fw=1.4.2\n", Hello{ID: "Kitchen.Sensor_2-a", Token: "s3cret", HasToken: true, FW: "1.4.2"}, ""},
		{"!hello b1 fw=2 token=x==\n", Hello{ID: "b1", Token: "x==", HasToken: true, FW: "2"}, ""},
		{"!hello b1 token=\n", Hello{ID: "b1", HasToken: true}, ""},
		{"!hello " + long + "\n", Hello{ID: long}, ""},
		{"!hello " + long + "a\n", Hello{}, CodeBadHello},
		{"!hello\n", Hello{}, CodeBadHello},
		{"!hello \n", Hello{}, CodeBadHello},
		{"!hello  b1\n", Hello{}, CodeBadHello},
		{"!hello b1 \n", Hello{}, CodeBadHello},
		{"!hellob1\n", Hello{}, CodeBadHello},
		{"!hello b/1\n", Hello{}, CodeBadHello},
		{"!hello b1 extra\n", Hello{}, CodeBadHello},
		{"!hello b1 colour=red\n", Hello{}, CodeBadHello},
		{"!hello b1 token=a token=b\n", Hello{}, CodeBadHello},
		{"!hello b1 fw=\x01\n", Hello{}, CodeBadHello},
		{"!hello b1 token=a\tb\n", Hello{}, CodeBadHello},
		{"!hello b1\n\n", Hello{}, CodeBadHello},
		{"hello b1\n", Hello{}, CodeBadHello},
		{"!hello ip-10-0-0-1\n", Hello{}, CodeReserved},
		{"!hello b1 fw=" + strings.Repeat("v", MaxHelloBytes-14) + "\n", Hello{ID: "b1", FW: strings.Repeat("v", MaxHelloBytes-14)}, ""},
		{"!hello b1 fw=" + strings.Repeat("v", MaxHelloBytes-13) + "\n", Hello{}, CodeBadHello},
	}
	for _, tt := range tests {
		got, err := ParseHello([]byte(tt.line))
		if tt.code == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseHello(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != tt.code {
			t.Errorf("ParseHello(%q) = %+v, %v; want code %s", tt.line, got, err, tt.code)
		}
	}
}

// A refused hello is logged and sent back, so its text must never carry
// the token, even a mistyped one.
func TestParseHelloNeverShowsToken(t *testing.T) {
	for _, line := range []string{
		"!hello b1 token=SECRET extra\n",
		"!hello b1 tokn=SECRET\n",
		"!hello b1 SECRET\n",
		"!hello b1 token=SECRET token=SECRET\n",
		"!hello b/1 token=SECRET\n",
		"!hello b1 token=SECRET\x01\n",
		"!hello ip-1 token=SECRET\n",
	} {
		_, err := ParseHello([]byte(line))
		if err == nil {
			t.Errorf("ParseHello(%q) = nil error, want one", line)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseHello(%q) error %q shows the token", line, err)
		}
	}
}

func TestIsHelloAndParseControl(t *testing.T) {
	tests := []struct {
		line string
		want Kind
	}{
		{"!ping\n", KindPing},
		{"!ping", KindPing},
		{"!ping\r\n", KindPing},
		{"!ping now\n", KindUnknown},
		{"!hello b1\n", KindHello},
		{"!hello\n", KindHello},
		{"!hello bad id\n", KindHello},
		{"!hellothere\n", KindUnknown},
		{"!msg x\n", KindUnknown},
		{"!\n", KindUnknown},
	}
	for _, tt := range tests {
		if got := ParseControl([]byte(tt.line)); got != tt.want {
			t.Errorf("ParseControl(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}

func TestErrLine(t *testing.T) {
	tests := []struct {
		code Code
		text string
		want string
	}{
		{CodeReplaced, "", "!err replaced\n"},
		{CodeBadHello, "unknown key \"x\"", "!err bad-hello unknown key \"x\"\n"},
		{CodeUnknownCommand, "a\nb\rc", "!err unknown-command a b c\n"},
	}
	for _, tt := range tests {
		if got := string(ErrLine(tt.code, tt.text)); got != tt.want {
			t.Errorf("ErrLine(%s, %q) = %q, want %q", tt.code, tt.text, got, tt.want)
		}
	}
}

func TestMsgLineAndPayload(t *testing.T) {
	if got, want := string(MsgLine([]byte("led on"))), "!msg led on\n"; got != want {
		t.Errorf("MsgLine = %q, want %q", got, want)
	}
	if got, want := string(OKLine("b1")), "!ok b1\n"; got != want {
		t.Errorf("OKLine = %q, want %q", got, want)
	}
	for payload, want := range map[string]bool{"": true, "led on": true, "a\nb": false, "a\r": false} {
		if got := ValidPayload([]byte(payload)); got != want {
			t.Errorf("ValidPayload(%q) = %v, want %v", payload, got, want)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"b1": true, "": false, "a b": false, strings.Repeat("x", 64): true, strings.Repeat("x", 65): false, "é": false} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
