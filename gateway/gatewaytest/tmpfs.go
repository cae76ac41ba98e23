package gatewaytest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory and
// returns it; it is unmounted when the test ends. A small one is a disk
// that fills up for real (ENOSPC); Remount makes it read-only (EROFS).
// The test is skipped when mounting is not permitted (not root, or no
// CAP_SYS_ADMIN in a container).
func Tmpfs(tb testing.TB, size int64) string {
	tb.Helper()
	dir := tb.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		tb.Skipf("cannot mount a tmpfs (needs root): %v: %s", err, strings.TrimSpace(string(out)))
	}
	tb.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			tb.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Remount remounts the tmpfs at dir with opts, such as "ro" or "rw".
func Remount(tb testing.TB, dir, opts string) {
	tb.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		tb.Fatalf("remount %s %s: %v: %s", dir, opts, err, out)
	}
}
