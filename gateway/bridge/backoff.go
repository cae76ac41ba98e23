package bridge

import (
	"math/rand/v2"
	"time"
)

// backoff returns the bridge's reconnect delay: doubling from lo, capped at
// hi, and drawn at random from the upper half so that a fleet of gateways
// does not reconnect to a restarted broker all at once.
func backoff(lo, hi time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		if attempt <= 0 {
			return 0
		}
		d := lo
		for i := 1; i < attempt && d < hi; i++ {
			d *= 2
		}
		d = min(d, hi)
		return d/2 + rand.N(d/2+1)
	}
}
