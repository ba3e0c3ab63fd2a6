package handoff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// answerGrace is how much longer than its timeout Request waits for the server's answer.
const answerGrace = 15 * time.Second

// Running returns the PID of the server serving from this run directory (pidfile, the
// process alive, and an izytroniq serve process), or an error wrapping ErrNotRunning.
func Running(runDir string) (int, error) {
	pid, err := readPIDFile(runDir)
	if err != nil {
		return 0, err
	}
	if err := isServer(pid); err != nil {
		return 0, fmt.Errorf("%w: %s names a process that is not serving (%v); the pidfile is stale", ErrNotRunning, filepath.Join(runDir, PIDFileName), err)
	}
	return pid, nil
}

// Request asks the running server to hand over to binary and waits for the result: the
// new process's PID on success; on failure an error saying why, and the old server is
// still serving. timeout bounds how long the server waits for the new process to be
// ready (DefaultTimeout when 0). Only one request can be pending: another one gets
// ErrInProgress.
func Request(ctx context.Context, runDir, binary string, timeout time.Duration) (int, error) {
	if !supported {
		return 0, ErrUnsupported
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout > MaxTimeout {
		return 0, fmt.Errorf("hand-over timeout %s is longer than %s", timeout, MaxTimeout)
	}
	if err := ValidateBinary(binary); err != nil {
		return 0, err
	}
	pid, err := Running(runDir)
	if err != nil {
		return 0, err
	}
	req := &HandoffRequest{ID: newID(), Binary: binary, TimeoutMS: timeout.Milliseconds(), PID: pid, Created: time.Now().UTC()}
	if err := claimRequest(runDir, req, pid); err != nil {
		return 0, err
	}
	res := resultPath(runDir, req.ID)
	if err := signalServer(pid); err != nil {
		removeRequest(runDir, req.ID)
		return 0, fmt.Errorf("signal server process %d: %w", pid, err)
	}
	deadline := time.NewTimer(timeout + answerGrace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for alive := true; ; {
		if r, err := readResult(res); err == nil {
			os.Remove(res)
			if !r.OK && r.Code == CodeInProgress {
				return 0, fmt.Errorf("%w: %s", ErrInProgress, r.Error)
			}
			if !r.OK {
				return 0, fmt.Errorf("hand-over to %s failed: %s; process %d is still serving", binary, r.Error, pid)
			}
			return r.NewPID, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			os.Remove(res)
			return 0, err
		}
		if testHookNoResult != nil {
			testHookNoResult()
		}
		if err := isServer(pid); err != nil {
			// A server that handed over writes its answer and then exits, at once when
			// it has no connection to drain: the answer may have arrived since it was
			// read above, so look once more before calling the server gone.
			if alive {
				alive = false
				continue
			}
			removeRequest(runDir, req.ID)
			return 0, fmt.Errorf("server process %d ended before answering the hand-over request: %v; start the service again", pid, err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("hand-over: %w (the server may still finish it; see its log)", ctx.Err())
		case <-deadline.C:
			removeRequest(runDir, req.ID)
			return 0, fmt.Errorf("server process %d did not answer the hand-over request within %s; see its log", pid, timeout+answerGrace)
		case <-tick.C:
		}
	}
}

// testHookNoResult, when set by a test, runs each time Request found no answer yet.
var testHookNoResult func()

// claimRequest writes req unless another request is pending. A request left behind by
// an update that died counts as pending until its server is gone or its time is up.
func claimRequest(runDir string, req *HandoffRequest, pid int) error {
	err := createRequest(runDir, req)
	if !errors.Is(err, ErrInProgress) {
		return err
	}
	path := filepath.Join(runDir, RequestFileName)
	old, perr := readRequest(runDir)
	fi, serr := os.Stat(path)
	switch {
	case errors.Is(perr, os.ErrNotExist) || errors.Is(serr, os.ErrNotExist):
		// Finished just now.
	case perr != nil && serr == nil && time.Since(fi.ModTime()) > time.Minute:
		// Unreadable and old: not being written any more.
	case perr == nil && (old.PID != pid || time.Since(old.Created) > old.Timeout()+answerGrace):
		// For a server that is gone, or abandoned.
	default:
		if perr != nil {
			return fmt.Errorf("%w: %s exists (%v); if no update is running, remove it", ErrInProgress, path, perr)
		}
		return fmt.Errorf("%w: request %s for process %d since %s (to %s); wait for it, or remove %s if no update is running",
			ErrInProgress, old.ID, old.PID, old.Created.Format(time.RFC3339), old.Binary, path)
	}
	os.Remove(path)
	return createRequest(runDir, req)
}

func readResult(path string) (*HandoffResult, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, err
	}
	return ParseResult(b)
}
