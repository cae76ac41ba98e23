package pitest

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
)

// initramfs writes a gzip-compressed cpio archive in the "newc" format the
// kernel unpacks as its first root file system. Writing it here needs neither
// cpio nor root: the one device node, /dev/console, is only a header.
type initramfs struct {
	f   *os.File
	buf *bufio.Writer
	gz  *gzip.Writer
	ino int
	err error
}

func newInitramfs(path string) (*initramfs, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriter(f)
	return &initramfs{f: f, buf: buf, gz: gzip.NewWriter(buf)}, nil
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeChar = 0o020000
)

func (a *initramfs) write(b []byte) {
	if a.err == nil {
		_, a.err = a.gz.Write(b)
	}
}

// pad aligns the archive to 4 bytes after n bytes of header or data.
func (a *initramfs) pad(n int) {
	if r := n % 4; r != 0 {
		a.write(make([]byte, 4-r))
	}
}

func (a *initramfs) entry(name string, mode, major, minor int, data []byte) {
	a.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, 1, 0, len(data), 0, 0, major, minor, len(name)+1, 0)
	a.write([]byte(hdr + name + "\x00"))
	a.pad(len(hdr) + len(name) + 1)
	a.write(data)
	a.pad(len(data))
}

// Dir adds a directory; parents must come first.
func (a *initramfs) Dir(name string) { a.entry(name, modeDir|0o755, 0, 0, nil) }

// CharDev adds a character device node.
func (a *initramfs) CharDev(name string, major, minor int) {
	a.entry(name, modeChar|0o600, major, minor, nil)
}

// File adds a regular file with the given permissions.
func (a *initramfs) File(name string, perm int, data []byte) {
	a.entry(name, modeFile|perm, 0, 0, data)
}

// Close writes the trailer and reports the first error met.
func (a *initramfs) Close() error {
	a.entry("TRAILER!!!", 0, 0, 0, nil)
	for _, err := range []error{a.err, a.gz.Close(), a.buf.Flush(), a.f.Close()} {
		if err != nil {
			return err
		}
	}
	return nil
}
