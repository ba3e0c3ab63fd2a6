package main

import (
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/release"
)

// ReleaseCommand makes and checks signed release packages, the input of `izytroniq update`.
type ReleaseCommand struct {
	*env
}

const releaseUsage = `Usage:
  izytroniq release keygen --out DIR
  izytroniq release build  --version V --key FILE --out DIR [--source DIR] [--min-upgrade-from V] [--platforms LIST]
  izytroniq release verify --package FILE --trust FILE [--trust FILE]... [--json]
  izytroniq release publish --file IZY --version V --platform OS/ARCH --key FILE [--minimum] [--config FILE] [--json]
  izytroniq release list [--config FILE] [--json]

keygen  makes a release signing key pair: DIR/release.key (secret, mode 0600) and
        DIR/release.pub (give it to every server; update trusts packages it signed)
build   compiles the server and the field client for linux/amd64 and windows/amd64 from the
        source tree, writes a manifest (versions, SHA-256 of every file), signs it and packs
        everything into DIR/izytroniq-V.tar.gz
verify  checks a package's signature against trusted public keys and every file against
        its manifest, and prints the manifest
publish stores an izy build for one platform in the data directory (client-releases/)
        with a manifest signed by the release key; the running server offers it to
        clients (izy update) and reports it in the handshake. --minimum raises the
        minimum client version to V: older clients may still upload, but must update
        before downloading. The minimum is never lowered.
list    shows the published izy builds and the current and minimum client versions
`

// Run runs `izytroniq release`.
func (c *ReleaseCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, releaseUsage)
		if len(args) == 0 {
			return usageErrorf("release needs a subcommand: keygen, build, verify, publish or list")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("release "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, releaseUsage+"\nFlags:\n"); fs.PrintDefaults() }
	var run func(context.Context) error
	var required func() error // checks the flags a subcommand cannot do without
	switch sub {
	case "keygen":
		k := &releaseKeygen{env: c.env}
		fs.StringVar(&k.out, "out", "", "write release.key and release.pub into `directory`")
		run = k.run
		required = func() error {
			if k.out == "" {
				return usageErrorf("release keygen needs --out")
			}
			return nil
		}
	case "build":
		b := &releaseBuild{env: c.env}
		fs.StringVar(&b.version, "version", "", "product `version` (semantic, e.g. 1.2.3)")
		fs.StringVar(&b.key, "key", "", "sign with the private key in `file` (from release keygen)")
		fs.StringVar(&b.out, "out", "", "write the package into `directory`")
		fs.StringVar(&b.source, "source", ".", "the source tree's root `directory` (holds go.mod)")
		fs.StringVar(&b.minUpgradeFrom, "min-upgrade-from", "", "oldest `version` this one may be installed over directly")
		fs.StringVar(&b.platforms, "platforms", "linux/amd64,windows/amd64", "comma-separated `GOOS/GOARCH` list")
		run = b.run
		required = func() error {
			if b.version == "" || b.key == "" || b.out == "" {
				return usageErrorf("release build needs --version, --key and --out")
			}
			var err error
			b.plats, err = parsePlatforms(b.platforms)
			return err
		}
	case "verify":
		v := &releaseVerify{env: c.env}
		fs.StringVar(&v.pkg, "package", "", "the package `file` (.tar.gz)")
		fs.Var(&v.trust, "trust", "trust the public keys in `file` (repeat for more)")
		fs.BoolVar(&v.asJSON, "json", false, "print JSON")
		run = v.run
		required = func() error {
			if v.pkg == "" || len(v.trust) == 0 {
				return usageErrorf("release verify needs --package and --trust")
			}
			return nil
		}
	case "publish":
		p := &releasePublish{env: c.env}
		p.cf.register(fs, false)
		fs.StringVar(&p.file, "file", "", "the izy build `file` to publish")
		fs.StringVar(&p.version, "version", "", "the build's client `version` (semantic, e.g. 1.2.3)")
		fs.StringVar(&p.platform, "platform", "", "the build's `OS/ARCH`, e.g. windows/amd64")
		fs.StringVar(&p.key, "key", "", "sign the manifest with the private key in `file` (from release keygen)")
		fs.BoolVar(&p.minimum, "minimum", false, "raise the minimum client version to this version")
		fs.BoolVar(&p.asJSON, "json", false, "print JSON")
		run = p.run
		required = func() error {
			if p.file == "" || p.version == "" || p.platform == "" || p.key == "" {
				return usageErrorf("release publish needs --file, --version, --platform and --key")
			}
			return p.parse()
		}
	case "list":
		l := &releaseList{env: c.env}
		l.cf.register(fs, false)
		fs.BoolVar(&l.asJSON, "json", false, "print JSON")
		run = l.run
		required = func() error { return nil }
	default:
		fmt.Fprint(c.stderr, releaseUsage)
		return usageErrorf("unknown release subcommand %q (want keygen, build, verify, publish or list)", sub)
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if err := required(); err != nil {
		fs.Usage()
		return err
	}
	return run(ctx)
}

