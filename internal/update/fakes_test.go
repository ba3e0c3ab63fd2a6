package update_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/update"
)

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// fakeService is a registered service whose binary path Repoint changes and whose
// Restart really (re)starts that binary through a procSwitcher: the Windows path (no
// hand-over), tested on Linux.
type fakeService struct {
	mu       sync.Mutex
	name     string
	binary   string
	running  bool
	procs    *procSwitcher
	repoints []string
	restarts int
}

var (
	_ service.Manager       = (*fakeService)(nil)
	_ update.ServiceControl = (*fakeService)(nil)
)

func (f *fakeService) Install(context.Context, service.Spec) error { return nil }
func (f *fakeService) Uninstall(context.Context, string) error     { return nil }
func (f *fakeService) Repoint(_ context.Context, name, bin string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.binary = bin
	f.repoints = append(f.repoints, bin)
	return nil
}
func (f *fakeService) Status(_ context.Context, name string) (service.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return service.Status{Name: name, Installed: true, Location: "fake:" + name, BinaryPath: f.binary, BinaryExists: true,
		User: "izytroniq", Running: f.running, State: map[bool]string{true: "active", false: "inactive"}[f.running]}, nil
}
func (f *fakeService) Restart(ctx context.Context, name string) error {
	f.procs.Stop(ctx)
	f.mu.Lock()
	bin := f.binary
	f.restarts++
	f.mu.Unlock()
	err := f.procs.Start(ctx, bin)
	f.mu.Lock()
	f.running = err == nil
	f.mu.Unlock()
	return err
}
func (f *fakeService) Stop(ctx context.Context, name string) error {
	f.procs.Stop(ctx)
	f.mu.Lock()
	f.running = false
	f.mu.Unlock()
	return nil
}
