// Package transfer serves /bits: resumable upload sessions, ranged downloads and the
// content-addressed blob store they fill.
//
// A client creates a session with the size and SHA-256 of what it will upload, sends the
// bytes in fragments (PUT with Content-Range, in any order, retries welcome), asks which
// ranges arrived when a connection broke, and closes the session: the server checks the
// SHA-256 and moves the bytes into the blob store, where anyone signed in can download
// them by digest with HEAD, GET and Range. Sessions live on disk and survive a restart.
//
// On disk, under the store's directory:
//
//	sha256/ab/cd/abcd…            a blob, named by its SHA-256 (64 hex digits)
//	sessions/<uuid>/session.json  owner, size, SHA-256, received ranges (replaced atomically)
//	sessions/<uuid>/data          the upload's bytes at their final offsets (sparse)
//	tmp/                          probe files of Health
package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	izy "github.com/izytroniq/izytroniq"
)

// Limits bound what clients may store. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	MaxFragment int64         // largest fragment body in bytes
	MaxSession  int64         // largest size one session may declare
	Quota       int64         // bytes of all blobs plus the declared sizes of all open sessions
	IdleTimeout time.Duration // a session that receives no fragment for this long expires
}

// DefaultLimits returns the limits used for zero fields: 8 MiB fragments, 2 GiB sessions,
// a 50 GiB quota and a day of idleness.
func DefaultLimits() Limits {
	return Limits{MaxFragment: 8 << 20, MaxSession: 2 << 30, Quota: 50 << 30, IdleTimeout: 24 * time.Hour}
}

func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits()
	if l.MaxFragment == 0 {
		l.MaxFragment = d.MaxFragment
	}
	if l.MaxSession == 0 {
		l.MaxSession = d.MaxSession
	}
	if l.Quota == 0 {
		l.Quota = d.Quota
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxFragment < 0 || l.MaxSession < 0 || l.Quota < 0 || l.IdleTimeout < 0 {
		return l, fmt.Errorf("transfer limits must not be negative: %+v", l)
	}
	return l, nil
}

// Service is the transfer store and its HTTP handlers. One process owns a store directory:
// the per-session locks and the quota count live in memory (see New).
type Service struct {
	dir    string
	root   *os.Root
	limits Limits
	log    *slog.Logger
	locks  sessionLocks

	mu       sync.Mutex // guards the usage counts and moving bytes into the blob store
	blobs    int64      // bytes of all blobs
	reserved int64      // declared sizes of all open sessions
}

// New opens the store in dir (the data directory's "blobs"), creating it if needed, and
// counts what it holds for the quota. Sessions from an earlier run carry on.
func New(dir string, limits Limits, logger *slog.Logger) (*Service, error) {
	limits, err := limits.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create transfer store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open transfer store: %w", err)
	}
	s := &Service{dir: dir, root: root, limits: limits, log: logger.With("component", "transfer")}
	for _, d := range []string{blobsDir, sessionsDir, tmpDir} {
		if err := root.Mkdir(d, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			root.Close()
			return nil, fmt.Errorf("create transfer store: %w", err)
		}
		if ok, err := s.isDir([]string{d}); !ok || err != nil {
			root.Close()
			return nil, fmt.Errorf("transfer store: %s is not a directory: %v", filepath.Join(dir, d), err)
		}
	}
	if err := s.count(); err != nil {
		root.Close()
		return nil, fmt.Errorf("count transfer store: %w", err)
	}
	s.log.Info("transfer store opened", "dir", dir, "blob_bytes", s.blobs, "reserved_bytes", s.reserved)
	return s, nil
}

// Close releases the store directory.
func (s *Service) Close() error { return s.root.Close() }

// Limits returns the limits in force, defaults filled in.
func (s *Service) Limits() Limits { return s.limits }

// Usage is what counts against the quota.
type Usage struct {
	BlobBytes     int64 `json:"blob_bytes"`     // bytes of all blobs
	ReservedBytes int64 `json:"reserved_bytes"` // declared sizes of the open sessions
	Quota         int64 `json:"quota"`
}

// Usage returns what the store holds against its quota.
func (s *Service) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Usage{BlobBytes: s.blobs, ReservedBytes: s.reserved, Quota: s.limits.Quota}
}

// Health reports whether the store is writable: it writes, syncs and removes a probe file.
func (s *Service) Health() error {
	name := filepath.Join(tmpDir, "health-"+izy.NewID())
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("transfer store not writable: %w", err)
	}
	_, werr := f.Write([]byte("ok\n"))
	serr := f.Sync()
	cerr := f.Close()
	rerr := s.root.Remove(name)
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return fmt.Errorf("transfer store not writable: %w", err)
	}
	return nil
}

// count sums the blobs and the open sessions' declared sizes.
func (s *Service) count() error {
	err := fs.WalkDir(s.root.FS(), blobsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories; links are neither counted nor followed
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s.blobs += fi.Size()
		return nil
	})
	if err != nil {
		return err
	}
	ids, err := s.sessionIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		sess, err := s.loadSession(id)
		if err != nil {
			continue // an orphan or a damaged session: ExpireSessions removes it in time
		}
		s.reserved += sess.Size
	}
	return nil
}

// reserve counts n more bytes against the quota, or fails with ETOOLARGE.
func (s *Service) reserve(n int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if used := s.blobs + s.reserved; n > s.limits.Quota-used {
		return izy.Errorf(izy.ETOOLARGE, "the transfer store's quota is exhausted: %d of %d bytes in use, %d more asked for", used, s.limits.Quota, n)
	}
	s.reserved += n
	return nil
}

func (s *Service) release(n int64) {
	s.mu.Lock()
	s.reserved -= n
	s.mu.Unlock()
}

// Route is one entry of the /bits HTTP surface, for the server to mount.
type Route struct {
	Method  string // GET, HEAD, POST, PUT or DELETE
	Pattern string // a ServeMux path pattern
	Handler func(http.ResponseWriter, *http.Request) error
}

// Routes lists the /bits endpoints. Each needs a signed-in user in the request's context
// (izy.NewContextWithUser); handlers return *izy.Error values for the server to answer.
func (s *Service) Routes() []Route {
	return []Route{
		{"POST", "/bits/sessions", s.CreateSession},
		{"GET", "/bits/sessions/{id}", s.GetSession},
		{"PUT", "/bits/sessions/{id}", s.PutFragment},
		{"POST", "/bits/sessions/{id}/close", s.CloseSession},
		{"DELETE", "/bits/sessions/{id}", s.CancelSession},
		{"HEAD", "/bits/blobs/{sha256}", s.GetBlob},
		{"GET", "/bits/blobs/{sha256}", s.GetBlob},
	}
}

// lockSession waits for the session's lock as long as the request lives.
func (s *Service) lockSession(ctx context.Context, id string) (func(), error) {
	unlock, err := s.locks.lock(ctx, id)
	if err != nil {
		return nil, izy.Errorf(izy.EUNAVAILABLE, "gave up waiting for the session: %v", err)
	}
	return unlock, nil
}
