package gateway

import (
	"fmt"
	"sync/atomic"
	"time"
)

// loopWatch tells a loop that is waiting for work (healthy, however long)
// from one that has been busy with a single item for too long (stuck).
type loopWatch struct {
	busySince atomic.Int64 // UnixNano when the current item began; 0 while waiting
}

func (w *loopWatch) waiting() { w.busySince.Store(0) }
func (w *loopWatch) working() { w.busySince.Store(time.Now().UnixNano()) }

func (w *loopWatch) healthy(stall time.Duration) error {
	since := w.busySince.Load()
	if since == 0 {
		return nil
	}
	if busy := time.Since(time.Unix(0, since)); busy > stall {
		return fmt.Errorf("gateway: accept loop stuck for %v", busy.Round(time.Millisecond))
	}
	return nil
}
