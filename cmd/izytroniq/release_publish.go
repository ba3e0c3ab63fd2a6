package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/clientrel"
	"github.com/izytroniq/izytroniq/internal/release"
)

// ClientReleasesDir is the directory of published izy builds in the data directory.
const ClientReleasesDir = "client-releases"

// clientReleasesDir is where `release publish` stores izy builds and the server finds them.
func clientReleasesDir(cfg *Config) string { return filepath.Join(cfg.DataDir, ClientReleasesDir) }

type releasePublish struct {
	*env
	cf                      configFlags
	file, version, platform string
	key                     string
	minimum, asJSON         bool
	plat                    clientrel.Platform // parsed from platform
}

// parse checks --version and --platform.
func (p *releasePublish) parse() error {
	var err error
	if p.plat, err = clientrel.ParsePlatform(p.platform); err != nil {
		return usageErrorf("--platform: %s", izy.ErrorMessage(err))
	}
	if _, err := clientrel.ParseVersion(p.version); err != nil {
		return usageErrorf("--version: %s", izy.ErrorMessage(err))
	}
	return nil
}

func (p *releasePublish) run(context.Context) error {
	cfg, err := loadValidConfig(p.env, &p.cf)
	if err != nil {
		return err
	}
	key, err := release.ReadPrivateKey(p.key)
	if err != nil {
		return err
	}
	bin, err := readClientBuild(p.file)
	if err != nil {
		return err
	}
	res, err := clientrel.Publish(clientReleasesDir(cfg), clientrel.PublishOptions{
		Binary: bin, Version: p.version, Platform: p.plat, Key: key, Minimum: p.minimum, Now: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("release publish: %w", err)
	}
	if p.asJSON {
		return writeJSON(p.stdout, res)
	}
	what := "published"
	if res.Unchanged {
		what = "already published (same content); nothing changed"
	}
	e := res.Entry
	fmt.Fprintf(p.stdout, "izy %s for %s %s\n", e.Version, e.Platform(), what)
	tw := newTable(p.stdout)
	fmt.Fprintf(tw, "file\t%s\n", res.Path)
	fmt.Fprintf(tw, "size\t%d\n", e.Size)
	fmt.Fprintf(tw, "sha256\t%s\n", e.SHA256)
	fmt.Fprintf(tw, "signed by key\t%s\n", e.KeyID)
	fmt.Fprintf(tw, "current version\t%s\n", orDash(res.Current))
	fmt.Fprintf(tw, "minimum version\t%s\n", orDash(res.Minimum))
	return tw.Flush()
}

// readClientBuild reads an izy build to publish: a regular, non-empty file within the
// size limit.
func readClientBuild(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read client build: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read client build: %w", err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, izy.Errorf(izy.EINVALID, "client build %s is not a regular file", path)
	case fi.Size() == 0:
		return nil, izy.Errorf(izy.EINVALID, "client build %s is empty", path)
	case fi.Size() > clientrel.MaxBinarySize:
		return nil, izy.Errorf(izy.ETOOLARGE, "client build %s is %d bytes; at most %d are allowed", path, fi.Size(), clientrel.MaxBinarySize)
	}
	b, err := io.ReadAll(io.LimitReader(f, clientrel.MaxBinarySize+1))
	if err != nil {
		return nil, fmt.Errorf("read client build: %w", err)
	}
	if int64(len(b)) != fi.Size() {
		return nil, fmt.Errorf("client build %s changed while it was read", path)
	}
	return b, nil
}

type releaseList struct {
	*env
	cf     configFlags
	asJSON bool
}

func (l *releaseList) run(context.Context) error {
	cfg, err := loadValidConfig(l.env, &l.cf)
	if err != nil {
		return err
	}
	x, err := clientrel.ReadIndex(clientReleasesDir(cfg))
	if err != nil {
		return err
	}
	if x.Releases == nil {
		x.Releases = []clientrel.Entry{}
	}
	if l.asJSON {
		return writeJSON(l.stdout, x)
	}
	fmt.Fprintf(l.stdout, "current version %s, minimum version %s\n", orDash(x.Current), orDash(x.Minimum))
	if len(x.Releases) == 0 {
		fmt.Fprintln(l.stdout, "no izy release is published")
		return nil
	}
	tw := newTable(l.stdout)
	fmt.Fprintln(tw, "VERSION\tPLATFORM\tSIZE\tSHA256\tKEY\tPUBLISHED")
	for _, e := range x.Releases {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.Version, e.Platform(), e.Size, e.SHA256, e.KeyID, e.PublishedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}
