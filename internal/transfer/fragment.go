package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// chunkSize is how much of a fragment is held in memory at a time.
const chunkSize = 128 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 2*chunkSize); return &b }}

// writeFragment stores the bytes start..end (inclusive) read from body into session sess
// (its lock held). Bytes that were received before are compared, never overwritten: a
// retry that sends the same bytes succeeds, one that sends different bytes is a conflict.
// New bytes go to the data file, but the received ranges grow only after all of the
// fragment arrived and was synced, so a fragment that breaks off changes nothing a
// client can see.
func (s *Service) writeFragment(sess *session, start, end int64, body io.Reader) error {
	received := addRange(sess.Received, Range{start, end})
	if len(received) > maxRanges {
		return izy.Errorf(izy.EINVALID, "the upload has too many separate pieces (at most %d); send the missing bytes between them first", maxRanges)
	}
	elems, err := sessionElems(sess.ID, dataFile)
	if err != nil {
		return err
	}
	f, fi, err := s.openRegular(elems, os.O_RDWR)
	if err != nil {
		return s.notFound(err, "session not found")
	}
	defer f.Close()
	if fi.Size() != sess.Size {
		return fmt.Errorf("session %s: data file has %d bytes, want %d", sess.ID, fi.Size(), sess.Size)
	}

	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf, stored := (*bp)[:chunkSize], (*bp)[chunkSize:]
	length := end - start + 1
	for pos := start; pos <= end; {
		n := min(int64(len(buf)), end-pos+1)
		if got, err := io.ReadFull(body, buf[:n]); err != nil {
			return bodyError(err, pos-start+int64(got), length)
		}
		if err := applyChunk(f, sess.Received, pos, buf[:n], stored); err != nil {
			return err
		}
		pos += n
	}
	if n, _ := io.ReadFull(body, buf[:1]); n > 0 {
		return izy.Errorf(izy.EINVALID, "the body is longer than the %d bytes Content-Range names", length)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync session %s: %w", sess.ID, err)
	}
	sess.Received, sess.UpdatedAt = received, time.Now().UTC()
	return s.saveSession(sess)
}

// applyChunk writes chunk at offset pos into f where received has a gap, and compares it
// with what f holds where received covers it.
func applyChunk(f *os.File, received []Range, pos int64, chunk, stored []byte) error {
	for len(chunk) > 0 {
		in, runEnd := covering(received, pos)
		k := len(chunk)
		if rest := runEnd - pos; rest < int64(k-1) { // runEnd may be the largest int64
			k = int(rest) + 1
		}
		if in {
			if _, err := f.ReadAt(stored[:k], pos); err != nil {
				return fmt.Errorf("read received bytes: %w", err)
			}
			if !bytes.Equal(stored[:k], chunk[:k]) {
				return izy.Errorf(izy.ECONFLICT, "bytes %d-%d differ from the bytes received for them before; nothing was changed", pos, pos+int64(k)-1)
			}
		} else if _, err := f.WriteAt(chunk[:k], pos); err != nil {
			return fmt.Errorf("write fragment: %w", err)
		}
		pos += int64(k)
		chunk = chunk[k:]
	}
	return nil
}

// bodyError explains a fragment body that ended early or could not be read.
func bodyError(err error, got, want int64) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return izy.Errorf(izy.ETOOLARGE, "the request body exceeds %d bytes", tooBig.Limit)
	}
	return izy.Errorf(izy.EINVALID, "the body ended after %d of the %d bytes Content-Range names; nothing was recorded", got, want)
}
