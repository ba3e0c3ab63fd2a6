package service

import (
	"context"
	"fmt"
	"time"
)

// The Windows service control manager starts a service's program and expects it to
// connect back within 30 seconds, report "running", answer interrogations and stop when
// told. RunAsService (run_windows.go) does that for `izytroniq serve`; this file holds
// its platform-free logic so that it is tested on every platform.

// scmRequest is a control request from the service control manager.
type scmRequest int

const (
	reqInterrogate scmRequest = iota
	reqStop
	reqShutdown
	reqOther // pause, continue, parameter changes: not supported, answered with the current state
)

// scmState is what the service reports.
type scmState int

const (
	stateStartPending scmState = iota
	stateRunning
	stateStopPending
	stateStopped
)

func (s scmState) String() string {
	return [...]string{"start-pending", "running", "stop-pending", "stopped"}[s]
}

// scmStatus is one status report to the service control manager.
type scmStatus struct {
	State    scmState
	Accepts  bool          // stop and shutdown are accepted (only while running)
	WaitHint time.Duration // how long the pending state may last
	ExitCode uint32        // with stateStopped: 0, or 1 when the program failed
}

// stopGrace bounds the wait for the program after a stop request; the service control
// manager is told it may take that long.
const stopGrace = 30 * time.Second

// supervise runs fn as the service's program: it reports start-pending then running,
// answers requests until fn ends or a stop/shutdown request arrives (then it cancels fn's
// context and waits up to grace for it), and finally reports stopped with the exit code.
// It returns fn's error (nil after a clean stop).
func supervise(ctx context.Context, fn func(context.Context) error, requests <-chan scmRequest, report func(scmStatus), grace time.Duration) (uint32, error) {
	report(scmStatus{State: stateStartPending, WaitHint: 10 * time.Second})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	cur := scmStatus{State: stateRunning, Accepts: true}
	report(cur)
	finish := func(err error) (uint32, error) {
		code := uint32(0)
		if err != nil {
			code = 1
		}
		report(scmStatus{State: stateStopped, ExitCode: code})
		return code, err
	}
	for {
		select {
		case err := <-done:
			if err == nil {
				// The program ended without being told to: for a service that is a failure,
				// so that the recovery actions restart it.
				err = fmt.Errorf("the server stopped without a stop request")
			}
			return finish(err)
		case req, ok := <-requests:
			if !ok {
				requests = nil // the manager went away; keep serving until fn ends
				continue
			}
			switch req {
			case reqStop, reqShutdown:
				report(scmStatus{State: stateStopPending, WaitHint: grace})
				cancel()
				select {
				case err := <-done:
					if err == context.Canceled {
						err = nil
					}
					return finish(err)
				case <-time.After(grace):
					return finish(fmt.Errorf("the server did not stop within %s", grace))
				}
			default:
				report(cur)
			}
		}
	}
}
