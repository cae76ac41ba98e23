package bridge

import (
	"encoding/binary"
	"errors"
)

// A spooled line is stored as the board ID's length (uvarint), the board
// ID, then the line.

func encodeLine(board string, line []byte) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 2+len(board)+len(line)), uint64(len(board)))
	b = append(b, board...)
	return append(b, line...)
}

var errBadRecord = errors.New("bridge: spooled record is not board and line")

func decodeLine(rec []byte) (board string, line []byte, err error) {
	n, k := binary.Uvarint(rec)
	if k <= 0 || n == 0 || n > uint64(len(rec)-k) {
		return "", nil, errBadRecord
	}
	return string(rec[k : k+int(n)]), rec[k+int(n):], nil
}
