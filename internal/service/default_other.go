//go:build !windows

package service

// Default returns the Manager of this platform: systemd, with units in
// DefaultUnitDir.
func Default() Manager { return &Systemd{} }
