package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DeadLetterFile is the name, in the queue directory, of the lines the
// broker refused. It is text, one record a line: the board ID, a space,
// the line as the board sent it (a line holds no LF, a board ID no space).
// Records are only ever appended, each written whole and fsynced before
// the line leaves the queue, so a dead letter is never lost; a torn last
// record (a power cut in the write) is cut at the next open.
const DeadLetterFile = "dead-letter"

// DeadLetter is one line the broker refused.
type DeadLetter struct {
	Board string
	Line  []byte
}

type deadLetters struct {
	path string
	mu   sync.Mutex
	f    *os.File
	n    int
}

// openDeadLetters counts the dead letters in dir. The file is created
// only with the first dead letter: the queue directory stays untouched
// while the broker keeps up.
func openDeadLetters(dir string) (*deadLetters, error) {
	d := &deadLetters{path: filepath.Join(dir, DeadLetterFile)}
	data, err := os.ReadFile(d.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	recs, _ := parseDeadLetters(data)
	d.n = len(recs)
	return d, nil
}

// file opens the file for appending, cutting a torn last record first;
// d.mu is held.
func (d *deadLetters) file() (*os.File, error) {
	if d.f != nil {
		return d.f, nil
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err == nil {
		_, whole := parseDeadLetters(data)
		if whole < len(data) {
			err = f.Truncate(int64(whole))
		}
		if err == nil {
			_, err = f.Seek(int64(whole), io.SeekStart)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	d.f = f
	return f, nil
}

func (d *deadLetters) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// add appends one record and makes it durable.
func (d *deadLetters) add(board string, line []byte) error {
	rec := make([]byte, 0, len(board)+len(line)+2)
	rec = append(append(append(append(rec, board...), ' '), line...), '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := d.file()
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	if _, err := f.Write(rec); err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	d.n++
	return nil
}

func (d *deadLetters) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	return d.f.Close()
}

// ReadDeadLetters returns the dead letters kept in queueDir, oldest first;
// none when there is no file.
func ReadDeadLetters(queueDir string) ([]DeadLetter, error) {
	data, err := os.ReadFile(filepath.Join(queueDir, DeadLetterFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	recs, _ := parseDeadLetters(data)
	return recs, nil
}

// parseDeadLetters reads records, and says how many bytes of data they
// fill: what follows the last LF is a torn record, left out.
func parseDeadLetters(data []byte) (recs []DeadLetter, whole int) {
	for {
		i := bytes.IndexByte(data[whole:], '\n')
		if i < 0 {
			return recs, whole
		}
		rec := data[whole : whole+i]
		whole += i + 1
		board, line, ok := bytes.Cut(rec, []byte{' '})
		if !ok || len(board) == 0 {
			continue // not written by add; skipped rather than misread
		}
		recs = append(recs, DeadLetter{Board: string(board), Line: line})
	}
}
