// Package intlist parses the comma-separated lists of positive numbers
// that the benchmarks take as flags (-conns 100,1000).
package intlist

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse returns the numbers in list, which are separated by commas and
// may have spaces around them; each must be a positive integer.
func Parse(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
