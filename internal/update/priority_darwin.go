package update

import "syscall"

// backgroundPriority lowers this process's CPU priority (nice 10) for the heavy phases,
// so the server serving on the same cores wins.
func backgroundPriority() error { return syscall.Setpriority(syscall.PRIO_PROCESS, 0, 10) }
