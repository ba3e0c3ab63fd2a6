//go:build !linux && !darwin && !windows

package update

import "errors"

// freeSpace is unknown here; the check warns.
func freeSpace(string) (uint64, error) { return 0, errors.ErrUnsupported }
