package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadRefusesWhatIsNotAConfigFile: a file too big, a device or a FIFO
// is one clear error naming the path, read no further than the bound.
func TestLoadRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# comment\n", MaxFileBytes/10+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact.yaml")
	if err := os.WriteFile(exact, []byte(strings.Repeat("#", MaxFileBytes-1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{big, fmt.Sprintf(`config: %q is %d bytes, more than the 128 KiB allowed`, big, MaxFileBytes/10*10+10)},
		{"/dev/zero", `config: "/dev/zero" is not a regular file (a character device)`},
		{dir, fmt.Sprintf(`config: %q is not a regular file (a directory)`, dir)},
		{fifo, fmt.Sprintf(`config: %q is not a regular file (a named pipe)`, fifo)},
	}
	for _, tt := range tests {
		if _, err := Load(tt.path); err == nil || err.Error() != tt.want {
			t.Errorf("Load(%s) = %v\nwant %s", tt.path, err, tt.want)
		}
	}
	if _, err := Load(exact); err != nil {
		t.Errorf("Load of a file of exactly MaxFileBytes: %v", err)
	}
}

// TestProblemsAreCapped: a file of thousands of mistakes reports the
// first MaxProblems in file order, then how many more there were.
func TestProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "unknown_%d: 1\n", i)
	}
	_, err := Parse("f.yaml", []byte(b.String()))
	lines := strings.Split(fmt.Sprint(err), "\n")
	if len(lines) != MaxProblems+1 {
		t.Fatalf("got %d lines of problems, want %d", len(lines), MaxProblems+1)
	}
	for i, line := range lines[:MaxProblems] {
		if want := fmt.Sprintf("f.yaml:%d: unknown_%d: unknown key", i+1, i); line != want {
			t.Errorf("problem %d = %q, want %q", i, line, want)
		}
	}
	if got, want := lines[MaxProblems], "f.yaml: and 4950 more problems"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	// Exactly MaxProblems are all shown, with no "more" line.
	_, err = Parse("f.yaml", []byte(strings.Join(strings.SplitAfter(b.String(), "\n")[:MaxProblems], "")))
	if n := strings.Count(fmt.Sprint(err), "\n") + 1; n != MaxProblems || strings.Contains(err.Error(), "more problems") {
		t.Errorf("%d problems reported as %d lines:\n%v", MaxProblems, n, err)
	}
}

func TestListsAreBounded(t *testing.T) {
	yaml := "allow: [" + strings.Repeat("\"10.0.0.0/8\", ", maxListItems) + "\"10.0.0.0/8\"]\n"
	_, err := Parse("f.yaml", []byte(yaml))
	if want := "f.yaml:1: allow: a list of 4097 items; at most 4096 are taken"; err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}
