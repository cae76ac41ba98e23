package gatewaytest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
)

// Gatewayd is the daemon's main package.
const Gatewayd = "github.com/gatewayd/gatewayd/cmd/gatewayd"

// BuildOptions adjust a Build.
type BuildOptions struct {
	// Race builds with the race detector where the toolchain can (it needs
	// cgo), and without it where it cannot, such as a cross-compiled test
	// binary run under qemu.
	Race bool
	// Env is added to the build's environment, such as "GOOS=linux".
	Env []string
	// Flags go to go build before the package, such as "-trimpath" or
	// "-ldflags=-X main.version=v1".
	Flags []string
}

// Build builds the main package pkg, given by import path so that any test
// in the module can name it, into dir and returns the binary's path: dir
// joined with the package's last element. The error carries go build's
// output.
func Build(dir, pkg string, o BuildOptions) (string, error) {
	out := filepath.Join(dir, path.Base(pkg))
	run := func(race bool) ([]byte, error) {
		args := []string{"build", "-o", out}
		if race {
			args = append(args, "-race")
		}
		args = append(args, o.Flags...)
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Env = append(os.Environ(), o.Env...)
		return cmd.CombinedOutput()
	}
	b, err := run(o.Race)
	if err != nil && o.Race {
		b, err = run(false)
	}
	if err != nil {
		return "", fmt.Errorf("gatewaytest: go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// GatewaydBinary returns the gatewayd to test: the binary GATEWAYD_BIN
// names, to test an installed or packaged build, or else cmd/gatewayd
// built for this machine into the test's temporary directory.
func GatewaydBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("GATEWAYD_BIN"); bin != "" {
		return bin
	}
	bin, err := Build(tb.TempDir(), Gatewayd, BuildOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}
