package update

import (
	"os"
	"strings"
)

// crashPoint kills this process, as kill -9 would, when o.CrashAt names point: the test
// knob behind IZYTRONIQ_UPDATE_CRASH_AT, which proves that `update` run again converges
// from every point. Points are "<phase>:before", "<phase>:after" (a bare phase means
// before) and "switch:pointer", between writing the pointer and the service or hand-over.
func (r *run) crashPoint(point string) {
	at := r.o.CrashAt
	if at == "" {
		return
	}
	if !strings.Contains(at, ":") {
		at += ":before"
	}
	if at != point {
		return
	}
	r.log.Warn("crashing on purpose (IZYTRONIQ_UPDATE_CRASH_AT)", "at", point)
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		p.Kill() // SIGKILL on Unix, TerminateProcess on Windows
	}
	select {} // the kill is asynchronous; never go on
}
