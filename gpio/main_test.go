package gpio

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no LED worker behind: a worker that outlives its
// context would keep writing to lines the next configuration owns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
