package gatewaytest

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBufferConcurrentWritesAndReads(t *testing.T) {
	var b Buffer
	grew := b.Grew()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got, want := strings.Count(b.String(), "\n"), 400; got != want {
		t.Errorf("lines = %d, want %d", got, want)
	}
	select {
	case <-grew:
	default:
		t.Errorf("Grew not signalled after writes")
	}
}

func TestEventuallyWaitsForCond(t *testing.T) {
	var ready atomic.Bool
	start := time.Now() // before the timer is set, so waited cannot fall short of 20 ms
	time.AfterFunc(20*time.Millisecond, func() { ready.Store(true) })
	Eventually(t, "ready", ready.Load)
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("returned after %v, before cond held", waited)
	}
}

func TestBuildNamesBinaryAfterPackage(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command here")
	}
	bin, err := Build(t.TempDir(), "github.com/gatewayd/gatewayd/cmd/internal/echobaseline", BuildOptions{Race: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(bin, "/echobaseline") {
		t.Errorf("binary = %q, want it named echobaseline", bin)
	}
	if _, err := Build(t.TempDir(), "github.com/gatewayd/gatewayd/no/such/package", BuildOptions{}); err == nil || !strings.Contains(err.Error(), "no/such/package") {
		t.Errorf("building a missing package: %v; want an error naming it", err)
	}
}
