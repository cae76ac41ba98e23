package configs

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Bounds on the files a configuration names: each is a few hundred bytes
// when it is what it should be, so the bounds only stop a wrong path
// (a log, a disk image, /dev/zero) from being read into memory.
const (
	maxTokensFileBytes   = 1 << 20
	maxPasswordFileBytes = 64 << 10 // MQTT caps a password at 65535 bytes
	maxPEMFileBytes      = 1 << 20
)

// readFile reads the regular file at path, refusing anything else (a
// device or a FIFO, which could block or never end) and anything larger
// than limit bytes. Its errors name the path and say what to fix.
func readFile(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO would otherwise wait for a writer. It
	// changes nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q is not a regular file (%s)", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%q is %d bytes, more than the %s allowed", path, fi.Size(), sizeName(limit))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	if int64(len(data)) > limit { // it grew while we read it
		return nil, fmt.Errorf("%q is more than the %s allowed", path, sizeName(limit))
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

func sizeName(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
