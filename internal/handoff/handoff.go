// Package handoff switches a running server to a new binary without dropping
// connections: the serving process starts the new binary with its listening sockets,
// waits until the new process is ready, then stops accepting and drains, while the new
// process accepts on the same sockets (Linux; elsewhere only the pidfile works).
//
// The running server (serve) uses Listen, New, Ready and Exit; the update uses Running
// and Request. The two talk through files in RunDir and SIGHUP:
//
//	update                               server (old pid)                  new binary
//	write handoff-request.json  ──SIGHUP──▶ read and check the request
//	                                        start binary, same args/env,
//	                                        + listener fds + ready pipe ──▶ Listen (inherited)
//	                                                                        open db, …, Ready:
//	                                        ◀──────────── "ready" ───────── pidfile, sd_notify
//	read handoff-result-ID.json ◀────────── write result, stop accepting,
//	                                        drain, exit 0
package handoff

import (
	"errors"
	"path/filepath"
	"time"
)

// Files in RunDir.
const (
	PIDFileName     = "izytroniq.pid"        // the PID of the process serving from this data directory
	RequestFileName = "handoff-request.json" // a pending hand-over request; at most one
	resultPrefix    = "handoff-result-"      // + request ID + ".json"
)

// Environment of a process started by a hand-over. Both are removed from the process
// environment once read, so that a later hand-over builds them afresh.
const (
	// EnvFDs announces the inherited listeners: JSON [{"network","addr","fd"}].
	EnvFDs = "IZYTRONIQ_HANDOFF_FDS"
	// EnvReady is the number of the descriptor the new process writes "ready" to.
	EnvReady = "IZYTRONIQ_HANDOFF_READY"
)

// Limits.
const (
	// DefaultTimeout bounds how long the old process waits for the new one to be ready.
	DefaultTimeout = 30 * time.Second
	// MaxTimeout is the longest wait a request may ask for.
	MaxTimeout = 10 * time.Minute
	// DefaultDrainGrace is how long the old process, after the new one is ready, lets
	// keep-alive connections carry one more request (answered with "Connection: close")
	// before shutdown closes the idle ones: closing an idle connection races with a
	// client sending a request on it.
	DefaultDrainGrace = time.Second
	// maxFileSize bounds every file this package reads from RunDir.
	maxFileSize = 64 << 10
)

var (
	// ErrNotRunning means no server serves from the data directory: no pidfile, or it
	// names a process that is gone or is not an izytroniq server.
	ErrNotRunning = errors.New("no izytroniq server is running from this data directory")
	// ErrUnsupported means this platform cannot hand a listening socket over (Windows):
	// repoint the service and restart it instead.
	ErrUnsupported = errors.New("hand-over of the listening socket is not supported on this platform; restart the service instead")
	// ErrInProgress means another hand-over request is pending for the same server.
	ErrInProgress = errors.New("hand-over already in progress")
)

// RunDir is where a serving process keeps its pidfile and hand-over files: DATA_DIR/run.
func RunDir(dataDir string) string { return filepath.Join(dataDir, "run") }

func resultPath(runDir, id string) string {
	return filepath.Join(runDir, resultPrefix+id+".json")
}
