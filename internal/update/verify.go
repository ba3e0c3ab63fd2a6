package update

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/izytroniq/izytroniq/internal/release"
)

// verifyPackage is phase 1: the package is signed by a trusted key, intact, and a
// permitted step from the installed version.
func verifyPackage(ctx context.Context, r *run) error {
	return r.phaseChecks(ctx, PhaseVerifyPackage, []namedCheck{
		{"package signature", checkSignature},
		{"version path", checkVersionPath},
	})
}

// phaseChecks runs checks as phase and fails the phase when one of them fails.
func (r *run) phaseChecks(ctx context.Context, phase string, checks []namedCheck) error {
	cs := runChecks(ctx, r, phase, checks)
	r.checks = append(r.checks, cs...)
	for _, c := range cs {
		if c.Failed() {
			return ErrPreflightFailed
		}
	}
	return nil
}

func checkSignature(_ context.Context, r *run, c *Check) {
	if r.o.PackagePath == "" {
		c.fail("no package given", "name the release package with --package FILE")
		return
	}
	st, err := os.Stat(r.o.PackagePath)
	if err != nil {
		c.fail(fmt.Sprintf("cannot read the package: %v", err), "check the path given with --package")
		return
	}
	r.pkgSize = st.Size()
	if len(r.o.TrustedKeys) == 0 {
		why := "no trusted release keys are configured"
		if r.o.ConfigErr != nil {
			why += " (the configuration did not load)"
		}
		c.fail(why, "name the publisher's public key in the configuration: [update] trusted_keys = [\"/etc/izytroniq/release.pub\"] (or IZYTRONIQ_UPDATE_TRUSTED_KEYS)")
		return
	}
	var keys []ed25519.PublicKey
	for _, p := range r.o.TrustedKeys {
		ks, err := release.ReadPublicKeys(p)
		if err != nil {
			c.fail(fmt.Sprintf("trusted key %s: %v", p, err), "fix update.trusted_keys in the configuration: each entry is a public key file from izytroniq release keygen")
			return
		}
		keys = append(keys, ks...)
	}
	pkg, err := release.Open(r.o.PackagePath, keys)
	if err != nil {
		fix := "get the package again from its publisher; do not install it"
		switch {
		case errors.Is(err, release.ErrUntrustedKey):
			fix = "if you trust this publisher, add their public key to update.trusted_keys; otherwise do not install the package"
		case errors.Is(err, release.ErrUnsigned):
			fix = "only signed packages are installed: ask the publisher for a package built with izytroniq release build"
		}
		c.fail(err.Error(), fix)
		return
	}
	r.pkg, r.manifest = pkg, pkg.Manifest
	c.pass(fmt.Sprintf("%s: version %s, signed by trusted key %s, %d files verified", pkg.Path, pkg.Manifest.Version, pkg.KeyID, len(pkg.Manifest.Files)))
}

func checkVersionPath(_ context.Context, r *run, c *Check) {
	if r.manifest == nil {
		c.skip("the package did not verify")
		return
	}
	m := r.manifest
	err := m.CheckUpgradeFrom(r.o.CurrentVersion, false)
	var pe *release.PathError
	switch {
	case err == nil:
		c.pass(fmt.Sprintf("%s → %s", r.o.CurrentVersion, m.Version))
	case errors.As(err, &pe) && errors.Is(err, release.ErrSameVersion):
		c.fail(err.Error(), "nothing to do; to repair an installation use izytroniq doctor")
	case errors.As(err, &pe) && errors.Is(err, release.ErrDowngrade):
		c.fail(fmt.Sprintf("downgrade from %s to %s refused", r.o.CurrentVersion, m.Version),
			fmt.Sprintf("install a version newer than %s; going back needs a restore of a backup made by %s (izytroniq backup restore)", r.o.CurrentVersion, m.Version))
	case errors.As(err, &pe) && errors.Is(err, release.ErrIntermediateRequired):
		c.fail(err.Error(), fmt.Sprintf("update to %s first, then to %s", pe.Required, m.Version))
	default:
		c.fail(err.Error(), "check the installed version (izytroniq version) and the package")
	}
	if c.Status == StatusPass && !r.o.DryRun {
		// After an update by another process this binary is no longer the installed one.
		if root := r.root(); root != "" {
			if cur, err := (layout{root: root}).current(); err == nil && cur != "" && cur != r.o.CurrentVersion {
				c.fail(fmt.Sprintf("the installation runs %s now (%s), not this binary's %s", cur, filepath.Join(root, currentFile), r.o.CurrentVersion),
					fmt.Sprintf("run the update with the installed binary: %s update …", (layout{root: root}).binary(cur)))
			}
		}
	}
	if r.o.CurrentVersion != "" && strings.Contains(r.o.CurrentVersion, "-dev") && c.Status == StatusPass {
		c.Detail += " (the installed binary is a development build)"
	}
}
