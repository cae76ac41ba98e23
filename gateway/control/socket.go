package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultSocket is where gatewayd under systemd puts its control socket:
// in the directory the unit's RuntimeDirectory=gatewayd makes.
const DefaultSocket = "/run/gatewayd/gatewayd.sock"

// SocketEnv names the environment variable through which gatewayctl is
// told where the control socket is, after its -socket flag.
const SocketEnv = "GATEWAYD_SOCKET"

// SocketDirMode is the mode of a socket directory that gatewayd makes:
// the daemon's group may reach the socket inside, nobody else.
const SocketDirMode = 0o750

// Env is how the socket rules read the machine: the environment and
// whether a directory exists. Tests fill it in; the zero value reads the
// real machine.
type Env struct {
	Getenv func(string) string
	IsDir  func(string) bool
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

func (e Env) isDir(p string) bool {
	if e.IsDir == nil {
		fi, err := os.Stat(p)
		return err == nil && fi.IsDir()
	}
	return e.IsDir(p)
}

// DefaultPath is where the control socket goes when the configuration
// keeps the default, and where gatewayctl looks for it: DefaultSocket
// when its directory exists (systemd made it), else
// $XDG_RUNTIME_DIR/gatewayd/gatewayd.sock for a daemon started by hand in
// a login session, else gatewayd.sock in the working directory. Daemon
// and client apply the same rule, so by hand as under systemd they meet
// without a flag.
func (e Env) DefaultPath() string {
	if e.isDir(filepath.Dir(DefaultSocket)) {
		return DefaultSocket
	}
	if x := e.getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "gatewayd", "gatewayd.sock")
	}
	return "gatewayd.sock"
}

// ServerPath is where the daemon listens for the configured control
// path: "" (off) stays off, DefaultSocket follows DefaultPath, any
// other path is used as it is.
func (e Env) ServerPath(configured string) string {
	if configured == DefaultSocket {
		return e.DefaultPath()
	}
	return configured
}

// ClientPath is where gatewayctl looks: the -socket flag if given, else
// $GATEWAYD_SOCKET, else DefaultPath.
func (e Env) ClientPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := e.getenv(SocketEnv); s != "" {
		return s
	}
	return e.DefaultPath()
}

// MakeDir makes the directory of the socket at path, mode SocketDirMode,
// if it is missing; an existing one is left as it is. A path that cannot
// hold a socket is an error that says what to change, so the daemon
// never runs without its socket in silence.
func MakeDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("control: %q: %q is not a directory; set control to a path in a directory, or \"\" for none", path, dir)
	case errors.Is(err, syscall.ENOTDIR):
		return CheckDir(path) // says which part is a file
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("control: %q: %w", path, err)
	}
	if err := os.MkdirAll(dir, SocketDirMode); err != nil {
		return fmt.Errorf("control: making the socket's directory: %w; set control to a path in a directory you can write, or \"\" for none", err)
	}
	// MkdirAll's mode passes through the umask (UMask=0077 under systemd
	// would leave the group out): set it outright on the last directory.
	if err := os.Chmod(dir, SocketDirMode); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// CheckDir says whether MakeDir could succeed for the socket at path,
// without changing anything: what `gatewayd -check` reports.
func CheckDir(path string) error {
	dir := filepath.Dir(path)
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			if filepath.Dir(d) == d {
				break
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("control: %q: %w", path, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("control: %q: %q is not a directory; set control to a path in a directory, or \"\" for none", path, d)
		}
		if d == dir {
			return nil // exists: Listen reports anything else
		}
		// d exists and will hold the new directories: can we write it?
		if err := unixAccessW(d); err != nil {
			return fmt.Errorf("control: %q: cannot make %q in %q: %w; set control to a path in a directory you can write, or \"\" for none", path, dir, d, err)
		}
		return nil
	}
	return nil
}
