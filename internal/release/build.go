package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Platform is a GOOS/GOARCH pair a package carries binaries for.
type Platform struct {
	OS, Arch string
}

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// DefaultPlatforms are the platforms a release is built for.
var DefaultPlatforms = []Platform{{"linux", "amd64"}, {"windows", "amd64"}}

// DefaultCommands are the commands (directories under cmd/) a release carries: the
// server, whose `version --json` fills in the manifest, and the field client.
var DefaultCommands = []string{"izytroniq", "izy"}

// BuildOptions says what Build builds.
type BuildOptions struct {
	SourceDir      string             // the module's root (holds go.mod); default "."
	Version        string             // semantic version, set with -X main.version
	MinUpgradeFrom string             // optional: oldest version this one installs over directly
	OutDir         string             // where the .tar.gz goes; created if needed
	Platforms      []Platform         // default DefaultPlatforms
	Commands       []string           // default DefaultCommands; the first must be izytroniq
	SigningKey     ed25519.PrivateKey // required
	Progress       io.Writer          // progress lines for a person; may be nil
	GoTool         string             // the go command; default "go" from PATH
	Now            func() time.Time   // built_at; default time.Now
}

// FileName is the name Build gives the package for version v.
func FileName(v string) string { return "izytroniq-" + v + ".tar.gz" }