type releaseKeygen struct {
	*env
	out string
}

func (k *releaseKeygen) run(context.Context) error {
	pub, priv, err := release.GenerateKey()
	if err != nil {
		return err
	}
	privPath, pubPath, err := release.WriteKeyPair(k.out, pub, priv)
	if err != nil {
		return err
	}
	tw := newTable(k.stdout)
	fmt.Fprintf(tw, "key id\t%s\n", release.KeyID(pub))
	fmt.Fprintf(tw, "private key\t%s\t(keep it secret and off the servers; it signs packages)\n", privPath)
	fmt.Fprintf(tw, "public key\t%s\t(copy it to every server; update trusts what it signed)\n", pubPath)
	return tw.Flush()
}

type releaseBuild struct {
	*env
	version, key, out, source, minUpgradeFrom, platforms string
	plats                                                []release.Platform
}

func (b *releaseBuild) run(ctx context.Context) error {
	key, err := release.ReadPrivateKey(b.key)
	if err != nil {
		return err
	}
	path, m, err := release.Build(ctx, release.BuildOptions{
		SourceDir:      b.source,
		Version:        b.version,
		MinUpgradeFrom: b.minUpgradeFrom,
		OutDir:         b.out,
		Platforms:      b.plats,
		SigningKey:     key,
		Progress:       b.stdout,
	})
	if err != nil {
		return fmt.Errorf("release build: %w", err)
	}
	fmt.Fprintf(b.stdout, "package %s: izytroniq %s, schema version %d, %d files\n", path, m.Version, m.SchemaVersion, len(m.Files))
	return nil
}

// parsePlatforms reads "linux/amd64,windows/amd64".
func parsePlatforms(s string) ([]release.Platform, error) {
	var ps []release.Platform
	for _, p := range strings.Split(s, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return nil, usageErrorf("--platforms: %q is not GOOS/GOARCH", p)
		}
		ps = append(ps, release.Platform{OS: goos, Arch: goarch})
	}
	return ps, nil
}

type releaseVerify struct {
	*env
	pkg    string
	trust  trustFiles
	asJSON bool
}

// ReleaseVerification is the output of `izytroniq release verify --json`.
type ReleaseVerification struct {
	Package  string            `json:"package"`
	OK       bool              `json:"ok"`
	Error    string            `json:"error,omitempty"`
	KeyID    string            `json:"key_id,omitempty"`
	Manifest *release.Manifest `json:"manifest,omitempty"`
}

func (v *releaseVerify) run(context.Context) error {
	var trusted []ed25519.PublicKey
	for _, f := range v.trust {
		keys, err := release.ReadPublicKeys(f)
		if err != nil {
			return err
		}
		trusted = append(trusted, keys...)
	}
	p, err := release.Open(v.pkg, trusted)
	out := ReleaseVerification{Package: v.pkg, OK: err == nil}
	if err != nil {
		out.Error = err.Error()
	} else {
		out.KeyID, out.Manifest = p.KeyID, p.Manifest
	}
	if v.asJSON {
		if werr := writeJSON(v.stdout, out); werr != nil {
			return werr
		}
		return err
	}
	if err != nil {
		fmt.Fprintf(v.stdout, "FAILED  %s\n", filepath.Base(v.pkg))
		return err
	}
	m := p.Manifest
	protos := make([]string, len(m.ProtocolVersions))
	for i, n := range m.ProtocolVersions {
		protos[i] = fmt.Sprint(n)
	}
	minFrom := m.MinUpgradeFrom
	if minFrom == "" {
		minFrom = "-"
	}
	tw := newTable(v.stdout)
	fmt.Fprintf(tw, "package\t%s\n", v.pkg)
	fmt.Fprintf(tw, "product\t%s\n", m.Product)
	fmt.Fprintf(tw, "version\t%s\n", m.Version)
	fmt.Fprintf(tw, "schema version\t%d\n", m.SchemaVersion)
	fmt.Fprintf(tw, "protocol versions\t%s\n", strings.Join(protos, ", "))
	fmt.Fprintf(tw, "min upgrade from\t%s\n", minFrom)
	fmt.Fprintf(tw, "built at\t%s\n", m.BuiltAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "go\t%s\n", m.GoVersion)
	fmt.Fprintf(tw, "signed by key\t%s\n", p.KeyID)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(v.stdout)
	tw = newTable(v.stdout)
	fmt.Fprintln(tw, "FILE\tOS\tARCH\tSIZE\tSHA256")
	for _, f := range m.Files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", f.Path, f.OS, f.Arch, f.Size, f.SHA256)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(v.stdout, "\nOK  signed by trusted key %s; all %d files match the manifest\n", p.KeyID, len(m.Files))
	return nil
}

// trustFiles is a repeated --trust flag.
type trustFiles []string

func (t *trustFiles) String() string { return strings.Join(*t, ",") }

func (t *trustFiles) Set(v string) error {
	*t = append(*t, v)
	return nil
}
