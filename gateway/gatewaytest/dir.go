package gatewaytest

import (
	"errors"
	"os"
	"testing"
)

// DirNames returns the names of the entries in dir, sorted, or nil when
// dir does not exist; any other error fails the test.
func DirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
