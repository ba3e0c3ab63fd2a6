//go:build !linux && !windows

package update

import (
	"os/exec"
	"syscall"
)

func setPdeathsig(*exec.Cmd, syscall.Signal) {}
