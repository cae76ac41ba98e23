package gateway

import "golang.org/x/sys/unix"

// unacknowledged returns the bytes written to socket fd that its peer has
// not acknowledged yet (unsent ones included).
func unacknowledged(fd uintptr) (int, bool) {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
	return n, err == nil
}
