package clientrel

import (
	"os"
	"sync"
	"time"
)

// fileCache holds what was parsed from a file and parses it again when the file's size,
// modification time or identity (a rename over it) changes, looking at most once per
// interval: as the licence watcher does.
type fileCache struct {
	path     string
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	checked time.Time
	fi      os.FileInfo
	val     *Index
	err     error
}

func newFileCache(path string, interval time.Duration) *fileCache {
	return &fileCache{path: path, interval: interval, now: time.Now}
}

func (c *fileCache) get(load func() (*Index, error)) (*Index, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.val != nil && !c.checked.IsZero() && now.Sub(c.checked) < c.interval && !now.Before(c.checked) {
		return c.val, c.err
	}
	c.checked = now
	fi, statErr := os.Stat(c.path)
	if c.val != nil && statErr == nil && c.fi != nil && os.SameFile(fi, c.fi) &&
		fi.Size() == c.fi.Size() && fi.ModTime().Equal(c.fi.ModTime()) && c.err == nil {
		return c.val, c.err
	}
	if statErr != nil {
		fi = nil
	}
	c.fi = fi
	val, err := load()
	switch {
	case err == nil:
		c.val, c.err = val, nil
	case c.val == nil: // nothing good read yet: no releases, no minimum
		c.val, c.err = &Index{Format: IndexFormat}, err
	default: // keep the last good index rather than drop the minimum
		c.err = err
	}
	return c.val, c.err
}
