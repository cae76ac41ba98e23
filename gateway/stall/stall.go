// Package stall tells a loop that is waiting for work, however long, from
// one stuck on a single item: an accept that never returns, or a GPIO
// write that hangs. A daemon that is only idle must keep feeding systemd's
// watchdog; one that is stuck must not.
//
// gatewayd's accept loop (package gateway) and its LED worker (package
// gpio) both keep a Watch. The package imports neither, so gpio can use
// it without depending on the network core.
package stall

import (
	"sync/atomic"
	"time"
)

// Watch is one loop's liveness. The zero value is a loop that is waiting.
// Its methods are safe to call from any goroutine; the loop calls Working
// and Waiting, and a health check calls Stuck.
type Watch struct {
	busySince atomic.Int64 // UnixNano when the current item began; 0 while waiting
}

// Working records that the loop began an item at now.
func (w *Watch) Working(now time.Time) {
	ns := now.UnixNano()
	if ns == 0 {
		ns = 1 // 0 means waiting
	}
	w.busySince.Store(ns)
}

// Waiting records that the loop is waiting for its next item.
func (w *Watch) Waiting() { w.busySince.Store(0) }

// Stuck reports how long, at now, the loop has been busy with its current
// item when that is longer than limit, and 0 when the loop is waiting or
// has been busy for no longer than limit.
func (w *Watch) Stuck(now time.Time, limit time.Duration) time.Duration {
	since := w.busySince.Load()
	if since == 0 {
		return 0
	}
	if busy := now.Sub(time.Unix(0, since)); busy > limit {
		return busy
	}
	return 0
}
