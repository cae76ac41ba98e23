package pki

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// DaemonDir is the documented place for the packaged daemon's pki: the
// unit's ProtectHome= and PrivateTmp= rule out a home directory and /tmp,
// and the daemon runs as user and group gatewayd. Init on it shares the
// server's key with DaemonGroup unless told otherwise.
const (
	DaemonDir   = "/etc/gatewayd/pki"
	DaemonGroup = "gatewayd"
)

// Modes of a pki directory shared with the daemon's group: the daemon may
// enter the directory and read the server's key and certificates; nobody
// else may read the key. The CA's key and the boards' keys stay the
// owner's alone (0600, boards/ 0700): the daemon never needs them.
const (
	sharedDirMode os.FileMode = 0o750
	sharedKeyMode os.FileMode = 0o640
)

// shareWithGroup gives group read access to dir and its server key, as
// the daemon needs under the packaged unit (User=gatewayd). It runs after
// every Init, so a directory made before, or a key renewed, is put right.
func shareWithGroup(dir, group string, gid int, res *Result) error {
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, sharedDirMode},
		{filepath.Join(dir, ServerKeyFile), sharedKeyMode},
	} {
		if err := os.Lchown(f.path, -1, gid); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			return fmt.Errorf("pki: %w", err)
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("%s (mode 0750) and %s (mode 0640) belong to group %s: the daemon can read the server's key, nobody else", dir, ServerKeyFile, group))
	return nil
}

// lookupGroup is group's gid.
func lookupGroup(group string) (int, error) {
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("pki: group %q: %w (is the gatewayd package installed? -group names the group the daemon runs as)", group, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("pki: group %q has gid %q", group, g.Gid)
	}
	return gid, nil
}
