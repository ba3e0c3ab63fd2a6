package transfer

import (
	"context"
	"sync"
)

// sessionLocks serialises the changes to one session: fragments, close, cancel, expiry.
// Reads of the status need no lock, because the metadata is only ever replaced whole.
type sessionLocks struct {
	mu sync.Mutex
	m  map[string]*sessionLock
}

type sessionLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

func (l *sessionLocks) get(id string) *sessionLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*sessionLock{}
	}
	sl := l.m[id]
	if sl == nil {
		sl = &sessionLock{ch: make(chan struct{}, 1)}
		l.m[id] = sl
	}
	sl.refs++
	return sl
}

func (l *sessionLocks) put(id string, sl *sessionLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sl.refs--; sl.refs == 0 {
		delete(l.m, id)
	}
}

// lock waits for the session's lock until ctx ends; a client that gave up stops waiting.
func (l *sessionLocks) lock(ctx context.Context, id string) (unlock func(), err error) {
	sl := l.get(id)
	select {
	case sl.ch <- struct{}{}:
		return func() { <-sl.ch; l.put(id, sl) }, nil
	case <-ctx.Done():
		l.put(id, sl)
		return nil, ctx.Err()
	}
}

// tryLock takes the session's lock if it is free.
func (l *sessionLocks) tryLock(id string) (unlock func(), ok bool) {
	sl := l.get(id)
	select {
	case sl.ch <- struct{}{}:
		return func() { <-sl.ch; l.put(id, sl) }, true
	default:
		l.put(id, sl)
		return nil, false
	}
}
