package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTracked: deploy/check-tracked.sh (make lint) fails on a
// tracked compiled executable and on a tracked file over 1 MiB, and
// passes this repository.
func TestCheckTracked(t *testing.T) {
	script, err := filepath.Abs("check-tracked.sh")
	if err != nil {
		t.Fatal(err)
	}
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	tests := []struct {
		name  string
		files map[string][]byte
		modes map[string]os.FileMode
		want  string // "" passes
	}{
		{"clean", map[string][]byte{"main.go": []byte("package main\n"), "run.sh": []byte("#!/bin/sh\n")},
			map[string]os.FileMode{"run.sh": 0o755}, ""},
		{"a built binary", map[string][]byte{"main.go": []byte("package main\n"), "gatewayctl": elf}, nil,
			"tracked compiled executable: gatewayctl"},
		{"executable bit without #!", map[string][]byte{"tool": []byte("echo hi\n")},
			map[string]os.FileMode{"tool": 0o755}, "tracked executable that is not a #! script: tool"},
		{"over 1 MiB", map[string][]byte{"dump.txt": bytes.Repeat([]byte("x"), 1<<20+1)}, nil,
			"tracked file over 1 MiB (1048577 bytes): dump.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			git(t, dir, "init", "-q")
			for name, data := range tt.files {
				mode := os.FileMode(0o644)
				if m, ok := tt.modes[name]; ok {
					mode = m
				}
				if err := os.WriteFile(filepath.Join(dir, name), data, mode); err != nil {
					t.Fatal(err)
				}
			}
			git(t, dir, "add", ".")
			cmd := exec.Command("bash", script)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if tt.want == "" {
				if err != nil {
					t.Errorf("failed on a clean tree: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("err %v, output %q; want a failure saying %q", err, out, tt.want)
			}
		})
	}
	t.Run("this repository", func(t *testing.T) {
		cmd := exec.Command("bash", script)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	})
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
