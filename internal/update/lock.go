package update

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrBusy reports that another update holds the install's update lock.
var ErrBusy = errors.New("another update is running")

// updateLock is DATA_DIR/update/lock, held with an operating-system file lock (flock,
// LockFileEx) for the whole update: the kernel releases it when the process ends, even
// by kill -9, so a crashed update never leaves a stale lock. The file holds the owner's
// pid, for the message the others print.
type updateLock struct{ f *os.File }

func acquireLock(dataDir string) (*updateLock, error) {
	dir := filepath.Join(dataDir, "update")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("update lock: %w", err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("update lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			// The holder writes its pid right after taking the lock.
			for range 50 {
				b, _ := os.ReadFile(path)
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
					return nil, fmt.Errorf("%w (pid %d): wait for it to end; nothing was changed", ErrBusy, pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
			return nil, fmt.Errorf("%w: wait for it to end; nothing was changed", ErrBusy)
		}
		return nil, fmt.Errorf("update lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	f.Sync()
	return &updateLock{f: f}, nil
}

func (l *updateLock) release() {
	l.f.Truncate(0)
	unlockFile(l.f)
	l.f.Close()
}

var errLocked = errors.New("locked")