// Build compiles the commands for every platform from opts.SourceDir with
// `go build -trimpath -ldflags "-X main.version=V"` and CGO_ENABLED=0, asks the server
// binary for its schema and protocol versions, writes and signs the manifest, and packs
// everything into OutDir/izytroniq-V.tar.gz. It returns the package's path and manifest.
func Build(ctx context.Context, opts BuildOptions) (string, *Manifest, error) {
	start := time.Now()
	o, err := opts.withDefaults()
	if err != nil {
		return "", nil, err
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create output directory: %w", err)
	}
	dst := filepath.Join(o.OutDir, FileName(o.Version))
	if _, err := os.Lstat(dst); err == nil {
		// A published version never changes: servers may have verified this one already.
		return "", nil, fmt.Errorf("%s already exists; a version is built once", dst)
	}
	work, err := os.MkdirTemp(o.OutDir, ".build-"+o.Version+"-")
	if err != nil {
		return "", nil, fmt.Errorf("create build directory: %w", err)
	}
	defer os.RemoveAll(work)

	var files []File
	var hostServer string // a server binary this machine can run
	for _, plat := range o.Platforms {
		for _, cmd := range o.Commands {
			rel := plat.OS + "-" + plat.Arch + "/" + cmd
			if plat.OS == "windows" {
				rel += ".exe"
			}
			out := filepath.Join(work, filepath.FromSlash(rel))
			t := time.Now()
			progress("building %s %s for %s", cmd, o.Version, plat)
			if err := o.goBuild(ctx, plat, cmd, out); err != nil {
				return "", nil, err
			}
			f, err := describe(out, rel, plat)
			if err != nil {
				return "", nil, err
			}
			files = append(files, f)
			progress("  %s: %s, %.1fs", rel, sizeText(f.Size), time.Since(t).Seconds())
			if cmd == o.Commands[0] && plat.OS == runtime.GOOS && plat.Arch == runtime.GOARCH {
				hostServer = out
			}
		}
	}
	if hostServer == "" {
		// None of the targets runs here; build one that does, only to ask it.
		hostServer = filepath.Join(work, "host", o.Commands[0])
		progress("building %s for this machine (%s/%s) to read its versions", o.Commands[0], runtime.GOOS, runtime.GOARCH)
		if err := o.goBuild(ctx, Platform{runtime.GOOS, runtime.GOARCH}, o.Commands[0], hostServer); err != nil {
			return "", nil, err
		}
	}
	info, err := askVersion(ctx, hostServer)
	if err != nil {
		return "", nil, err
	}
	if info.Version != o.Version {
		return "", nil, fmt.Errorf("the built server reports version %q, not %q: does cmd/%s set its version with var version?", info.Version, o.Version, o.Commands[0])
	}
	m := &Manifest{
		Format:           ManifestFormat,
		Product:          Product,
		Version:          o.Version,
		SchemaVersion:    info.SchemaVersion,
		ProtocolVersions: info.ProtocolVersions,
		MinUpgradeFrom:   o.MinUpgradeFrom,
		BuiltAt:          o.Now().UTC().Truncate(time.Second),
		GoVersion:        info.GoVersion,
		Files:            files,
	}
	if err := m.Validate(); err != nil {
		return "", nil, fmt.Errorf("manifest: %w", err)
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", nil, fmt.Errorf("manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	sig, err := sign(manifest, o.SigningKey)
	if err != nil {
		return "", nil, fmt.Errorf("sign manifest: %w", err)
	}
	progress("signed manifest: version=%s schema_version=%d protocol_versions=%v key_id=%s",
		m.Version, m.SchemaVersion, m.ProtocolVersions, KeyID(o.SigningKey.Public().(ed25519.PublicKey)))

	if err := writeArchive(dst, work, manifest, sig, m); err != nil {
		return "", nil, err
	}
	st, err := os.Stat(dst)
	if err != nil {
		return "", nil, err
	}
	progress("wrote %s (%d files, %s) in %.1fs", dst, len(m.Files), sizeText(st.Size()), time.Since(start).Seconds())
	return dst, m, nil
}

func (o BuildOptions) withDefaults() (BuildOptions, error) {
	if o.SourceDir == "" {
		o.SourceDir = "."
	}
	if o.OutDir == "" {
		return o, fmt.Errorf("no output directory")
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms
	}
	if len(o.Commands) == 0 {
		o.Commands = DefaultCommands
	}
	if o.GoTool == "" {
		o.GoTool = "go"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.SigningKey) != ed25519.PrivateKeySize {
		return o, fmt.Errorf("no release signing key (make one with: izytroniq release keygen)")
	}
	v, err := ParseVersion(o.Version)
	if err != nil {
		return o, err
	}
	o.Version = v.String()
	if o.MinUpgradeFrom != "" {
		mv, err := ParseVersion(o.MinUpgradeFrom)
		if err != nil {
			return o, fmt.Errorf("min upgrade from: %w", err)
		}
		if mv.Compare(v) >= 0 {
			return o, fmt.Errorf("min upgrade from %s must be older than %s", o.MinUpgradeFrom, o.Version)
		}
	}
	for _, p := range o.Platforms {
		if !IsPlatformName(p.OS) || !IsPlatformName(p.Arch) {
			return o, fmt.Errorf("platform %q is not GOOS/GOARCH", p)
		}
	}
	for _, c := range o.Commands {
		if !IsPlatformName(c) { // same alphabet: lower-case letters and digits
			return o, fmt.Errorf("command %q is not a directory name under cmd/", c)
		}
	}
	if _, err := os.Stat(filepath.Join(o.SourceDir, "go.mod")); err != nil {
		return o, fmt.Errorf("source directory %s has no go.mod; pass the module's root", o.SourceDir)
	}
	o.Platforms = slices.Clone(o.Platforms)
	return o, nil
}

// goBuild compiles ./cmd/name for plat into out.
func (o BuildOptions) goBuild(ctx context.Context, plat Platform, name, out string) error {
	cmd := exec.CommandContext(ctx, o.GoTool, "build", "-trimpath",
		"-ldflags", "-X main.version="+o.Version, "-o", out, "./cmd/"+name)
	cmd.Dir = o.SourceDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+plat.OS, "GOARCH="+plat.Arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("go build %s for %s: %w", name, plat, ctx.Err())
		}
		return fmt.Errorf("go build %s for %s: %w\n%s", name, plat, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// versionInfo is what the server's `version --json` prints (its VersionInfo).
type versionInfo struct {
	Version          string `json:"version"`
	SchemaVersion    int    `json:"schema_version"`
	ProtocolVersions []int  `json:"protocol_versions"`
	GoVersion        string `json:"go_version"`
}

// askVersion runs the freshly built server's `version --json`: the manifest describes
// the source tree that was built, not the binary doing the building.
func askVersion(ctx context.Context, exe string) (versionInfo, error) {
	var v versionInfo
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, "version", "--json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return v, fmt.Errorf("ask the built server for its versions: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return v, fmt.Errorf("ask the built server for its versions: %w", err)
	}
	return v, nil
}

// describe hashes the built file at path.
func describe(path, rel string, plat Platform) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", rel, err)
	}
	return File{Path: rel, OS: plat.OS, Arch: plat.Arch, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// writeArchive writes the package to dst through a temporary file renamed into place,
// so a crash never leaves a half-written package under the final name.
func writeArchive(dst, work string, manifest, sig []byte, m *Manifest) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	gz := gzip.NewWriter(tmp)
	tw := tar.NewWriter(gz)
	hdr := func(name string, size int64, mode int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: m.BuiltAt, Format: tar.FormatPAX}
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{ManifestName, manifest}, {SignatureName, sig}} {
		if err := tw.WriteHeader(hdr(e.name, int64(len(e.data)), 0o644)); err != nil {
			return fmt.Errorf("write package: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("write package: %w", err)
		}
	}
	for _, f := range m.Files {
		if err := tw.WriteHeader(hdr(f.Path, f.Size, 0o755)); err != nil {
			return fmt.Errorf("write package: %w", err)
		}
		in, err := os.Open(filepath.Join(work, filepath.FromSlash(f.Path)))
		if err != nil {
			return fmt.Errorf("write package: %w", err)
		}
		_, err = io.Copy(tw, in)
		in.Close()
		if err != nil {
			return fmt.Errorf("write package: %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("write package: %w", err)
	}
	return nil
}

func sizeText(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
