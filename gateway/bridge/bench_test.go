package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/gateway/gatewaytest"
)

// BenchmarkSend measures lines a second through Send, each returning
// after its PUBACK from a real mosquitto, for 1 and 100 senders (boards)
// at once, and the CPU time this process spent per line (user and
// system, mosquitto's not included), with the batching connection
// (batchconn.go) and without it. Run it under the heavy lock:
//
//	flock /tmp/gw-heavy.lock go test -run '^$' -bench Send -benchtime 100000x ./gateway/bridge
func BenchmarkSend(b *testing.B) {
	for _, c := range []struct {
		senders int
		conn    string
	}{{1, "batch"}, {1, "plain"}, {100, "batch"}, {100, "plain"}} {
		senders := c.senders
		b.Run(fmt.Sprintf("senders=%d/conn=%s", senders, c.conn), func(b *testing.B) {
			batchWrites = c.conn == "batch"
			defer func() { batchWrites = true }()
			m := gatewaytest.StartMosquitto(b, false)
			br, err := Open(Config{Brokers: brokers(m.URL()), GatewayID: "bench", TopicPrefix: "t", QueueDir: filepath.Join(b.TempDir(), "q")},
				func(string, []byte) error { return nil }, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close(context.Background())
			waitConnected(b, br)
			line := []byte("t=21.50 h=40.2 seq=0000001")
			cpu0 := processCPU(b)
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := range senders {
				n := b.N / senders
				if i < b.N%senders {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					board := fmt.Sprintf("b%d", i)
					for range n {
						if err := sendSync(br, context.Background(), board, line); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
			st := br.Stats()
			b.ReportMetric(float64(st.Spooled), "spooled")
		})
	}
}

// processCPU is the CPU time, user and system, this process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
