package backup

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/izytroniq/izytroniq/internal/diskspace"
)

var isWindows = runtime.GOOS == "windows"

// spaceFactor is how many times the database's size must be free before a backup: room
// for the copy, and as much again for the dump format's overhead and the database
// growing meanwhile.
const spaceFactor = 2

// checkSpace fails with ErrNoSpace unless dir's file system has spaceFactor × dbSize free.
// free is nil for the real file system; an unknown free space (an unsupported platform)
// passes.
func checkSpace(dir string, dbSize int64, free func(string) (uint64, error)) error {
	if free == nil {
		free = diskspace.Free
	}
	avail, err := free(dir)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("backup: free space in %s: %w", dir, err)
	}
	need := uint64(max(dbSize, 0)) * spaceFactor
	if avail < need {
		return fmt.Errorf("backup: %w in %s: a backup needs %s (%d × the database's %s), only %s free; free some space or back up to another directory with --dir",
			ErrNoSpace, dir, diskspace.Human(need), spaceFactor, diskspace.Human(uint64(dbSize)), diskspace.Human(avail))
	}
	return nil
}
