package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// session is the metadata of an upload session, stored as session.json.
type session struct {
	Format    int       `json:"format"` // 1
	ID        string    `json:"id"`
	Owner     string    `json:"owner"` // user ID
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Received  []Range   `json:"received"` // sorted and coalesced
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"` // last fragment; idleness counts from here
}

const sessionFormat = 1

func (sess *session) complete() bool {
	return sess.Size == 0 || len(sess.Received) == 1 && sess.Received[0] == Range{0, sess.Size - 1}
}

// visibleTo reports whether u may see and change the session: its owner or an admin.
func (sess *session) visibleTo(u *izy.User) bool {
	return u.ID == sess.Owner || u.Role == izy.RoleAdmin
}

// loadSession reads session id's metadata. A missing session, or one reached through a
// link, is ENOTFOUND; a damaged one is an internal error.
func (s *Service) loadSession(id string) (*session, error) {
	elems, err := sessionElems(id, sessionFile)
	if err != nil {
		return nil, err
	}
	f, _, err := s.openRegular(elems, os.O_RDONLY)
	if err != nil {
		return nil, s.notFound(err, "session not found")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read session %s: %w", id, err)
	}
	var sess session
	if err := json.Unmarshal(b, &sess); err != nil {
		return nil, fmt.Errorf("session %s: damaged metadata: %w", id, err)
	}
	if sess.Format != sessionFormat || sess.ID != id || !validSHA256(sess.SHA256) || sess.Size < 0 || !validRanges(sess.Received, sess.Size) {
		return nil, fmt.Errorf("session %s: damaged metadata", id)
	}
	return &sess, nil
}

// notFound turns a failed lookup into ENOTFOUND, logging links and other strange entries,
// and leaves other errors as they are.
func (s *Service) notFound(err error, msg string) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return izy.Errorf(izy.ENOTFOUND, "%s", msg)
	case errors.Is(err, errNotPlain):
		s.log.Warn("refused a link or special file in the transfer store", "err", err)
		return izy.Errorf(izy.ENOTFOUND, "%s", msg)
	}
	return err
}

