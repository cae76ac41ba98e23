package bridge

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestDeadLettersAppendAndCutTornTail(t *testing.T) {
	dir := t.TempDir()
	d, err := openDeadLetters(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.add("b1", []byte("first line")); err != nil {
		t.Fatal(err)
	}
	d.close()
	// A power cut in the middle of the next record.
	f, _ := os.OpenFile(filepath.Join(dir, DeadLetterFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("b2 torn")
	f.Close()
	d, err = openDeadLetters(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.count() != 1 {
		t.Errorf("count = %d, want 1", d.count())
	}
	d.add("b3", []byte("x y"))
	d.close()
	got, err := ReadDeadLetters(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeadLetter{{"b1", []byte("first line")}, {"b3", []byte("x y")}}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i].Board != want[i].Board || !bytes.Equal(got[i].Line, want[i].Line) {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func FuzzParseDeadLetters(f *testing.F) {
	f.Add([]byte("b1 line\nb2 x y\ntorn"))
	f.Add([]byte("\n \nnospace\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, whole := parseDeadLetters(data)
		if whole > len(data) || (whole > 0 && data[whole-1] != '\n') {
			t.Fatalf("whole = %d of %d", whole, len(data))
		}
		for _, r := range recs {
			if r.Board == "" || bytes.ContainsAny(r.Line, "\n") || bytes.ContainsAny([]byte(r.Board), " \n") {
				t.Fatalf("bad record %q", r)
			}
		}
	})
}
