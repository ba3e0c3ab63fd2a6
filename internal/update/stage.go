package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/release"
)

// stagePhase is phase 4: the new version's files in ROOT/versions/<version>/, written
// under a .staging name, checked against the manifest, synced and renamed into place.
func stagePhase(ctx context.Context, r *run) error {
	if err := r.save(PhaseStage); err != nil {
		return err
	}
	r.crashPoint("stage:before")
	v := r.manifest.Version
	final, staging := r.lay.versionDir(v), r.lay.stagingDir(v)
	bin := filepath.Join(final, exeName())
	want := r.platformBinary()
	if want == nil {
		return fmt.Errorf("the package has no server binary for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if _, err := os.Stat(final); err == nil {
		// An earlier attempt staged it: keep it only if the binary is intact.
		if fileHex(bin) == want.SHA256 {
			r.log.Info("the version is already staged and intact", "dir", final)
			r.j.ToBinary = bin
			return r.save("")
		}
		if err := os.RemoveAll(final); err != nil {
			return fmt.Errorf("remove a damaged staged version: %w", err)
		}
	}
	if err := os.RemoveAll(staging); err != nil { // half-written by a crash
		return fmt.Errorf("remove an old staging directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(staging), 0o755); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	err := r.stage(staging, want)
	if err == nil {
		err = os.Rename(staging, final)
	}
	if err == nil {
		err = atomicfile.SyncDir(filepath.Dir(final))
	}
	if err != nil {
		os.RemoveAll(staging)
		return fmt.Errorf("stage %s: %w", v, err)
	}
	r.j.ToBinary = bin
	r.log.Info("staged", "version", v, "binary", bin)
	if err := r.save(""); err != nil {
		return err
	}
	r.crashPoint("stage:after")
	return nil
}

// platformBinary is the package's server binary for this platform.
func (r *run) platformBinary() *release.File {
	for _, f := range r.manifest.FilesFor(runtime.GOOS, runtime.GOARCH) {
		if filepath.Base(f.Path) == exeName() {
			return &f
		}
	}
	return nil
}

// stage extracts the package into dir and installs this platform's files at its top:
// each copied through the (test-wrappable) writer, hashed against the manifest and
// synced; the other platforms' files are removed.
func (r *run) stage(dir string, server *release.File) error {
	if err := r.pkg.Extract(dir); err != nil {
		return err
	}
	for _, f := range r.manifest.FilesFor(runtime.GOOS, runtime.GOARCH) {
		src := filepath.Join(dir, filepath.FromSlash(f.Path))
		dst := filepath.Join(dir, filepath.Base(f.Path))
		if err := r.copyVerified(src, dst, f); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for _, name := range []string{release.ManifestName, release.SignatureName} {
		if err := syncFile(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return atomicfile.SyncDir(dir)
}

func (r *run) copyVerified(src, dst string, f release.File) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	var w io.Writer = out
	if r.o.WrapWriter != nil {
		w = r.o.WrapWriter(dst, out)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), in)
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%s: %w", f.Path, release.ErrMismatch)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dst, err)
	}
	// Read back what is on disk: a file system that accepted the bytes must return them.
	if got := fileHex(dst); got != f.SHA256 {
		return fmt.Errorf("%s on disk: %w", dst, release.ErrMismatch)
	}
	return nil
}
