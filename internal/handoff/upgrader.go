package handoff

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Upgrader hands the listeners of a serving process over to a new process on SIGHUP.
// serve creates it after the listeners exist, calls Ready once it accepts requests,
// shuts down when Exit closes and calls Stop when it returns.
type Upgrader struct {
	runDir string
	log    *slog.Logger
	pid    int

	// DrainGrace is how long the old process lets keep-alive connections carry one more
	// request after the new process is ready; DefaultDrainGrace unless set before Ready.
	DrainGrace time.Duration

	parent *os.File // write end of the ready pipe, when a hand-over started this process

	ctx    context.Context // ends with Stop; kills a new process still starting
	cancel context.CancelFunc
	exit   chan struct{}
	sigc   chan os.Signal
	wg     sync.WaitGroup
	stop   sync.Once

	mu         sync.Mutex
	ready      bool
	busy       bool // a hand-over is running
	handedOver bool // a new process took over; this one drains
	newPID     int  // the process that took over
	again      bool // SIGHUP during a hand-over: look for a request again after it
	onDrain    []func()
}

// New returns an Upgrader keeping its files in runDir (created if missing) and starts
// listening for SIGHUP. A process started by a hand-over finds its parent's ready pipe
// in the environment here.
func New(runDir string, logger *slog.Logger) (*Upgrader, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(runDir, 0o750); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	removeLeftovers(runDir, time.Hour)
	parent, err := inheritReadyPipe()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &Upgrader{
		runDir:     runDir,
		log:        logger,
		pid:        os.Getpid(),
		DrainGrace: DefaultDrainGrace,
		parent:     parent,
		ctx:        ctx,
		cancel:     cancel,
		exit:       make(chan struct{}),
		sigc:       make(chan os.Signal, 1),
	}
	notifyHangup(u.sigc)
	u.wg.Add(1)
	go u.loop()
	return u, nil
}

// OnDrain registers f to run when a new process is ready, before this one stops
// accepting: serve makes its HTTP server answer with "Connection: close" there, so
// keep-alive clients move to the new process instead of meeting a closed connection.
func (u *Upgrader) OnDrain(f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.onDrain = append(u.onDrain, f)
}

// Inherited reports whether a hand-over started this process.
func (u *Upgrader) Inherited() bool { return u.parent != nil }

// Ready says the server accepts requests: it waits until every listener from Listen is
// in Accept, writes the pidfile, tells systemd (READY=1, MAINPID) and, after a
// hand-over, the parent process, which then stops accepting and drains.
func (u *Upgrader) Ready() error {
	for _, l := range listeners() {
		if err := l.waitAccepting(10 * time.Second); err != nil {
			return fmt.Errorf("ready: %w", err)
		}
	}
	closeUnusedInherited(u.log)
	if err := writePIDFile(u.runDir, u.pid); err != nil {
		return fmt.Errorf("write pidfile: %w (check that %s is writable by the service account)", err, u.runDir)
	}
	if err := notifySystemd(fmt.Sprintf("READY=1\nMAINPID=%d", u.pid)); err != nil {
		u.log.Warn("sd_notify", "err", err)
	}
	u.mu.Lock()
	u.ready = true
	u.mu.Unlock()
	if u.parent != nil {
		_, err := u.parent.Write([]byte("ready\n"))
		u.parent.Close()
		if err != nil {
			return fmt.Errorf("tell the old process we are ready: %w", err)
		}
		u.log.Info("hand-over: ready, the old process drains", "pid", u.pid, "parent_pid", os.Getppid())
		return nil
	}
	u.log.Info("ready", "pid", u.pid, "pidfile", filepath.Join(u.runDir, PIDFileName))
	return nil
}

// Exit closes when a new process has taken over and this one should shut down
// gracefully (drain in-flight requests) and exit 0.
func (u *Upgrader) Exit() <-chan struct{} { return u.exit }

// Stop stops listening for SIGHUP, kills a new process that is still starting, and
// removes the pidfile unless a new process took over.
func (u *Upgrader) Stop() {
	u.stop.Do(func() {
		stopHangup(u.sigc)
		u.cancel()
		u.wg.Wait()
		u.mu.Lock()
		handedOver := u.handedOver
		u.mu.Unlock()
		if !handedOver {
			removePIDFile(u.runDir, u.pid)
		}
		if u.parent != nil {
			u.parent.Close()
		}
	})
}

func (u *Upgrader) loop() {
	defer u.wg.Done()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-u.sigc:
			u.mu.Lock()
			switch {
			case !u.ready:
				u.log.Warn("hand-over: SIGHUP before the server is ready; ignored")
			case u.handedOver:
				u.log.Warn("hand-over: SIGHUP while draining after a hand-over; ignored", "new_pid", u.newPID)
				u.refuseLate(u.newPID)
			case u.busy:
				u.log.Warn("hand-over: SIGHUP while a hand-over is in progress; looking at it when that one ends")
				u.again = true
			default:
				u.busy = true
				u.wg.Add(1)
				go func() {
					defer u.wg.Done()
					u.handle()
				}()
			}
			u.mu.Unlock()
		}
	}
}

