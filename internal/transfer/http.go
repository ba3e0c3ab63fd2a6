package transfer

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// SessionStatus is the JSON answer about an upload session. A client that lost a
// connection asks for it and resumes at NextOffset, or fills the gaps in Received.
type SessionStatus struct {
	ID            string    `json:"id"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	Received      []Range   `json:"received"`       // runs of received bytes, END inclusive
	ReceivedBytes int64     `json:"received_bytes"` // bytes in Received
	NextOffset    int64     `json:"next_offset"`    // the first byte not received; Size when complete
	Complete      bool      `json:"complete"`       // every byte received; the session may be closed
	MaxFragment   int64     `json:"max_fragment"`   // the largest fragment body accepted
	MaxSession    int64     `json:"max_session"`    // the largest upload accepted
	ExpiresAt     time.Time `json:"expires_at"`     // when the session expires unless a fragment arrives
	BlobExists    bool      `json:"blob_exists"`    // the blob is stored already: the upload may be skipped
}

// BlobInfo is the JSON answer of a closed session.
type BlobInfo struct {
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	URL          string `json:"url"`          // where to download it
	Deduplicated bool   `json:"deduplicated"` // the blob existed; this upload's copy was dropped
}

// createRequest is the body of POST /bits/sessions.
type createRequest struct {
	Size   *int64 `json:"size"`
	SHA256 string `json:"sha256"`
}

func (s *Service) status(sess *session) SessionStatus {
	_, err := s.statBlob(sess.SHA256)
	return SessionStatus{
		ID: sess.ID, Size: sess.Size, SHA256: sess.SHA256,
		Received: sess.Received, ReceivedBytes: receivedBytes(sess.Received),
		NextOffset: firstGap(sess.Received), Complete: sess.complete(),
		MaxFragment: s.limits.MaxFragment, MaxSession: s.limits.MaxSession,
		ExpiresAt:  sess.UpdatedAt.Add(s.limits.IdleTimeout),
		BlobExists: err == nil,
	}
}

func user(r *http.Request) (*izy.User, error) {
	u := izy.UserFromContext(r.Context())
	if u == nil {
		return nil, izy.Errorf(izy.EUNAUTHORIZED, "sign in to use /bits")
	}
	return u, nil
}

// CreateSession handles POST /bits/sessions {"size","sha256"}: it starts an upload of
// size bytes (0 allowed) that must hash to sha256, owned by the caller, and answers 201
// with the session's status and limits. The declared size counts against the quota
// until the session is closed, cancelled or expires.
func (s *Service) CreateSession(w http.ResponseWriter, r *http.Request) error {
	u, err := user(r)
	if err != nil {
		return err
	}
	var req createRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return izy.Errorf(izy.EINVALID, "the body must be JSON {\"size\":N,\"sha256\":\"HEX\"}: %v", err)
	}
	if dec.More() {
		return izy.Errorf(izy.EINVALID, "the body must hold one JSON object")
	}
	switch {
	case req.Size == nil:
		return izy.Errorf(izy.EINVALID, "size is required")
	case *req.Size < 0:
		return izy.Errorf(izy.EINVALID, "size must not be negative")
	case !validSHA256(req.SHA256):
		return izy.Errorf(izy.EINVALID, "sha256 must be 64 lower-case hex digits")
	}
	sess, err := s.createSession(u.ID, *req.Size, req.SHA256, time.Now().UTC())
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/bits/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, s.status(sess))
	return nil
}

// session returns the session named in the request if u may see it.
func (s *Service) session(r *http.Request, u *izy.User) (*session, error) {
	id := r.PathValue("id")
	if !validSessionID(id) {
		return nil, izy.Errorf(izy.EINVALID, "a session id is a UUID in lower-case canonical form")
	}
	sess, err := s.loadSession(id)
	if err != nil {
		return nil, err
	}
	if !sess.visibleTo(u) {
		return nil, izy.Errorf(izy.ENOTFOUND, "session not found")
	}
	return sess, nil
}

// lockedSession locks the session named in the request and returns it if u may see it.
func (s *Service) lockedSession(r *http.Request, u *izy.User) (*session, func(), error) {
	id := r.PathValue("id")
	if !validSessionID(id) {
		return nil, nil, izy.Errorf(izy.EINVALID, "a session id is a UUID in lower-case canonical form")
	}
	unlock, err := s.lockSession(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	sess, err := s.session(r, u)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return sess, unlock, nil
}

// GetSession handles GET /bits/sessions/{id}: the received ranges of the caller's
// session, so that a client resumes at the first gap.
func (s *Service) GetSession(w http.ResponseWriter, r *http.Request) error {
	u, err := user(r)
	if err != nil {
		return err
	}
	sess, err := s.session(r, u)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.status(sess))
	return nil
}

// PutFragment handles PUT /bits/sessions/{id} with "Content-Range: bytes START-END/TOTAL"
// and END-START+1 bytes of body. Fragments may come in any order and may be retried; a
// retry whose bytes differ from those received is a conflict. It answers with the
// session's status.
func (s *Service) PutFragment(w http.ResponseWriter, r *http.Request) error {
	u, err := user(r)
	if err != nil {
		return err
	}
	if !validSessionID(r.PathValue("id")) {
		return izy.Errorf(izy.EINVALID, "a session id is a UUID in lower-case canonical form")
	}
	hs := r.Header.Values("Content-Range")
	if len(hs) == 0 {
		return izy.Errorf(izy.EINVALID, `a fragment needs a Content-Range header: "bytes START-END/TOTAL"`)
	}
	if len(hs) > 1 {
		return izy.Errorf(izy.EINVALID, "a fragment needs exactly one Content-Range header")
	}
	start, end, total, err := parseContentRange(hs[0])
	if err != nil {
		return err
	}
	length := end - start + 1
	if length > s.limits.MaxFragment {
		return izy.Errorf(izy.ETOOLARGE, "a fragment may have at most %d bytes, not %d", s.limits.MaxFragment, length)
	}
	if r.ContentLength >= 0 && r.ContentLength != length {
		return izy.Errorf(izy.EINVALID, "the body has %d bytes but Content-Range names %d", r.ContentLength, length)
	}
	sess, unlock, err := s.lockedSession(r, u)
	if err != nil {
		return err
	}
	defer unlock()
	if total != sess.Size {
		return izy.Errorf(izy.EINVALID, "Content-Range TOTAL (%d) differs from the session's size (%d)", total, sess.Size)
	}
	if err := s.writeFragment(sess, start, end, r.Body); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.status(sess))
	return nil
}

// CloseSession handles POST /bits/sessions/{id}/close: once every byte is there it checks
// the SHA-256, moves the bytes into the blob store (or drops them if the blob exists) and
// removes the session. An incomplete session is a conflict. A checksum mismatch is a
// conflict too, and resets the session's received ranges (kept otherwise) so that the
// client can send everything again. A retried close whose first answer was lost finds no
// session (404); the client then checks the blob with HEAD.
func (s *Service) CloseSession(w http.ResponseWriter, r *http.Request) error {
	u, err := user(r)
	if err != nil {
		return err
	}
	sess, unlock, err := s.lockedSession(r, u)
	if err != nil {
		return err
	}
	defer unlock()
	existed, err := s.closeSession(sess)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, BlobInfo{SHA256: sess.SHA256, Size: sess.Size, URL: "/bits/blobs/" + sess.SHA256, Deduplicated: existed})
	return nil
}

// CancelSession handles DELETE /bits/sessions/{id}: the session and its bytes go.
func (s *Service) CancelSession(w http.ResponseWriter, r *http.Request) error {
	u, err := user(r)
	if err != nil {
		return err
	}
	sess, unlock, err := s.lockedSession(r, u)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.removeSession(sess); err != nil {
		return err
	}
	s.log.Info("upload session cancelled", "session", sess.ID, "by", u.ID)
	writeJSON(w, http.StatusOK, struct {
		ID        string `json:"id"`
		Cancelled bool   `json:"cancelled"`
	}{sess.ID, true})
	return nil
}

// GetBlob handles GET and HEAD /bits/blobs/{sha256}: the blob, with Range (one or many
// ranges), If-Range, If-None-Match and the ETag "<sha256>" as http.ServeContent does them.
// ServeContent itself answers 304, 412 and 416 (a range outside the blob).
func (s *Service) GetBlob(w http.ResponseWriter, r *http.Request) error {
	if _, err := user(r); err != nil {
		return err
	}
	sum := r.PathValue("sha256")
	f, err := s.OpenBlob(sum)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat blob: %w", err)
	}
	h := w.Header()
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=31536000, immutable") // content-addressed: never changes
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
