package gateway

import "time"

// rejectLogEvery is the most often one reason's rejections are logged: a
// flood of connections beyond max_clients must not turn into a flood of
// log lines written by the accept loop.
const rejectLogEvery = 10 * time.Second

// rejectLog rate-limits the "client rejected" line per reason. Its owner
// serialises calls (Server.mu).
type rejectLog struct {
	last       [numRejectReasons]time.Time
	suppressed [numRejectReasons]int
}

// allow reports whether to log a rejection for r now, and how many were
// left unlogged since the last line.
func (l *rejectLog) allow(r RejectReason, now time.Time) (bool, int) {
	if !l.last[r].IsZero() && now.Sub(l.last[r]) < rejectLogEvery {
		l.suppressed[r]++
		return false, 0
	}
	n := l.suppressed[r]
	l.last[r], l.suppressed[r] = now, 0
	return true, n
}
