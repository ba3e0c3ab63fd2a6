//go:build !linux && !darwin && !windows

package diskspace

import "errors"

// free is unknown here; callers skip or warn.
func free(string) (uint64, error) { return 0, errors.ErrUnsupported }
