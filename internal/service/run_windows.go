//go:build windows

package service

import (
	"context"

	"golang.org/x/sys/windows/svc"
)

// RunAsService reports whether this process was started by the Windows service control
// manager and, if so, runs fn under it until the manager stops the service (fn's context
// ends then) or fn returns. A failed fn ends the service with exit code 1, so that the
// recovery actions set by `service install` restart it.
func RunAsService(name string, fn func(context.Context) error) (bool, error) {
	is, err := svc.IsWindowsService()
	if err != nil || !is {
		return false, err
	}
	h := &scmHandler{fn: fn}
	if err := svc.Run(name, h); err != nil {
		return true, err
	}
	return true, h.err
}

type scmHandler struct {
	fn  func(context.Context) error
	err error
}

func (h *scmHandler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	reqs := make(chan scmRequest)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(reqs)
		for {
			select {
			case c, ok := <-r:
				if !ok {
					return
				}
				var req scmRequest
				switch c.Cmd {
				case svc.Interrogate:
					req = reqInterrogate
				case svc.Stop:
					req = reqStop
				case svc.Shutdown:
					req = reqShutdown
				default:
					req = reqOther
				}
				select {
				case reqs <- req:
				case <-stop:
					return
				}
			case <-stop:
				return
			}
		}
	}()
	report := func(st scmStatus) {
		out := svc.Status{WaitHint: uint32(st.WaitHint.Milliseconds()), Win32ExitCode: st.ExitCode}
		switch st.State {
		case stateStartPending:
			out.State = svc.StartPending
		case stateRunning:
			out.State = svc.Running
		case stateStopPending:
			out.State = svc.StopPending
		case stateStopped:
			out.State = svc.Stopped
		}
		if st.Accepts {
			out.Accepts = svc.AcceptStop | svc.AcceptShutdown
		}
		s <- out
	}
	code, err := supervise(context.Background(), h.fn, reqs, report, stopGrace)
	h.err = err
	return false, code
}
