//go:build !windows

package main

import (
	"os/exec"
	"syscall"
)

// detach starts cmd in its own session, so it outlives `izytroniq update`.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }

func stopProcess(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }
