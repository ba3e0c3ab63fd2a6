package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// sessionIDs lists the session directories' names that are valid session IDs. Anything
// else in sessions/ is logged and left alone.
func (s *Service) sessionIDs() ([]string, error) {
	d, err := s.root.Open(sessionsDir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if !validSessionID(e.Name()) || !e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			s.log.Warn("unexpected entry in the sessions directory left alone", "name", e.Name(), "mode", e.Type().String())
			continue
		}
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// ExpireSessions removes the sessions that received no fragment within the idle timeout
// before now, and the leftovers of sessions whose creation crashed. Sessions busy with a
// request are skipped. It returns how many it removed.
func (s *Service) ExpireSessions(now time.Time) (int, error) {
	ids, err := s.sessionIDs()
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	removed := 0
	var errs []error
	for _, id := range ids {
		unlock, ok := s.locks.tryLock(id)
		if !ok {
			continue
		}
		gone, err := s.expire(id, now)
		unlock()
		if gone {
			removed++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// expire removes session id (its lock held) if it is idle, or an orphan old enough.
func (s *Service) expire(id string, now time.Time) (bool, error) {
	sess, err := s.loadSession(id)
	if err == nil {
		if now.Sub(sess.UpdatedAt) <= s.limits.IdleTimeout {
			return false, nil
		}
		if err := s.removeSession(sess); err != nil {
			return false, err
		}
		s.log.Info("upload session expired", "session", id, "owner", sess.Owner, "idle_since", sess.UpdatedAt)
		return true, nil
	}
	// No readable metadata: a creation or a removal that crashed, or a damaged file. Its
	// reservation was never counted; the directory goes once it is as old as an idle session.
	dir, derr := sessionElems(id)
	if derr != nil {
		return false, derr
	}
	fi, lerr := s.lstatChain(dir)
	if lerr != nil || !fi.IsDir() || now.Sub(fi.ModTime()) <= s.limits.IdleTimeout {
		return false, nil
	}
	if err := s.root.RemoveAll(join(dir)); err != nil {
		return false, fmt.Errorf("remove orphan session %s: %w", id, err)
	}
	s.log.Warn("removed a session directory without readable metadata", "session", id, "err", err)
	return true, nil
}

// Run expires idle sessions every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if n, err := s.ExpireSessions(now); err != nil {
				s.log.Error("expire upload sessions", "err", err, "removed", n)
			} else if n > 0 {
				s.log.Info("expired upload sessions", "removed", n)
			}
		}
	}
}
