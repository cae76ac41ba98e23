package spool

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// segLayout writes records 0..n-1 (each recordBytes long on disk) into a
// queue in dir and returns, for each, its segment file and offset.
type recAt struct {
	file     string
	off, end int64
}

func writeNumbered(t testing.TB, dir string, n int, pad int) []recAt {
	t.Helper()
	q, err := Open(dir, Options{SegmentBytes: minSegmentBytes, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var at []recAt
	for i := range n {
		p := payloadN(i, pad)
		if err := q.Append(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		q.mu.Lock()
		tail := q.segs[len(q.segs)-1]
		q.mu.Unlock()
		size := int64(headerSize + len(p))
		at = append(at, recAt{file: q.segPath(tail.seq), off: tail.size - size, end: tail.size})
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return at
}

func payloadN(i, pad int) []byte {
	return fmt.Appendf(nil, "record-%04d%s", i, strings.Repeat("x", pad))
}

func TestDamagedRecordInSealedSegmentIsSkipped(t *testing.T) {
	tests := []struct {
		name string
		// damage returns the byte range it spoiled in file.
		damage func(t *testing.T, at []recAt) (file string, off, end int64)
		logs   int // damaged-record lines
	}{
		{"one bit flipped mid-segment", func(t *testing.T, at []recAt) (string, int64, int64) {
			r := at[300] // in the second of several segments
			flip(t, r.file, r.off+12)
			return r.file, r.off + 12, r.off + 13
		}, 1},
		{"a run over three records zeroed", func(t *testing.T, at []recAt) (string, int64, int64) {
			r := at[500]
			zero(t, r.file, r.off+3, at[502].end-2)
			return r.file, r.off + 3, at[502].end - 2
		}, 1},
		{"the last record of a sealed segment", func(t *testing.T, at []recAt) (string, int64, int64) {
			i := 0
			for at[i+1].file == at[0].file {
				i++
			}
			flip(t, at[i].file, at[i].end-1)
			return at[i].file, at[i].end - 1, at[i].end
		}, 1},
		{"two runs in two segments", func(t *testing.T, at []recAt) (string, int64, int64) {
			flip(t, at[700].file, at[700].off)
			flip(t, at[10].file, at[10].off+9)
			return at[10].file, at[10].off + 9, at[10].off + 10
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			at := writeNumbered(t, dir, 1000, 0)
			if at[300].file == at[999].file || at[0].file == at[300].file {
				t.Fatalf("records 0, 300 and 999 should be in different segments")
			}
			tt.damage(t, at)
			var spoiled []int
			for i, r := range at {
				if !intact(t, r) {
					spoiled = append(spoiled, i)
				}
			}
			q, lb := testOpen(t, dir, Options{SegmentBytes: minSegmentBytes})
			got := drain(t, q, false)
			var want []string
			for i := range at {
				if !slices.Contains(spoiled, i) {
					want = append(want, string(payloadN(i, 0)))
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("got %d records, want %d: every record but the spoiled %v", len(got), len(want), spoiled)
			}
			if n := strings.Count(lb.String(), "damaged record"); n != tt.logs {
				t.Errorf("%d damaged-record log lines, want %d; log:\n%s", n, tt.logs, lb)
			}
			if strings.Contains(lb.String(), "torn tail") {
				t.Errorf("damage in a sealed segment logged as a torn tail:\n%s", lb)
			}
			if st := q.Stats(); st.CorruptRecords != uint64(tt.logs) {
				t.Errorf("Stats().CorruptRecords = %d, want %d", st.CorruptRecords, tt.logs)
			}
			if msgs, _ := q.Len(); msgs != int64(len(want)) {
				t.Errorf("Len = %d msgs, want %d", msgs, len(want))
			}
			// Acknowledging everything empties the queue: the damage
			// does not keep a segment alive.
			q.Rewind()
			drain(t, q, true)
			if msgs, b := q.Len(); msgs != 0 || b != 0 {
				t.Errorf("after acknowledging all, Len = %d, %d; want 0, 0", msgs, b)
			}
			if names := gatewaytestDirNames(t, dir); len(names) != 0 {
				t.Errorf("drained queue left %v", names)
			}
		})
	}
}

// A damaged record in the middle of the last segment, with good records
// after it, is damage too: only what follows the last good record is cut.
func TestDamageMidLastSegmentKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	at := writeNumbered(t, dir, 20, 0)
	flip(t, at[5].file, at[5].off+10)
	appendBytes(t, at[19].file, []byte{7, 0, 0}) // and a torn tail
	q, lb := testOpen(t, dir, Options{})
	got := drain(t, q, false)
	var want []string
	for i := range 20 {
		if i != 5 {
			want = append(want, string(payloadN(i, 0)))
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
	if c, d := strings.Count(lb.String(), "torn tail"), strings.Count(lb.String(), "damaged record"); c != 1 || d != 1 {
		t.Errorf("%d torn-tail and %d damaged-record lines, want 1 and 1:\n%s", c, d, lb)
	}
}

func flip(t testing.TB, file string, off int64) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(file, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func zero(t testing.TB, file string, off, end int64) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[off:end])
	if err := os.WriteFile(file, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// intact says whether r still decodes where it was written.
func intact(t testing.TB, r recAt) bool {
	b, err := os.ReadFile(r.file)
	if err != nil || int64(len(b)) < r.end {
		return false
	}
	_, n, err := decodeRecord(b[r.off:r.end])
	return err == nil && int64(n) == r.end-r.off
}

func gatewaytestDirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// FuzzLoad damages the segment files of a queue the ways a failing card
// or a crash can (flipped bits, zeroed runs, a cut file, bytes past the
// end) and opens it. Open must not fail or panic; every record handed out
// must be one that was written (its CRC checked), in order, once; and
// every record whose bytes are intact must be handed out, whatever
// segment it is in. Opening again must give the same records.
func FuzzLoad(f *testing.F) {
	f.Add(uint8(120), []byte{0, 1, 0, 40})
	f.Add(uint8(200), []byte{1, 2, 3, 9, 0, 0, 0, 0})
	f.Add(uint8(80), []byte{2, 1, 8, 0, 3, 0, 1, 2})
	f.Add(uint8(255), []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 1, 3, 255, 255})
	f.Fuzz(func(t *testing.T, n uint8, ops []byte) {
		dir := t.TempDir()
		at := writeNumbered(t, dir, int(n)+1, 90) // about 37 records a segment
		files := map[string]bool{}
		var names []string
		for _, r := range at {
			if !files[r.file] {
				files[r.file] = true
				names = append(names, r.file)
			}
		}
		for ; len(ops) >= 4; ops = ops[4:] {
			file := names[int(ops[1])%len(names)]
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == 0 {
				continue
			}
			off := (int(ops[2])<<8 | int(ops[3])) % len(b)
			switch ops[0] % 4 {
			case 0:
				b[off] ^= ops[3] | 1
			case 1:
				clear(b[off:min(len(b), off+int(ops[3])%200+1)])
			case 2:
				b = b[:off]
			case 3:
				b = append(b, ops[1], ops[2], ops[3], 0)
			}
			if err := os.WriteFile(file, b, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]int{}
		var mustHave []int
		for i, r := range at {
			want[string(payloadN(i, 90))] = i
			if intact(t, r) {
				mustHave = append(mustHave, i)
			}
		}
		var first []int
		for round := range 2 {
			q, err := Open(dir, Options{SegmentBytes: minSegmentBytes, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatalf("Open of a damaged queue: %v", err)
			}
			var got []int
			for {
				rec, ok, err := q.TryNext()
				if err != nil {
					t.Fatalf("TryNext: %v", err)
				}
				if !ok {
					break
				}
				i, known := want[string(rec.Data)]
				if !known {
					t.Fatalf("handed out %q, which was never written", rec.Data)
				}
				if len(got) > 0 && i <= got[len(got)-1] {
					t.Fatalf("record %d after %d", i, got[len(got)-1])
				}
				if !bytes.Equal(rec.Data, payloadN(i, 90)) {
					t.Fatalf("record %d changed", i)
				}
				got = append(got, i)
			}
			q.Close()
			for _, i := range mustHave {
				if !slices.Contains(got, i) {
					t.Fatalf("round %d: intact record %d (%s at %d) was not handed out; got %v", round, i, filepath.Base(at[i].file), at[i].off, got)
				}
			}
			if round == 0 {
				first = got
			} else if !slices.Equal(first, got) {
				t.Fatalf("second open got %v, first %v", got, first)
			}
		}
	})
}
