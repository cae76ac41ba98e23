package gatewaytest

import (
	"bytes"
	"sync"
)

// Buffer collects what a process or goroutine writes while the test reads
// it. The zero value is ready to use.
type Buffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	grew chan struct{}
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.grew != nil {
		select {
		case b.grew <- struct{}{}:
		default:
		}
	}
	return n, err
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Grew returns a channel that receives after writes, so a test can wait
// for more output instead of polling. A signal may stand for several
// writes, so check String again after each one.
func (b *Buffer) Grew() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.grew == nil {
		b.grew = make(chan struct{}, 1)
	}
	return b.grew
}
