//go:build !unix && !windows

package update

import "os"

func lockFile(*os.File) error { return nil }
func unlockFile(*os.File)     {}
