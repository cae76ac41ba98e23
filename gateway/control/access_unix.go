//go:build unix

package control

import "syscall"

// unixAccessW is access(2) for writing: whether this process may create
// entries in dir.
func unixAccessW(dir string) error {
	return syscall.Access(dir, 0x2|0x1) // W_OK|X_OK
}
