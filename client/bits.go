package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// UploadStatus is the server's view of a resumable upload session at /bits.
type UploadStatus struct {
	ID            string      `json:"id"`
	Size          int64       `json:"size"`
	SHA256        string      `json:"sha256"`
	Received      []ByteRange `json:"received"`
	ReceivedBytes int64       `json:"received_bytes"`
	NextOffset    int64       `json:"next_offset"`
	Complete      bool        `json:"complete"`
	MaxFragment   int64       `json:"max_fragment"`
	MaxSession    int64       `json:"max_session"`
	ExpiresAt     time.Time   `json:"expires_at"`
	BlobExists    bool        `json:"blob_exists"`
}

// ByteRange is a run of bytes, End inclusive.
type ByteRange struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	URL          string `json:"url"`
	Deduplicated bool   `json:"deduplicated"`
}

// CreateUpload opens an upload session of size bytes that must hash to sum (hex SHA-256).
func (c *Client) CreateUpload(ctx context.Context, size int64, sum string) (*UploadStatus, error) {
	var st UploadStatus
	in := map[string]any{"size": size, "sha256": sum}
	return &st, c.do(ctx, "POST", "/bits/sessions", in, &st)
}

// UploadStatus returns the status of a session: which bytes arrived, where to resume.
func (c *Client) UploadStatus(ctx context.Context, sessionID string) (*UploadStatus, error) {
	var st UploadStatus
	return &st, c.do(ctx, "GET", "/bits/sessions/"+url.PathEscape(sessionID), nil, &st)
}

