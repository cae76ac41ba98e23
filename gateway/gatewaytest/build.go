package gatewaytest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
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
	// Dir is where go build runs; "" is the working directory. A package
	// given as "./cmd/gatewayd" is relative to it.
	Dir string
}

// Build builds the main package pkg, given by import path so that any test
// in the module can name it, into dir and returns the binary's path: dir
// joined with the package's last element. The error carries go build's
// output.
func Build(dir, pkg string, o BuildOptions) (string, error) {
	out := filepath.Join(dir, path.Base(pkg))
	return out, BuildTo(context.Background(), out, pkg, o)
}

// BuildTo builds the main package pkg into the file out. It is the one
// place the tests and the benchmark commands (cmd/internal/proc) build
// gatewayd and the other commands.
func BuildTo(ctx context.Context, out, pkg string, o BuildOptions) error {
	run := func(race bool) ([]byte, error) {
		args := []string{"build", "-o", out}
		if race {
			args = append(args, "-race")
		}
		args = append(args, o.Flags...)
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = o.Dir
		cmd.Env = append(os.Environ(), o.Env...)
		return cmd.CombinedOutput()
	}
	b, err := run(o.Race)
	if err != nil && o.Race {
		b, err = run(false)
	}
	if err != nil {
		return fmt.Errorf("gatewaytest: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
