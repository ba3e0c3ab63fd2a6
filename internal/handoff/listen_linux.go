//go:build linux

package handoff

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// fdSpec announces one inherited listener in EnvFDs.
type fdSpec struct {
	Network string `json:"network"`
	Addr    string `json:"addr"`   // as the old process gave it to Listen
	Actual  string `json:"actual"` // the bound address, e.g. with the port 0 resolved
	FD      int    `json:"fd"`
}

// inherited holds the listeners announced in EnvFDs, read once.
var inherited struct {
	once  sync.Once
	specs []fdSpec
	used  []bool
	err   error
}

func loadInherited() error {
	inherited.once.Do(func() {
		v, ok := os.LookupEnv(EnvFDs)
		if !ok {
			return
		}
		os.Unsetenv(EnvFDs)
		if err := json.Unmarshal([]byte(v), &inherited.specs); err != nil {
			inherited.err = fmt.Errorf("%s: %w", EnvFDs, err)
			return
		}
		inherited.used = make([]bool, len(inherited.specs))
		for _, s := range inherited.specs {
			if s.FD < 3 {
				inherited.err = fmt.Errorf("%s: descriptor %d is not an inherited one", EnvFDs, s.FD)
				return
			}
		}
	})
	return inherited.err
}

// Listen returns the listener for addr: the one inherited from the parent during a
// hand-over (descriptors passed as extra files, announced by IZYTRONIQ_HANDOFF_FDS),
// else a fresh net.Listen.
func Listen(network, addr string) (net.Listener, bool, error) {
	if err := loadInherited(); err != nil {
		return nil, false, err
	}
	registry.mu.Lock()
	for i, s := range inherited.specs {
		if inherited.used[i] || s.Network != network || (s.Addr != addr && s.Actual != addr) {
			continue
		}
		inherited.used[i] = true
		registry.mu.Unlock()
		f := os.NewFile(uintptr(s.FD), "inherited "+s.Actual)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, false, fmt.Errorf("inherited listener %s (fd %d): %w", s.Actual, s.FD, err)
		}
		return newListener(ln, network, addr), true, nil
	}
	registry.mu.Unlock()
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, false, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the socket file outlives this process in a hand-over
	}
	return newListener(ln, network, addr), false, nil
}

// closeUnusedInherited closes inherited descriptors no Listen asked for (the
// configuration changed its addresses), so the old sockets do not linger.
func closeUnusedInherited(log *slog.Logger) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for i, s := range inherited.specs {
		if !inherited.used[i] {
			inherited.used[i] = true
			log.Warn("hand-over: closing an inherited listener the configuration no longer uses", "addr", s.Actual)
			syscall.Close(s.FD)
		}
	}
}

// inheritReadyPipe returns the parent's ready pipe announced in EnvReady, or nil.
func inheritReadyPipe() (*os.File, error) {
	v, ok := os.LookupEnv(EnvReady)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(EnvReady)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not an inherited descriptor", EnvReady, v)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "handoff-ready"), nil
}

// dupFile returns a duplicate of the listening descriptor to pass to a new process.
// It does not use (*net.TCPListener).File: the os.File that returns switches the
// descriptor to blocking mode when exec takes its number, and the mode is shared with
// this process's descriptor, whose Accept would then block a thread and ignore Close.
func (l *listener) dupFile() (*os.File, error) {
	sc, ok := l.Listener.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("listener %s has no descriptor to hand over", l.Addr())
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		nfd = int(r)
		if errno != 0 {
			derr = errno
		}
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, fmt.Errorf("dup listener: %w", derr)
	}
	return os.NewFile(uintptr(nfd), "listener "+l.Addr().String()), nil
}
