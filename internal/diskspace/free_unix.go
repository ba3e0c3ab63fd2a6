//go:build linux || darwin

package diskspace

import "syscall"

// free returns the bytes available to this user on dir's file system.
func free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
