package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
)

type nopUplink struct{}

func (nopUplink) Send(_ context.Context, _ string, _ []byte, done func(error)) error {
	done(nil)
	return nil
}

func testPage(t *testing.T) (*Page, *Tap, *httptest.Server) {
	tap := &Tap{Next: nopUplink{}}
	boards := []gateway.BoardInfo{{ID: "b<1>", Remote: netip.MustParseAddrPort("10.0.0.7:4000"), Since: time.Unix(1e9, 0), LastSeen: time.Unix(1e9, 0), MessagesIn: 3}}
	p := New(Source{
		GatewayID: "gw", Version: "1.2.3", Started: time.Now().Add(-time.Hour),
		Status: func() control.Status {
			return control.Status{Healthy: true, Health: "ok", MQTT: &control.MQTT{Broker: "127.0.0.1:1883", QueueMessages: 4, QueueBytes: 99}}
		},
		Boards:   func() []gateway.BoardInfo { return boards },
		LastLine: tap.LastLine,
		Interval: 10 * time.Millisecond,
	})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	return p, tap, srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestPageRoutes(t *testing.T) {
	_, _, srv := testPage(t)
	res, body := get(t, srv.URL+"/")
	if res.StatusCode != 200 || !strings.Contains(body, `<script src="page.js"`) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET / = %d %q %.80s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, path := range []string{"/page.js", "/page.css"} {
		if res, _ := get(t, srv.URL+path); res.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, res.StatusCode)
		}
	}
	_, body = get(t, srv.URL+"/v1/boards")
	var boards []control.Board
	if err := json.Unmarshal([]byte(body), &boards); err != nil || len(boards) != 1 || boards[0].ID != "b<1>" {
		t.Errorf("GET /v1/boards = %s (%v)", body, err)
	}
	_, body = get(t, srv.URL+"/v1/status")
	var st control.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.MQTT == nil || st.MQTT.QueueMessages != 4 {
		t.Errorf("GET /v1/status = %s (%v)", body, err)
	}
	// Nothing on this port changes anything.
	for _, path := range []string{"/", "/v1/boards/b/messages", "/v1/reload", "/v1/status", "/events"} {
		res, err := http.Post(srv.URL+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed && res.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d; want 405 or 404", path, res.StatusCode)
		}
	}
	if res, _ := get(t, srv.URL+"/nothing"); res.StatusCode != 404 {
		t.Errorf("GET /nothing = %d", res.StatusCode)
	}
}

// TestEvents: the stream sends a snapshot at once and a new one when a
// line comes, with everything a board sent JSON-escaped.
func TestEvents(t *testing.T) {
	_, tap, srv := testPage(t)
	tap.Send(context.Background(), "b<1>", []byte("<script>alert(1)</script>"), func(error) {})
	res, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	sc := bufio.NewScanner(res.Body)
	next := func() map[string]any {
		t.Helper()
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				if strings.Contains(data, "<") {
					t.Errorf("event data holds a raw '<': %s", data)
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(data), &m); err != nil {
					t.Fatalf("event data %s: %v", data, err)
				}
				return m
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return nil
	}
	lastLine := func(m map[string]any) string {
		return m["boards"].([]any)[0].(map[string]any)["last_line"].(string)
	}
	m := next()
	if got := lastLine(m); got != "<script>alert(1)</script>" {
		t.Errorf("last_line = %q", got)
	}
	if m["broker"].(map[string]any)["queue_messages"].(float64) != 4 || m["time"] == nil {
		t.Errorf("snapshot = %v", m)
	}
	tap.Send(context.Background(), "b<1>", []byte("temp=22"), func(error) {})
	if got := lastLine(next()); got != "temp=22" {
		t.Errorf("after a new line, last_line = %q", got)
	}
}

func TestTooManyStreams(t *testing.T) {
	p, _, srv := testPage(t)
	for range maxStreams {
		p.streams <- struct{}{}
	}
	if res, _ := get(t, srv.URL+"/events"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /events with every slot taken = %d; want 503", res.StatusCode)
	}
	for range maxStreams {
		<-p.streams
	}
}

func TestTapLastLine(t *testing.T) {
	tap := &Tap{Next: nopUplink{}}
	long := strings.Repeat("é", MaxLastLine+5)
	tests := []struct{ line, want string }{
		{"hello", "hello"},
		{"", ""},
		{"a\xffb", "a\ufffdb"},
		{strings.Repeat("x", MaxLastLine), strings.Repeat("x", MaxLastLine)},
		{strings.Repeat("x", MaxLastLine+1), strings.Repeat("x", MaxLastLine) + "…"},
		{long, strings.Repeat("é", MaxLastLine) + "…"},
		{strings.Repeat("x", 100000), strings.Repeat("x", MaxLastLine) + "…"},
	}
	for _, tt := range tests {
		tap.Send(context.Background(), "b", []byte(tt.line), func(error) {})
		if got := tap.LastLine("b"); got != tt.want {
			t.Errorf("LastLine after %.20q = %.30q; want %.30q", tt.line, got, tt.want)
		}
	}
	tap.Send(context.Background(), "ip-10-0-0-7", []byte("anonymous"), func(error) {})
	if got := tap.LastLine("ip-10-0-0-7"); got != "" {
		t.Errorf("LastLine of a client that never said hello = %q; want none kept", got)
	}
	if got := tap.LastLine("other"); got != "" {
		t.Errorf("LastLine of an unknown board = %q", got)
	}
	tap.Forget("b")
	if got := tap.LastLine("b"); got != "" {
		t.Errorf("LastLine after Forget = %q", got)
	}
}
