package load

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram bounds: nanoseconds, three significant digits, values
// beyond maxLatency recorded as maxLatency.
const (
	minLatency    = int64(time.Microsecond)
	maxLatency    = int64(10 * time.Minute)
	latencyDigits = 3
)

// Histogram records latencies, from any goroutine, and summarises them as
// Percentiles. Run keeps one per group of connections; other benchmarks
// (cmd/internal/mqttbench) use it to report latency the same way.
type Histogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewHistogram returns an empty histogram covering 1µs to 10 minutes.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(minLatency, maxLatency, latencyDigits)}
}

// Record adds one latency; values outside the bounds count as the bound.
func (h *Histogram) Record(d time.Duration) {
	v := min(max(int64(d), minLatency), maxLatency)
	h.mu.Lock()
	_ = h.h.RecordValue(v) // cannot fail: v is within the histogram's range
	h.mu.Unlock()
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.h.Merge(o.h)
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.TotalCount()
}

// Percentiles summarises what was recorded; zero when nothing was.
func (h *Histogram) Percentiles() Percentiles {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return Percentiles{}
	}
	q := func(p float64) time.Duration { return time.Duration(h.h.ValueAtQuantile(p)) }
	return Percentiles{P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), Max: time.Duration(h.h.Max())}
}
