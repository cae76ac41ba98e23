package gatewaytest

import (
	"strconv"
	"strings"
	"testing"
)

// MetricValue returns the sample name (with its labels, as written, such
// as `x_total{reason="y"}`) from body in the Prometheus text format, and
// fails the test when there is none or it is not a number.
func MetricValue(tb testing.TB, body, name string) float64 {
	tb.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	tb.Fatalf("no %s in:\n%s", name, body)
	return 0
}
