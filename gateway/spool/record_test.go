package spool

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeRecord(t *testing.T) {
	good := appendRecord(nil, []byte("hello"))
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	huge := bytes.Clone(good)
	huge[3] = 0xff
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantN   int
		wantErr error
	}{
		{"whole record", good, "hello", len(good), nil},
		{"record then more", append(bytes.Clone(good), 1, 2, 3), "hello", len(good), nil},
		{"empty payload", appendRecord(nil, nil), "", headerSize, nil},
		{"nothing", nil, "", 0, errShort},
		{"half a header", good[:5], "", 0, errShort},
		{"payload cut", good[:len(good)-1], "", 0, errShort},
		{"payload flipped", flipped, "", 0, errCorrupt},
		{"length too large", huge, "", 0, errCorrupt},
		{"zeroes", make([]byte, 16), "", 0, errCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := decodeRecord(tt.in)
			if !errors.Is(err, tt.wantErr) || string(got) != tt.want || n != tt.wantN {
				t.Errorf("decodeRecord = %q, %d, %v; want %q, %d, %v", got, n, err, tt.want, tt.wantN, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeRecord feeds the decoder what a torn or damaged segment could
// hold: it must never panic, never read past its input, and whatever it
// accepts must encode back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, []byte("hello")))
	f.Add(appendRecord(nil, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, n, err := decodeRecord(b)
		if err != nil {
			if n != 0 || payload != nil {
				t.Fatalf("error %v with n=%d payload=%q", err, n, payload)
			}
			return
		}
		if n > len(b) || n != headerSize+len(payload) {
			t.Fatalf("n=%d for %d input bytes and %d payload bytes", n, len(b), len(payload))
		}
		if again := appendRecord(nil, payload); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b[:n])
		}
	})
}
