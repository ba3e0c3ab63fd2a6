package update

import (
	"context"
	"errors"
	"fmt"

	"github.com/izytroniq/izytroniq/internal/service"
)

// switchPhase is phase 6: the pointer names the new version, the service (if any) runs
// the new binary, and a running server hands its socket over to it (or, where it
// cannot, the service restarts).
func switchPhase(ctx context.Context, r *run) error {
	if err := r.save(PhaseSwitch); err != nil {
		return err
	}
	r.crashPoint("switch:before")
	if err := r.lay.setCurrent(r.j.ToVersion); err != nil {
		return err
	}
	r.j.PointerSwitched = true
	if err := r.save(""); err != nil {
		return err
	}
	r.note("%s now names %s", r.lay.pointer(), r.j.ToVersion)
	r.crashPoint("switch:pointer")

	st, err := r.manager().Status(ctx, r.j.ServiceName)
	svc := err == nil && st.Installed
	if svc {
		if err := r.repoint(ctx, r.j.ToBinary); err != nil {
			return err
		}
		r.j.ServiceSwitched = true
		if err := r.save(""); err != nil {
			return err
		}
	}
	pid := 0
	if r.o.Switcher != nil {
		if pid, err = r.o.Switcher.Running(); err != nil {
			return fmt.Errorf("is a server running: %w", err)
		}
	}
	switch {
	case pid > 0:
		r.j.ServerRunning = true
		if err := r.save(""); err != nil {
			return err
		}
		newPID, err := r.o.Switcher.Handover(ctx, r.j.ToBinary, r.o.HandoverTimeout)
		switch {
		case errors.Is(err, ErrHandoverUnsupported) && svc:
			if err := r.restartService(ctx); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("hand-over to the new binary: %w (the old server keeps serving)", err)
		default:
			r.j.HandedOver = true
			r.note("the server (pid %d) handed its socket over to %s (pid %d)", pid, r.j.ToVersion, newPID)
		}
	case svc && st.Running:
		r.j.ServerRunning = true
		if err := r.save(""); err != nil {
			return err
		}
		if err := r.restartService(ctx); err != nil {
			return err
		}
	default:
		r.note("no server is running: start it with %s serve%s", r.j.ToBinary, configArg(r.o.ConfigPath))
	}
	if err := r.save(""); err != nil {
		return err
	}
	r.crashPoint("switch:after")
	return nil
}

// restartService restarts the service on the new binary: the Windows switch, with a
// bounded gap.
func (r *run) restartService(ctx context.Context) error {
	r.j.ServiceRestarted = true // before: a crash during the restart must restart it back
	if err := r.save(""); err != nil {
		return err
	}
	if err := r.control().Restart(ctx, r.j.ServiceName); err != nil {
		return fmt.Errorf("restart service %s: %w", r.j.ServiceName, err)
	}
	r.note("restarted service %s on %s", r.j.ServiceName, r.j.ToBinary)
	return nil
}

func configArg(p string) string {
	if p == "" {
		return ""
	}
	return " --config " + p
}

// repoint points the service at binary and records the registration's new path, as
// service install does.
func (r *run) repoint(ctx context.Context, binary string) error {
	if err := r.manager().Repoint(ctx, r.j.ServiceName, binary); err != nil {
		return fmt.Errorf("point service %s at %s: %w", r.j.ServiceName, binary, err)
	}
	if spec, err := service.LoadRecord(r.o.DataDir); err == nil && spec.Name == r.j.ServiceName {
		spec.BinaryPath = binary
		if err := service.Record(r.o.DataDir, spec); err != nil {
			return err
		}
	}
	r.note("service %s now runs %s", r.j.ServiceName, binary)
	return nil
}
