package intlist

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	if got, err := Parse("100, 1000"); err != nil || !slices.Equal(got, []int{100, 1000}) {
		t.Errorf(`Parse("100, 1000") = %v, %v; want [100 1000]`, got, err)
	}
	for _, bad := range []string{"", "0", "-5", "10,x", "10,,20", "1.5"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, accepted", bad, got)
		}
	}
}
