package license

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Status is what an installation's licence amounts to at a moment.
type Status string

// Licence statuses. Only StatusValid and StatusExpiring grant the licence's edition;
// the others run the server in evaluation mode.
const (
	StatusValid      Status = "valid"
	StatusExpiring   Status = "expiring"   // valid, but expires within ExpiringWithin
	StatusExpired    Status = "expired"    // well-formed and trusted, but past its expiry
	StatusInvalid    Status = "invalid"    // unreadable, malformed, tampered with or untrusted
	StatusEvaluation Status = "evaluation" // no licence installed
)

// State is the installed licence as judged at a moment.
type State struct {
	Status  Status
	License *License // nil when none is installed or it cannot be parsed
	Err     error    // why the licence is invalid or expired
}

// Granted reports whether the licence's edition and seats apply.
func (s State) Granted() bool { return s.Status == StatusValid || s.Status == StatusExpiring }

// Edition is the edition the server runs: the licence's, or Evaluation.
func (s State) Edition() string {
	if s.Granted() {
		return string(s.License.Edition)
	}
	return Evaluation
}

// Judge reads the licence file at path and judges it at now against keys. A missing
// file is evaluation, not an error.
func Judge(path string, keys []ed25519.PublicKey, now time.Time) State {
	l, err := ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{Status: StatusEvaluation}
	}
	if err != nil {
		return State{Status: StatusInvalid, Err: err}
	}
	return judgeParsed(l, keys, now)
}

func judgeParsed(l *License, keys []ed25519.PublicKey, now time.Time) State {
	if err := l.Verify(keys); err != nil {
		return State{Status: StatusInvalid, License: l, Err: err}
	}
	switch {
	case l.Expired(now):
		return State{Status: StatusExpired, License: l, Err: fmt.Errorf("licence %s expired on %s", l.ID, l.Expires)}
	case l.ExpiresAt().Sub(now) <= ExpiringWithin:
		return State{Status: StatusExpiring, License: l}
	}
	return State{Status: StatusValid, License: l}
}

// Watcher keeps the installed licence of a running server current: it re-reads the
// file when its size or modification time changes or it is replaced (renamed over), looking at most once per Interval,
// so a licence installed while the server runs takes effect without a restart.
type Watcher struct {
	path     string
	keys     []ed25519.PublicKey
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu      sync.Mutex
	checked time.Time // when the file was last looked at
	size    int64
	mtime   time.Time
	fi      os.FileInfo // to notice a replacement by rename when size and mtime match
	exists  bool
	lic     *License // the parsed file, nil if missing or unparsable
	readErr error    // why the file could not be parsed
	last    Status   // the status last logged
}

// NewWatcher returns a watcher of the licence file at path, trusting keys; logger
// hears about every change of status. now may be nil (time.Now).
func NewWatcher(path string, keys []ed25519.PublicKey, logger *slog.Logger, now func() time.Time) *Watcher {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{path: path, keys: keys, log: logger, now: now, interval: time.Second}
}

// Current returns the licence's state now, re-reading the file if it changed.
func (w *Watcher) Current() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.checked.IsZero() || now.Sub(w.checked) >= w.interval || now.Before(w.checked) {
		w.checked = now
		w.refresh()
	}
	var st State
	switch {
	case !w.exists:
		st = State{Status: StatusEvaluation}
	case w.readErr != nil:
		st = State{Status: StatusInvalid, Err: w.readErr}
	default:
		st = judgeParsed(w.lic, w.keys, now)
	}
	if st.Status != w.last {
		w.report(st)
		w.last = st.Status
	}
	return st
}

// refresh re-reads the file when its size or modification time changed.
func (w *Watcher) refresh() {
	fi, err := os.Stat(w.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.exists, w.lic, w.readErr = true, nil, err
			return
		}
		w.exists, w.lic, w.readErr = false, nil, nil
		return
	}
	if w.exists && w.readErr == nil && w.lic != nil && fi.Size() == w.size && fi.ModTime().Equal(w.mtime) &&
		w.fi != nil && os.SameFile(fi, w.fi) {
		return
	}
	w.exists, w.size, w.mtime, w.fi = true, fi.Size(), fi.ModTime(), fi
	w.lic, w.readErr = ReadFile(w.path)
}

func (w *Watcher) report(st State) {
	switch st.Status {
	case StatusValid, StatusExpiring:
		l := st.License
		w.log.Info("licence", "status", st.Status, "id", l.ID, "customer", l.Customer, "edition", l.Edition,
			"seats", l.Seats, "offline_seats", l.OfflineSeats, "expires", l.Expires)
	case StatusEvaluation:
		w.log.Info("licence", "status", st.Status, "detail", "no licence installed; running in evaluation mode")
	default:
		w.log.Warn("licence not in effect; running in evaluation mode", "status", st.Status, "err", st.Err)
	}
}