// PutFragment sends data as the bytes at offset of a session of total bytes.
func (c *Client) PutFragment(ctx context.Context, sessionID string, offset, total int64, data []byte) (*UploadStatus, error) {
	if len(data) == 0 {
		return nil, izy.Errorf(izy.EINVALID, "a fragment needs at least one byte")
	}
	req, err := c.newRequest(ctx, "PUT", "/bits/sessions/"+url.PathEscape(sessionID), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, offset+int64(len(data))-1, total))
	res, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var st UploadStatus
	if err := decodeBody(res, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// CloseUpload verifies the session's SHA-256 and stores the blob.
func (c *Client) CloseUpload(ctx context.Context, sessionID string) (*BlobInfo, error) {
	var b BlobInfo
	return &b, c.do(ctx, "POST", "/bits/sessions/"+url.PathEscape(sessionID)+"/close", struct{}{}, &b)
}

// CancelUpload drops a session and its bytes.
func (c *Client) CancelUpload(ctx context.Context, sessionID string) error {
	return c.do(ctx, "DELETE", "/bits/sessions/"+url.PathEscape(sessionID), nil, nil)
}

// UploadOptions tune UploadBlob.
type UploadOptions struct {
	SessionID    string // resume this session (e.g. one a crashed process left)
	FragmentSize int64  // bytes per PUT; default 1 MiB, capped by the server's maximum
	Retries      int    // attempts per fragment after a network failure; default 5
	// OnSession is called with the session ID as soon as it exists, so that a caller can
	// persist it and resume after a crash.
	OnSession func(id string)
}

// UploadBlob uploads size bytes of r as a content-addressed blob, resuming after lost
// connections from the first byte the server lacks. sum is the hex SHA-256 of the bytes
// ("" computes it). A blob the server holds already is not sent again.
func (c *Client) UploadBlob(ctx context.Context, r io.ReaderAt, size int64, sum string, o UploadOptions) (*BlobInfo, error) {
	if sum == "" {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
			return nil, fmt.Errorf("hash upload: %w", err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if o.FragmentSize <= 0 {
		o.FragmentSize = 1 << 20
	}
	if o.Retries <= 0 {
		o.Retries = 5
	}
	if n, err := c.BlobSize(ctx, sum); err == nil && n == size {
		return &BlobInfo{SHA256: sum, Size: size, URL: "/bits/blobs/" + sum, Deduplicated: true}, nil
	}
	var st *UploadStatus
	var err error
	if o.SessionID != "" {
		st, err = c.UploadStatus(ctx, o.SessionID)
		if izy.ErrorCode(err) == izy.ENOTFOUND {
			st, err = nil, nil // expired or closed: start afresh
		}
		if err != nil {
			return nil, err
		}
	}
	if st == nil {
		if st, err = c.CreateUpload(ctx, size, sum); err != nil {
			return nil, err
		}
		if o.OnSession != nil {
			o.OnSession(st.ID)
		}
	}
	if st.BlobExists {
		_ = c.CancelUpload(ctx, st.ID)
		return &BlobInfo{SHA256: sum, Size: size, URL: "/bits/blobs/" + sum, Deduplicated: true}, nil
	}
	frag := o.FragmentSize
	if st.MaxFragment > 0 && frag > st.MaxFragment {
		frag = st.MaxFragment
	}
	buf := make([]byte, frag)
	fails := 0
	for !st.Complete {
		off := st.NextOffset
		n := min(frag, size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			return nil, fmt.Errorf("read upload at %d: %w", off, err)
		}
		next, err := c.PutFragment(ctx, st.ID, off, size, buf[:n])
		if err != nil {
			if !IsNetError(err) || ctx.Err() != nil {
				return nil, err
			}
			if fails++; fails > o.Retries {
				return nil, err
			}
			// The fragment may or may not have arrived: ask where to go on.
			if next, err = c.retryStatus(ctx, st.ID, o.Retries); err != nil {
				return nil, err
			}
		} else {
			fails = 0
		}
		st = next
	}
	info, err := c.CloseUpload(ctx, st.ID)
	if IsNetError(err) {
		// The close may have happened and its answer got lost: the blob tells.
		if n, herr := c.BlobSize(ctx, sum); herr == nil && n == size {
			return &BlobInfo{SHA256: sum, Size: size, URL: "/bits/blobs/" + sum}, nil
		}
	}
	return info, err
}

// retryStatus asks for a session's status, retrying network failures with a short pause.
func (c *Client) retryStatus(ctx context.Context, id string, retries int) (*UploadStatus, error) {
	var err error
	for i := 0; i <= retries; i++ {
		var st *UploadStatus
		if st, err = c.UploadStatus(ctx, id); err == nil || !IsNetError(err) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(i+1) * 50 * time.Millisecond):
		}
	}
	return nil, err
}

// BlobSize returns the size of a stored blob (HEAD); ENOTFOUND when there is none.
func (c *Client) BlobSize(ctx context.Context, sum string) (int64, error) {
	req, err := c.newRequest(ctx, "HEAD", "/bits/blobs/"+url.PathEscape(sum), nil)
	if err != nil {
		return 0, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, &NetError{Op: "HEAD " + req.URL.Path, Err: err}
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if res.StatusCode == http.StatusNotFound {
			return 0, izy.Errorf(izy.ENOTFOUND, "blob %s not found", sum)
		}
		return 0, izy.Errorf(izy.EINTERNAL, "HEAD blob %s: %s", sum, res.Status)
	}
	return res.ContentLength, nil
}

// DownloadBlob writes the bytes of a blob from offset on to w (a Range request when
// offset > 0, guarded by If-Range with the blob's ETag) and returns how many it wrote.
func (c *Client) DownloadBlob(ctx context.Context, sum string, offset int64, w io.Writer) (int64, error) {
	req, err := c.newRequest(ctx, "GET", "/bits/blobs/"+url.PathEscape(sum), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/octet-stream")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		req.Header.Set("If-Range", `"`+sum+`"`)
	}
	res, err := c.send(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if offset > 0 && res.StatusCode != http.StatusPartialContent {
		return 0, izy.Errorf(izy.EINTERNAL, "GET blob %s from %d: the server answered %s, not a range", sum, offset, res.Status)
	}
	n, err := io.Copy(w, res.Body)
	if err != nil {
		return n, &NetError{Op: "GET " + req.URL.Path, Err: err}
	}
	return n, nil
}

// DownloadBlobFile downloads a blob into path, resuming from the bytes already in the
// file after a lost connection (up to retries times), and verifies its SHA-256.
func (c *Client) DownloadBlobFile(ctx context.Context, sum, path string, retries int) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for attempt := 0; ; attempt++ {
		off, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		size, err := c.BlobSize(ctx, sum)
		if err != nil && !IsNetError(err) {
			return err
		}
		if err == nil && off >= size {
			break
		}
		if err == nil {
			_, err = c.DownloadBlob(ctx, sum, off, f)
		}
		if err == nil {
			break
		}
		if !IsNetError(err) || attempt >= retries || ctx.Err() != nil {
			return err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return izy.Errorf(izy.ECONFLICT, "downloaded blob hashes to %s, not %s; delete %s and download again", got, sum, path)
	}
	return f.Sync()
}

func decodeBody(res *http.Response, v any) error {
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return &NetError{Op: res.Request.Method + " " + res.Request.URL.Path, Err: err}
	}
	if err := jsonUnmarshal(b, v); err != nil {
		return &NetError{Op: res.Request.Method + " " + res.Request.URL.Path, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}
