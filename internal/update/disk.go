package update

import (
	"fmt"
	"os"
	"path/filepath"
)

// spaceFactor: the backup needs room for a copy of the database, and as much again for
// its format's overhead and growth meanwhile; the package is staged (and kept) too.
const spaceFactor = 2

// needSpace is the free space an update needs: 2 × (database + package).
func needSpace(dbSize, pkgSize int64) uint64 {
	return spaceFactor * (uint64(max(dbSize, 0)) + uint64(max(pkgSize, 0)))
}

// enoughSpace decides the disk check: avail bytes free against needSpace.
func enoughSpace(avail uint64, dbSize, pkgSize int64) (ok bool, need uint64) {
	need = needSpace(dbSize, pkgSize)
	return avail >= need, need
}

// existingDir returns dir or its nearest existing ancestor.
func existingDir(dir string) string {
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

func humanBytes(n uint64) string {
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
