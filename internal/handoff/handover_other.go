//go:build !linux

package handoff

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

// supported: only Linux hands listening sockets over; elsewhere the update repoints the
// service and restarts it.
const supported = false

// Listen is net.Listen: nothing is inherited on this platform.
func Listen(network, addr string) (net.Listener, bool, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, false, err
	}
	return newListener(ln, network, addr), false, nil
}

func closeUnusedInherited(*slog.Logger)   {}
func inheritReadyPipe() (*os.File, error) { return nil, nil }
func notifyHangup(chan<- os.Signal)       {}
func stopHangup(chan<- os.Signal)         {}
func notifySystemd(string) error          { return nil }
func signalServer(int) error              { return ErrUnsupported }
func checkRequestOwner(string) error      { return nil }

func (u *Upgrader) handOver(context.Context, string, time.Duration) (int, error) {
	return 0, ErrUnsupported
}

// checkExecutable: Windows has no execute bits; starting the file will tell.
func checkExecutable(string, os.FileInfo) error { return nil }

// isServer checks only that the process exists (on Windows FindProcess opens it).
func isServer(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return fmt.Errorf("process %d is not running", pid)
	}
	p.Release()
	return nil
}
