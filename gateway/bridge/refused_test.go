package bridge

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// A broker that refuses the lines (here an ACL that lets nobody publish)
// must not be asked again and again without a pause: the lines wait in the
// queue, receipted and kept, and the drain retries with a growing pause
// instead of spinning a core.
func TestRefusingBrokerIsNotSpunOn(t *testing.T) {
	acl := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(acl, []byte("topic read #\ntopic write t/gw1/status\ntopic write t/gw1/+/status\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := gatewaytest.StartMosquittoWith(t, false, "acl_file "+acl+"\n")
	b := openBridge(t, testConfig(t, m.URL()), nil)
	waitConnected(t, b)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := range 5 {
		if err := b.Send(ctx, "b0", []byte(strings.Repeat("x", n+1))); err != nil {
			t.Fatalf("Send %d: %v", n, err)
		}
	}
	gatewaytest.Within(t, brokerWait, "the refused lines in the queue", func() bool { return b.Stats().QueueMessages == 5 })

	// Over a second, the pauses (100 ms, 200 ms, 400 ms, …, from the upper
	// half at random) allow a handful of passes, each publishing at most
	// the one line in flight per board. Without them the drain goes round
	// as fast as the broker answers: thousands of times.
	start := b.Stats().Published
	time.Sleep(time.Second)
	st := b.Stats()
	if n := st.Published - start; n > 20 {
		t.Errorf("%d publishes of refused lines in a second; want a paced retry", n)
	}
	if st.QueueMessages != 5 {
		t.Errorf("queue holds %d lines, want the 5 refused ones kept", st.QueueMessages)
	}
}
