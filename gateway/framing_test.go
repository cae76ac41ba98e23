package gateway

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// recordConn is a net.Conn that keeps what is written to it, so line
// framing can be driven chunk by chunk without a socket or a goroutine.
type recordConn struct {
	net.Conn // nil: only the methods below are called
	out      bytes.Buffer
}

func (r *recordConn) Write(p []byte) (int, error)      { return r.out.Write(p) }
func (r *recordConn) SetReadDeadline(time.Time) error  { return nil }
func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

// frame feeds chunks to one line-framed connection, each as if one read
// had returned it, then half-closes as the client would. It returns what
// was echoed, the error that ended the connection (nil for a clean close)
// and the connection's counts.
func frame(chunks [][]byte, limit int) (echoed []byte, c *conn, err error) {
	rc := &recordConn{}
	s := &Server{Logger: slog.New(slog.DiscardHandler)}
	c = newConn(s, rc, netip.MustParseAddrPort("192.0.2.1:4000"), &Policy{Framing: FramingLine, MaxMessageBytes: limit})
	now := time.Now()
	for _, chunk := range chunks {
		if err := c.handle(chunk, now); err != nil {
			return rc.out.Bytes(), c, err
		}
	}
	err = c.finish()
	return rc.out.Bytes(), c, err
}

func TestLineFramingReads(t *testing.T) {
	for _, tt := range []struct {
		name    string
		chunks  []string
		limit   int
		want    string
		wantErr error
	}{
		{"one line", []string{"hello\n"}, 0, "hello\n", nil},
		{"two lines in one read", []string{"a\nbb\n"}, 0, "a\nbb\n", nil},
		{"line split across reads", []string{"par", "tial", " line\n"}, 0, "partial line\n", nil},
		{"LF alone in a read", []string{"x", "\n", "\n"}, 0, "x\n\n", nil},
		{"unfinished line echoed at half-close", []string{"a\nrest"}, 0, "a\nrest", nil},
		{"line of exactly the limit", []string{"1234567\n"}, 8, "1234567\n", nil},
		{"line one over the limit", []string{"ok\n12345678\n"}, 8, "ok\n", ErrLineTooLong},
		{"over the limit before its LF", []string{"ok\n1234", "56789"}, 8, "ok\n", ErrLineTooLong},
		{"over the limit across reads", []string{"1234", "5678", "\n"}, 8, "", ErrLineTooLong},
		{"nothing after a refused line", []string{"123456789\nlater\n"}, 8, "", ErrLineTooLong},
		{"limit without LF ended by half-close", []string{"12345678"}, 8, "12345678", nil},
		{"zero is no limit", []string{string(bytes.Repeat([]byte("d"), 1<<20)) + "\n"}, 0, string(bytes.Repeat([]byte("d"), 1<<20)) + "\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var chunks [][]byte
			for _, c := range tt.chunks {
				chunks = append(chunks, []byte(c))
			}
			got, _, err := frame(chunks, tt.limit)
			if string(got) != tt.want || err != tt.wantErr {
				t.Errorf("echoed %q, ended by %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzLineFraming: however a stream is split into reads, the echo is
// exactly its lines, in order, each whole; the first line longer than the
// limit (LF included) ends the connection with ErrLineTooLong, and
// nothing from it or after it is echoed. An unfinished last line is echoed
// at the half-close.
func FuzzLineFraming(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), []byte{3, 1}, uint8(16))
	f.Add([]byte("a\n\nbb\nccc"), []byte{1, 1, 1, 1}, uint8(3))
	f.Add([]byte("0123456789abcdef\nshort\n"), []byte{5}, uint8(8))
	f.Add([]byte("no newline at all"), []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, stream, cuts []byte, limit8 uint8) {
		limit := int(limit8) // 0: no limit
		// Each byte of cuts is the length of the next read (0 means 1);
		// the rest of the stream is the last read.
		var chunks [][]byte
		rest := stream
		for _, cut := range cuts {
			if len(rest) == 0 {
				break
			}
			n := min(max(int(cut), 1), len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		if len(rest) > 0 {
			chunks = append(chunks, rest)
		}

		var want []byte
		var wantErr error
		var lines uint64
		for line := range bytes.SplitAfterSeq(stream, []byte("\n")) {
			if len(line) == 0 {
				break // after a final LF: no unfinished line
			}
			if limit > 0 && len(line) > limit {
				wantErr = ErrLineTooLong
				break
			}
			want = append(want, line...)
			lines++
		}

		got, c, err := frame(chunks, limit)
		if !bytes.Equal(got, want) || err != wantErr {
			t.Fatalf("reads %q, limit %d: echoed %q, ended by %v; want %q, %v", chunks, limit, got, err, want, wantErr)
		}
		if n := c.messages.Load(); n != lines {
			t.Errorf("counted %d messages echoed, want %d", n, lines)
		}
		if n := c.bytesOut.Load(); n != uint64(len(want)) {
			t.Errorf("counted %d bytes out, want %d", n, len(want))
		}
	})
}
