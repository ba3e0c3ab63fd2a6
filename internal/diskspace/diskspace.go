// Package diskspace tells how much room a directory's file system has left, for the
// checks before a backup and an update, and prints sizes for people.
package diskspace

import (
	"fmt"
	"os"
	"path/filepath"
)

// Free returns the bytes available to this user on the file system that holds dir, or
// would hold it: a directory that does not exist yet is measured at its nearest existing
// ancestor. errors.ErrUnsupported on platforms without a way to ask.
func Free(dir string) (uint64, error) { return free(ExistingDir(dir)) }

// ExistingDir returns dir or its nearest existing ancestor.
func ExistingDir(dir string) string {
	for {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// Human prints n bytes in binary units: 512 B, 1.5 KiB, 30.4 MiB.
func Human(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
