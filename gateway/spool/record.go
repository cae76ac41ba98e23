package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A record on disk is an 8-byte header, little-endian length then the
// CRC-32C (Castagnoli) of the length bytes and the payload, followed by the
// payload. The CRC covers the length too, so a run of zeroes (what a file
// extended but never written shows after a power cut) is not an empty
// record; a torn record shows as a length past the end of the file or a
// CRC that does not match.
const headerSize = 8

// MaxRecordBytes bounds one record's payload. A length above it in a header
// is corruption, not a record to allocate for.
const MaxRecordBytes = 1 << 24

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShort means the bytes end inside a record: a torn tail.
	errShort = errors.New("spool: record cut short")
	// errCorrupt means the header or the checksum is wrong.
	errCorrupt = errors.New("spool: corrupt record")
)

// appendRecord appends the framed payload to dst.
func appendRecord(dst, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(h[0:4], payload))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// decodeHeader returns the payload length and CRC of a record header.
func decodeHeader(h []byte) (size, sum uint32, ok bool) {
	if len(h) < headerSize {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint32(h[0:4]), binary.LittleEndian.Uint32(h[4:8]), true
}

// decodeRecord reads the record at the start of b. It returns the payload
// (aliasing b) and the record's full size. errShort means b ends inside the
// record; errCorrupt means the record cannot be trusted.
func decodeRecord(b []byte) (payload []byte, n int, err error) {
	if len(b) < headerSize {
		return nil, 0, errShort
	}
	size := binary.LittleEndian.Uint32(b[0:4])
	if size > MaxRecordBytes {
		return nil, 0, errCorrupt
	}
	end := headerSize + int(size)
	if len(b) < end {
		return nil, 0, errShort
	}
	payload = b[headerSize:end]
	if checksum(b[0:4], payload) != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, errCorrupt
	}
	return payload, end, nil
}

func checksum(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, payload)
}
