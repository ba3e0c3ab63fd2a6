//go:build !windows

package service

import "context"

// RunAsService reports false: only Windows has a service control manager to answer.
// systemd needs nothing of the program (its unit runs `serve` as a plain process).
func RunAsService(string, func(context.Context) error) (bool, error) { return false, nil }
