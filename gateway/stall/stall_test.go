package stall

import (
	"testing"
	"time"
)

func TestStuck(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const limit = 5 * time.Second
	tests := []struct {
		name    string
		working bool // Working(start) was called last, not Waiting
		at      time.Duration
		want    time.Duration
	}{
		{"waiting, however long", false, time.Hour, 0},
		{"busy, within the limit", true, 2 * time.Second, 0},
		{"busy, exactly the limit", true, limit, 0},
		{"busy, past the limit", true, limit + time.Millisecond, limit + time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Watch
			w.Working(start)
			if !tt.working {
				w.Waiting()
			}
			if got := w.Stuck(start.Add(tt.at), limit); got != tt.want {
				t.Errorf("Stuck(+%v, %v) = %v, want %v", tt.at, limit, got, tt.want)
			}
		})
	}
}

func TestZeroWatchIsWaiting(t *testing.T) {
	var w Watch
	if got := w.Stuck(time.Now(), 0); got != 0 {
		t.Errorf("zero Watch: Stuck = %v, want 0", got)
	}
}

// A loop that starts an item at the Unix epoch is busy, not waiting, even
// though the epoch's UnixNano is the value that marks waiting.
func TestWorkingAtEpoch(t *testing.T) {
	var w Watch
	w.Working(time.Unix(0, 0))
	if got := w.Stuck(time.Unix(10, 0), time.Second); got < 9*time.Second {
		t.Errorf("Stuck 10s after Working at the epoch = %v, want about 10s", got)
	}
}
