package update

import (
	"errors"
	"os"
	"strconv"
	"syscall"
)

// backgroundNice is the nice value of the update's heavy phases.
const backgroundNice = 10

// backgroundPriority lowers this process's CPU priority (nice 10) for the heavy phases
// (backup, staging): the server keeps serving on the same cores, and its requests must
// win. On Linux a nice value belongs to a thread, so every thread of this process gets
// it; threads made later inherit it from the thread that makes them. The staged binary's
// migration inherits it too; the new server does not (the running server starts it).
func backgroundPriority() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, backgroundNice); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
