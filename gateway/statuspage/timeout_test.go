package statuspage

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway"
	"github.com/gatewayd/gatewayd/gateway/control"
	"github.com/gatewayd/gatewayd/gateway/daemon/httpd"
)

// TestStreamOutlivesServerTimeouts: the metrics listener's read and write
// timeouts suit a scrape; an event stream, served by the same server,
// keeps going past them on one connection.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	var n atomic.Int64
	p := New(Source{
		Status:   func() control.Status { return control.Status{Clients: int(n.Add(1))} }, // changes every time
		Boards:   func() []gateway.BoardInfo { return nil },
		Interval: 20 * time.Millisecond,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 100 * time.Millisecond
	s := &httpd.Server{Handler: p, ReadTimeout: timeout, WriteTimeout: timeout, ReadHeaderTimeout: timeout}
	go s.Serve(l)
	defer s.Shutdown(t.Context())
	defer p.Close()

	res, err := http.Get("http://" + l.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	start := time.Now()
	events := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: snapshot") {
			events++
		}
		if time.Since(start) > 10*timeout && events > 10 {
			return
		}
	}
	t.Fatalf("the stream ended after %v and %d events: %v", time.Since(start), events, sc.Err())
}
