package statuspage

import (
	"context"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gatewayd/gatewayd/gateway"
	boardpkg "github.com/gatewayd/gatewayd/gateway/board"
)

// MaxLastLine is how much of a board's last line the page shows; longer
// lines are cut (at a character boundary) and marked with "…".
const MaxLastLine = 200

// Tap is an Uplink that remembers each board's last line for the page and
// passes every line on to Next unchanged. The gateway keeps counters of
// a board but not its lines, and the Uplink is where the lines are.
type Tap struct {
	Next gateway.Uplink

	mu    sync.Mutex
	lines map[string]*lastLine
}

type lastLine struct {
	buf []byte // reused: a board's lines cost no allocation each
	cut bool   // the line was longer than buf
}

// Send records line as board's last, then hands it to Next. A client
// that never said hello (ip-ADDRESS) is not on the page: its lines are
// not kept, so clients from many addresses cost nothing here.
func (t *Tap) Send(ctx context.Context, board string, line []byte, done func(error)) error {
	if strings.HasPrefix(board, boardpkg.ReservedPrefix) {
		return t.Next.Send(ctx, board, line, done)
	}
	t.mu.Lock()
	if t.lines == nil {
		t.lines = map[string]*lastLine{}
	}
	l := t.lines[board]
	if l == nil {
		l = &lastLine{}
		t.lines[board] = l
	}
	// Enough bytes for MaxLastLine characters of up to 4 bytes each.
	l.buf = append(l.buf[:0], line[:min(len(line), MaxLastLine*utf8.UTFMax)]...)
	l.cut = len(line) > len(l.buf)
	t.mu.Unlock()
	return t.Next.Send(ctx, board, line, done)
}

// LastLine returns board's last line as text: invalid UTF-8 is shown as
// U+FFFD, and a line longer than MaxLastLine characters ends with "…".
func (t *Tap) LastLine(board string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.lines[board]
	if l == nil {
		return ""
	}
	b, cut := l.buf, l.cut
	var out []rune
	for len(b) > 0 && len(out) < MaxLastLine {
		r, n := utf8.DecodeRune(b)
		out = append(out, r)
		b = b[n:]
	}
	if cut || len(b) > 0 {
		return string(out) + "…"
	}
	return string(out)
}

// Forget drops board's last line, for a board that is gone for good.
func (t *Tap) Forget(board string) {
	t.mu.Lock()
	delete(t.lines, board)
	t.mu.Unlock()
}