// handle runs one hand-over: the request in RunDir, or a re-execution of this binary
// without one (systemctl reload).
func (u *Upgrader) handle() {
	start := time.Now()
	reqPath := filepath.Join(u.runDir, RequestFileName)
	req, err := readRequest(u.runDir)
	var refused error
	if err == nil {
		refused = checkRequestOwner(reqPath)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		req = &HandoffRequest{}
	case err != nil:
		u.log.Error("hand-over: unreadable request; removed it", "file", reqPath, "err", err)
		os.Remove(reqPath)
		u.setBusy(false)
		return
	case refused != nil:
		u.log.Error("hand-over: request refused; removed it", "id", req.ID, "err", refused)
		if werr := writeResult(u.runDir, &HandoffResult{ID: req.ID, OldPID: u.pid, Binary: req.Binary, Error: refused.Error()}); werr != nil {
			u.log.Error("hand-over: write result", "err", werr)
		}
		os.Remove(reqPath)
		u.setBusy(false)
		return
	case req.PID != 0 && req.PID != u.pid:
		u.log.Warn("hand-over: request for another process; removed it and re-executing this binary", "request_pid", req.PID, "id", req.ID)
		removeRequest(u.runDir, req.ID)
		req = &HandoffRequest{}
	}
	binary := req.Binary
	if binary == "" {
		if binary, err = os.Executable(); err != nil {
			binary = os.Args[0]
		}
	}
	log := u.log.With("old_pid", u.pid, "binary", binary)
	if req.ID != "" {
		log = log.With("id", req.ID)
	}
	log.Info("hand-over: starting the new binary", "timeout", req.Timeout().String())
	newPID, err := u.handOver(u.ctx, binary, req.Timeout())
	res := &HandoffResult{ID: req.ID, OK: err == nil, OldPID: u.pid, NewPID: newPID, Binary: binary, DurationMS: time.Since(start).Milliseconds()}
	if err != nil {
		res.Error = err.Error()
		log.Error("hand-over failed; still serving", "err", err, "duration", time.Since(start).String())
		// The new process may have written its pidfile before it failed.
		if perr := writePIDFile(u.runDir, u.pid); perr != nil {
			log.Error("hand-over: restore pidfile", "err", perr)
		}
		if nerr := notifySystemd(fmt.Sprintf("MAINPID=%d", u.pid)); nerr != nil {
			log.Warn("sd_notify", "err", nerr)
		}
	} else {
		u.mu.Lock()
		u.handedOver, u.newPID = true, newPID
		u.mu.Unlock()
		log.Info("hand-over: new process ready", "new_pid", newPID, "duration", time.Since(start).String())
		// The new process said MAINPID itself; saying it here too means systemd has
		// heard it before this (the old main) process exits.
		if nerr := notifySystemd(fmt.Sprintf("MAINPID=%d", newPID)); nerr != nil {
			log.Warn("sd_notify", "err", nerr)
		}
	}
	if req.ID != "" {
		if werr := writeResult(u.runDir, res); werr != nil {
			log.Error("hand-over: write result", "err", werr)
		}
		removeRequest(u.runDir, req.ID)
	}
	if err != nil {
		u.setBusy(false)
		return
	}
	u.drain(log, newPID, start)
}

// setBusy(false) ends a hand-over that failed; a request that came meanwhile (from an
// update that raced this one) is handled now.
func (u *Upgrader) setBusy(b bool) {
	u.mu.Lock()
	u.busy = b
	again := u.again && !b
	u.again = false
	u.mu.Unlock()
	if r, err := readRequest(u.runDir); again && err == nil && r.PID == u.pid {
		select {
		case u.sigc <- syscall.SIGHUP:
		default:
		}
	}
}

// drain makes responses close their connections, stops accepting, lets keep-alive
// connections carry their next request for up to DrainGrace, then closes Exit.
func (u *Upgrader) drain(log *slog.Logger, newPID int, start time.Time) {
	u.mu.Lock()
	hooks := append([]func(){}, u.onDrain...)
	u.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	ls := listeners()
	for _, l := range ls {
		l.stopAccepting()
	}
	open := 0
	for _, l := range ls {
		open += l.openConns()
	}
	log.Info("hand-over: stopped accepting; draining", "new_pid", newPID, "open_conns", open, "grace", u.DrainGrace.String())
	timer := time.NewTimer(u.DrainGrace)
	defer timer.Stop()
wait:
	for _, l := range ls {
		select {
		case <-l.drained:
		case <-timer.C:
			break wait
		case <-u.ctx.Done():
			break wait
		}
	}
	open = 0
	for _, l := range ls {
		open += l.openConns()
	}
	log.Info("hand-over: shutting down", "new_pid", newPID, "open_conns", open, "since_start", time.Since(start).String())
	close(u.exit)
}

// removeLeftovers removes results no update collected (it was killed) and temporary
// files older than age.
func removeLeftovers(runDir string, age time.Duration) {
	ents, err := os.ReadDir(runDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, resultPrefix) && !strings.HasPrefix(name, ".tmp-") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > age {
			os.Remove(filepath.Join(runDir, name))
		}
	}
}

// refuseLate answers a request that reached this process after it handed over (an
// update that raced another one): in progress, with the process that serves now.
func (u *Upgrader) refuseLate(newPID int) {
	req, err := readRequest(u.runDir)
	if err != nil || req.PID != u.pid {
		return
	}
	res := &HandoffResult{ID: req.ID, OldPID: u.pid, NewPID: newPID, Binary: req.Binary, Code: CodeInProgress,
		Error: fmt.Sprintf("process %d has just handed over to process %d; check which version serves and retry if needed", u.pid, newPID)}
	if err := writeResult(u.runDir, res); err != nil {
		u.log.Error("hand-over: write result", "err", err)
	}
	removeRequest(u.runDir, req.ID)
}
