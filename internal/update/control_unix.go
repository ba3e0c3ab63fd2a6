//go:build !windows

package update

import (
	"context"
	"os/exec"
	"syscall"

	"github.com/izytroniq/izytroniq/internal/service"
)

// defaultControl restarts and stops systemd units.
type defaultControl struct{}

func (defaultControl) Restart(ctx context.Context, name string) error {
	_, err := service.RunSystemctl(ctx, "restart", name+".service")
	return err
}

func (defaultControl) Stop(ctx context.Context, name string) error {
	_, err := service.RunSystemctl(ctx, "stop", name+".service")
	return err
}

// childDiesWithParent ends the migration's child when the update is killed, so a
// rerun never races a migration still running (Linux only; elsewhere a no-op).
func childDiesWithParent(cmd *exec.Cmd) {
	setPdeathsig(cmd, syscall.SIGKILL)
}
