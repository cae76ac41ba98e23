package bridge

import (
	"bytes"
	"errors"
	"testing"
)

func TestLineRecord(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		wantBoard string
		wantLine  string
		wantErr   error
	}{
		{"board and line", encodeLine("b1", []byte("t=21.5")), "b1", "t=21.5", nil},
		{"empty line", encodeLine("ip-10-0-0-7", nil), "ip-10-0-0-7", "", nil},
		{"empty", nil, "", "", errBadRecord},
		{"empty board", []byte{0, 'x'}, "", "", errBadRecord},
		{"board longer than record", []byte{9, 'a'}, "", "", errBadRecord},
		{"bad varint", bytes.Repeat([]byte{0xff}, 11), "", "", errBadRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			board, line, err := decodeLine(tt.in)
			if !errors.Is(err, tt.wantErr) || board != tt.wantBoard || string(line) != tt.wantLine {
				t.Errorf("decodeLine = %q, %q, %v; want %q, %q, %v", board, line, err, tt.wantBoard, tt.wantLine, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeLine: a spooled record decodes to what was encoded, and no
// input makes the decoder panic.
func FuzzDecodeLine(f *testing.F) {
	f.Add(encodeLine("b1", []byte("hello")))
	f.Add([]byte{0x80})
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		board, line, err := decodeLine(b)
		if err != nil {
			return
		}
		if again := encodeLine(board, line); !bytes.Equal(again, b) && board != "" {
			// A non-minimal varint decodes too; it must still round-trip
			// to the same board and line.
			b2, l2, err := decodeLine(again)
			if err != nil || b2 != board || !bytes.Equal(l2, line) {
				t.Fatalf("round trip of %q, %q failed", board, line)
			}
		}
	})
}
