package izytroniq

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

var idMu sync.Mutex
var idLastMS int64
var idSeq uint16

// NewID returns a new UUID version 7 in its canonical text form. Version 7 IDs begin with
// the time, so rows inserted together sit together in an index, and IDs made by the field
// client offline never collide with the server's.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := time.Now().UnixMilli()
	idMu.Lock()
	if ms <= idLastMS {
		ms = idLastMS
		idSeq++
		if idSeq == 0x0fff {
			ms++
			idSeq = 0
		}
	} else {
		idSeq = uint16(b[6])<<4 | uint16(b[7])>>4 // random start, leaves room to count up
		idSeq &= 0x07ff
	}
	idLastMS = ms
	seq := idSeq
	idMu.Unlock()
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(ms))
	copy(b[0:6], t[2:8])
	b[6] = 0x70 | byte(seq>>8)&0x0f
	b[7] = byte(seq)
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// ValidID reports whether s is a UUID in canonical lower-case text form.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
