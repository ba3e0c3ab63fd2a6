package service

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type reports struct {
	mu  sync.Mutex
	got []scmStatus
}

func (r *reports) add(s scmStatus) { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }
func (r *reports) states() []scmState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]scmState, len(r.got))
	for i, s := range r.got {
		out[i] = s.State
	}
	return out
}

func equalStates(a, b []scmState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSuperviseStopRequest(t *testing.T) {
	reqs := make(chan scmRequest)
	var rep reports
	started := make(chan struct{})
	fn := func(ctx context.Context) error { close(started); <-ctx.Done(); return ctx.Err() }
	done := make(chan struct{})
	var code uint32
	var err error
	go func() { code, err = supervise(context.Background(), fn, reqs, rep.add, time.Second); close(done) }()
	<-started
	reqs <- reqInterrogate
	reqs <- reqOther
	reqs <- reqStop
	<-done
	if err != nil || code != 0 {
		t.Fatalf("supervise = %d, %v; want 0, nil", code, err)
	}
	want := []scmState{stateStartPending, stateRunning, stateRunning, stateRunning, stateStopPending, stateStopped}
	if got := rep.states(); !equalStates(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	if !rep.got[1].Accepts || rep.got[4].Accepts || rep.got[4].WaitHint != time.Second {
		t.Fatalf("accepts/wait hint wrong: %+v", rep.got)
	}
}

func TestSuperviseProgramFails(t *testing.T) {
	var rep reports
	boom := errors.New("database unreachable")
	code, err := supervise(context.Background(), func(context.Context) error { return boom }, make(chan scmRequest), rep.add, time.Second)
	if code != 1 || !errors.Is(err, boom) {
		t.Fatalf("supervise = %d, %v; want 1, %v", code, err, boom)
	}
	if last := rep.got[len(rep.got)-1]; last.State != stateStopped || last.ExitCode != 1 {
		t.Fatalf("last report %+v, want stopped with exit code 1", last)
	}
}

func TestSuperviseProgramEndsUnasked(t *testing.T) {
	var rep reports
	code, err := supervise(context.Background(), func(context.Context) error { return nil }, make(chan scmRequest), rep.add, time.Second)
	if code != 1 || err == nil {
		t.Fatalf("a service program ending by itself must count as a failure; got %d, %v", code, err)
	}
}

func TestSuperviseStopTimesOut(t *testing.T) {
	reqs := make(chan scmRequest, 1)
	var rep reports
	release := make(chan struct{})
	defer close(release)
	reqs <- reqShutdown
	code, err := supervise(context.Background(), func(context.Context) error { <-release; return nil }, reqs, rep.add, 50*time.Millisecond)
	if code != 1 || err == nil {
		t.Fatalf("supervise = %d, %v; want 1 and a timeout error", code, err)
	}
}

func TestSuperviseManagerGone(t *testing.T) {
	reqs := make(chan scmRequest)
	close(reqs)
	var rep reports
	stopFn := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); close(stopFn) }()
	code, _ := supervise(context.Background(), func(context.Context) error { <-stopFn; return errors.New("x") }, reqs, rep.add, time.Second)
	if code != 1 {
		t.Fatalf("code %d", code)
	}
}
