package gateway

import "time"

// lazyDeadline keeps a connection deadline armed without paying for a
// SetDeadline call on every read or write, which would be a measurable
// share of an echo's cost. It re-arms only once half the timeout has gone,
// so the deadline can fire up to timeout/2 early; callers then check the
// real time of the last progress and, if it is recent, call extend.
type lazyDeadline struct {
	set     func(time.Time) error
	timeout time.Duration
	armed   time.Time // zero when no deadline is set
}

// arm makes sure a deadline at least timeout/2 after now is set.
func (d *lazyDeadline) arm(now time.Time) {
	if d.timeout <= 0 {
		return
	}
	if d.armed.IsZero() || d.armed.Sub(now) < d.timeout/2 {
		d.extend(now.Add(d.timeout))
	}
}

// extend sets the deadline to t exactly.
func (d *lazyDeadline) extend(t time.Time) {
	d.armed = t
	d.set(t)
}

// expired reports whether a deadline error means that timeout has really
// passed since last progress, and re-arms the deadline if not.
func (d *lazyDeadline) expired(lastProgress, now time.Time) bool {
	if d.timeout <= 0 {
		return true // not our deadline: another cause, such as Shutdown
	}
	end := lastProgress.Add(d.timeout)
	if now.Before(end) {
		d.extend(end)
		return false
	}
	return true
}