// saveSession replaces session.json atomically.
func (s *Service) saveSession(sess *session) error {
	dir, err := sessionElems(sess.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if err := s.writeFileAtomic(dir, sessionTemp, sessionFile, b); err != nil {
		return fmt.Errorf("save session %s: %w", sess.ID, err)
	}
	return nil
}

// createSession makes a session for owner to upload size bytes hashing to sum.
func (s *Service) createSession(owner string, size int64, sum string, now time.Time) (*session, error) {
	if size > s.limits.MaxSession {
		return nil, izy.Errorf(izy.ETOOLARGE, "an upload may have at most %d bytes, not %d", s.limits.MaxSession, size)
	}
	if err := s.reserve(size); err != nil {
		return nil, err
	}
	sess := &session{Format: sessionFormat, ID: izy.NewID(), Owner: owner, Size: size, SHA256: sum, Received: []Range{}, CreatedAt: now, UpdatedAt: now}
	if err := s.makeSession(sess); err != nil {
		s.release(size)
		if dir, derr := sessionElems(sess.ID); derr == nil {
			s.root.RemoveAll(join(dir))
		}
		return nil, fmt.Errorf("create session: %w", err)
	}
	s.log.Info("upload session created", "session", sess.ID, "owner", owner, "size", size, "sha256", sum)
	return sess, nil
}

// makeSession writes a new session's directory: a sparse data file of the full size,
// then the metadata, which makes the session exist.
func (s *Service) makeSession(sess *session) error {
	dir, err := sessionElems(sess.ID)
	if err != nil {
		return err
	}
	if err := s.root.Mkdir(join(dir), 0o700); err != nil {
		return err
	}
	data := join(append(dir, dataFile))
	f, err := s.root.OpenFile(data, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(sess.Size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := s.saveSession(sess); err != nil {
		return err
	}
	return s.syncDir([]string{sessionsDir})
}

// removeSession deletes a session (its lock held) and releases its reservation. The
// metadata goes first, so a crash midway leaves an orphan directory that expiry removes,
// never a session without its bytes.
func (s *Service) removeSession(sess *session) error {
	dir, err := sessionElems(sess.ID)
	if err != nil {
		return err
	}
	if err := s.root.Remove(join(append(dir, sessionFile))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove session %s: %w", sess.ID, err)
	}
	s.release(sess.Size)
	if err := s.root.RemoveAll(join(dir)); err != nil {
		s.log.Warn("session directory left behind; expiry removes it", "session", sess.ID, "err", err)
	}
	s.syncDir([]string{sessionsDir})
	return nil
}

// closeSession verifies a complete session and moves its bytes into the blob store.
// It returns whether the blob existed already (then the upload's copy is dropped).
func (s *Service) closeSession(sess *session) (existed bool, err error) {
	dataElems, err := sessionElems(sess.ID, dataFile)
	if err != nil {
		return false, err
	}
	blob, err := blobElems(sess.SHA256)
	if err != nil {
		return false, err
	}
	f, _, err := s.openRegular(dataElems, os.O_RDWR)
	if errors.Is(err, fs.ErrNotExist) {
		// A close that crashed after moving the bytes: the blob is there, finish the job.
		if _, berr := s.statBlob(sess.SHA256); berr == nil {
			return true, s.removeSession(sess)
		}
	}
	if err != nil {
		return false, s.notFound(err, "session not found")
	}
	if !sess.complete() {
		f.Close()
		return false, izy.Errorf(izy.ECONFLICT, "the upload is incomplete: %d of %d bytes received, the first missing byte is %d", receivedBytes(sess.Received), sess.Size, firstGap(sess.Received))
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err == nil && n != sess.Size {
		err = fmt.Errorf("data file has %d bytes, want %d", n, sess.Size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("verify session %s: %w", sess.ID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sess.SHA256 {
		// Which fragment was wrong cannot be known, so the session starts over: the
		// client may send everything again, or cancel.
		sess.Received = []Range{}
		if err := s.saveSession(sess); err != nil {
			return false, err
		}
		s.log.Warn("upload checksum mismatch; session reset", "session", sess.ID, "want", sess.SHA256, "got", got)
		return false, izy.Errorf(izy.ECONFLICT, "checksum mismatch: the uploaded bytes have SHA-256 %s, not the declared %s; the session was reset, send all bytes again or cancel it", got, sess.SHA256)
	}

	s.mu.Lock()
	existed, err = s.commitBlob(dataElems, blob, sess.Size)
	s.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("store blob %s: %w", sess.SHA256, err)
	}
	if err := s.removeSession(sess); err != nil {
		return existed, err
	}
	s.log.Info("upload stored", "session", sess.ID, "sha256", sess.SHA256, "size", sess.Size, "deduplicated", existed)
	return existed, nil
}

// commitBlob renames the verified file from into the blob store unless the blob is
// there already (s.mu held, so two closes of the same content cannot both count it).
func (s *Service) commitBlob(from, blob []string, size int64) (existed bool, err error) {
	for i := 2; i < len(blob); i++ {
		if err := s.root.Mkdir(join(blob[:i]), 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		if ok, err := s.isDir(blob[:i]); !ok {
			return false, fmt.Errorf("%s: %w", join(blob[:i]), errors.Join(err, errNotPlain))
		}
	}
	fi, err := s.root.Lstat(join(blob))
	switch {
	case err == nil && fi.Mode().IsRegular():
		return true, nil
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		// A link where the blob belongs: the rename below replaces the link itself, never
		// what it points to.
		s.log.Warn("replacing a link in the blob store", "path", join(blob))
	case err == nil:
		return false, fmt.Errorf("%s: %w", join(blob), errNotPlain)
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	if err := s.rename(join(from), join(blob)); err != nil {
		return false, err
	}
	s.blobs += size
	for i := len(blob) - 1; i >= 1; i-- {
		if err := s.syncDir(blob[:i]); err != nil {
			return false, err
		}
	}
	return false, nil
}

// statBlob returns the blob's file info; ENOTFOUND-worthy errors wrap fs.ErrNotExist or
// errNotPlain.
func (s *Service) statBlob(sum string) (fs.FileInfo, error) {
	elems, err := blobElems(sum)
	if err != nil {
		return nil, err
	}
	fi, err := s.lstatChain(elems)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", join(elems), errNotPlain)
	}
	return fi, nil
}

// OpenBlob opens the blob with the given SHA-256 (64 lower-case hex digits) for reading.
// It fails with EINVALID for a malformed digest and ENOTFOUND for an unknown blob.
func (s *Service) OpenBlob(sum string) (*os.File, error) {
	elems, err := blobElems(sum)
	if err != nil {
		return nil, err
	}
	f, _, err := s.openRegular(elems, os.O_RDONLY)
	if err != nil {
		return nil, s.notFound(err, "blob not found")
	}
	return f, nil
}
