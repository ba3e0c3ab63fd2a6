package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/atomicfile"
	"github.com/izytroniq/izytroniq/internal/doctor"
	"github.com/izytroniq/izytroniq/internal/license"
	"github.com/izytroniq/izytroniq/internal/release"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// LicenseCommand makes licence keys, issues licences, installs one and shows it.
type LicenseCommand struct {
	*env
	now func() time.Time // nil: time.Now (tests set it)
}

// Key file names written by `license keygen`.
const (
	licencePrivateKeyFile = "license.key"
	licencePublicKeyFile  = "license.pub"
)

const licenseUsage = `Usage:
  izytroniq license keygen --out DIR
  izytroniq license issue --key PRIVATE_KEY_FILE --customer NAME --edition EDITION --seats N --offline-seats N --expires YYYY-MM-DD [--out FILE]
  izytroniq license install [--config FILE] LICENCE_FILE
  izytroniq license show [--config FILE] [--json]
  izytroniq license seats release [--config FILE] CLIENT_ID

keygen and issue are for whoever issues licences: keygen writes a signing key pair
(license.key, mode 0600, and license.pub), issue signs a licence with the private key.
Editions: Business, Enterprise Premium, Enterprise Ultimate (offline checkout needs
Ultimate). A licence is valid up to and including its expiry date (UTC).

install and show are for the installation: install checks that the licence is
well-formed, signed by a key in license.trusted_keys and not expired, then stores it as
DATA_DIR/license.json; a running server picks it up within a second. Without a valid
licence the server runs in evaluation mode. Each client ID that checks out is bound to
one of the licence's offline seats; 'seats release' frees the seat of a client that is
gone (a lost or replaced laptop).
`

// Run runs `izytroniq license`.
func (c *LicenseCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(c.stderr, licenseUsage)
		if len(args) == 0 {
			return usageErrorf("license needs a subcommand: keygen, issue, install, show or seats")
		}
		return flag.ErrHelp
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "keygen":
		return c.keygen(rest)
	case "issue":
		return c.issue(rest)
	case "install":
		return c.install(rest)
	case "show":
		return c.show(ctx, rest)
	case "seats":
		if len(rest) > 0 && rest[0] == "release" {
			return c.releaseSeat(ctx, rest[1:])
		}
		fmt.Fprint(c.stderr, licenseUsage)
		if len(rest) == 0 {
			return usageErrorf("license seats needs a subcommand: release")
		}
		return usageErrorf("unknown license seats subcommand %q", rest[0])
	}
	fmt.Fprint(c.stderr, licenseUsage)
	return usageErrorf("unknown license subcommand %q", sub)
}

func (c *LicenseCommand) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// parseWithArgs parses args, allowing flags before and after the positional arguments,
// and returns exactly want positional arguments (or a usage error naming them).
func parseWithArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{msg: err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(names) {
		fs.Usage()
		if len(pos) < len(names) {
			return nil, usageErrorf("%s needs %s", fs.Name(), strings.Join(names, " "))
		}
		return nil, usageErrorf("unexpected argument %q", pos[len(names)])
	}
	return pos, nil
}

func (c *LicenseCommand) keygen(args []string) error {
	fs := newFlagSet(c.env, "license keygen", "license keygen --out DIR", `
Write a new licence signing key pair into DIR: license.key (the private key, mode 0600;
keep it offline, whoever holds it can issue licences) and license.pub (the public key
that installations list in license.trusted_keys). Existing key files are never
overwritten.`)
	out := fs.String("out", "", "`directory` for the key files (created if needed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return usageErrorf("license keygen needs --out DIR")
	}
	pub, priv, err := release.GenerateKey()
	if err != nil {
		return err
	}
	dir := absPath(*out)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	privPath, pubPath := filepath.Join(dir, licencePrivateKeyFile), filepath.Join(dir, licencePublicKeyFile)
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; move it away or choose another --out directory (a lost signing key invalidates nothing, a replaced one strands every licence it signed)", p)
		}
	}
	if err := writeNewKeyFile(privPath, release.MarshalPrivateKey(priv), 0o600); err != nil {
		return err
	}
	if err := writeNewKeyFile(pubPath, release.MarshalPublicKey(pub), 0o644); err != nil {
		os.Remove(privPath)
		return err
	}
	fmt.Fprintf(c.stdout, `Key ID:      %s
Private key: %s (keep it secret; it signs licences)
Public key:  %s

Installations trust licences from this key with these lines in izytroniq.toml:

[license]
trusted_keys = [%q]
`, release.KeyID(pub), privPath, pubPath, pubPath)
	return nil
}

// writeNewKeyFile creates path exclusively with mode perm and writes data to it.
func writeNewKeyFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (c *LicenseCommand) issue(args []string) error {
	fs := newFlagSet(c.env, "license issue", "license issue --key PRIVATE_KEY_FILE --customer NAME --edition EDITION --seats N --offline-seats N --expires YYYY-MM-DD [--out FILE]", `
Sign a licence with the private key from 'izytroniq license keygen' and write it to
--out (default: standard output). Editions: Business, Enterprise Premium, Enterprise
Ultimate. The licence is valid up to and including the --expires date (UTC).`)
	keyFile := fs.String("key", "", "private key `file` (license.key)")
	customer := fs.String("customer", "", "customer `name` as it appears on the licence")
	edition := fs.String("edition", "", "`edition`: Business, \"Enterprise Premium\" or \"Enterprise Ultimate\"")
	seats := fs.Int("seats", 0, "concurrent-user seats (`N` ≥ 1)")
	offline := fs.Int("offline-seats", -1, "offline seats: client IDs that may check out (`N` ≥ 0)")
	expires := fs.String("expires", "", "last valid `date` YYYY-MM-DD")
	out := fs.String("out", "", "write the licence to `file` instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{{"--key", *keyFile != ""}, {"--customer", *customer != ""}, {"--edition", *edition != ""},
		{"--seats", *seats != 0}, {"--offline-seats", *offline >= 0}, {"--expires", *expires != ""}} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return usageErrorf("license issue needs %s", strings.Join(missing, ", "))
	}
	ed, err := license.ParseEdition(*edition)
	if err != nil {
		return usageErrorf("--edition: %v", err)
	}
	data, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read licence signing key: %w", err)
	}
	priv, err := release.ParsePrivateKey(data)
	if err != nil {
		return fmt.Errorf("licence signing key %s: %w", *keyFile, err)
	}
	lic, err := license.Issue(priv, *customer, ed, *seats, *offline, *expires, c.clock())
	if err != nil {
		return fmt.Errorf("issue licence: %w", err)
	}
	if lic.Expired(c.clock()) {
		return fmt.Errorf("issue licence: --expires %s is in the past", *expires)
	}
	if *out == "" {
		_, err := c.stdout.Write(lic.Marshal())
		return err
	}
	if err := atomicfile.WriteFile(*out, lic.Marshal(), 0o644); err != nil {
		return fmt.Errorf("write licence: %w", err)
	}
	fmt.Fprintf(c.stderr, "izytroniq: licence %s for %s (%s) written to %s\n", lic.ID, lic.Customer, lic.Edition, *out)
	return nil
}

// trustedLicenceKeys reads license.trusted_keys, refusing a configuration without any.
func trustedLicenceKeys(cfg *Config) ([]ed25519.PublicKey, error) {
	if len(cfg.License.TrustedKeys) == 0 {
		return nil, fmt.Errorf("no licence key is trusted: add the issuer's public key file to license.trusted_keys in %s", orNone(cfg.Path))
	}
	return license.ReadTrustedKeys(cfg.License.TrustedKeys)
}

func orNone(path string) string {
	if path == "" {
		return "the configuration"
	}
	return path
}

func (c *LicenseCommand) install(args []string) error {
	fs := newFlagSet(c.env, "license install", "license install [--config FILE] LICENCE_FILE", `
Check a licence file — well-formed, signed by a key in license.trusted_keys, not expired
— and store it as DATA_DIR/license.json, replacing the installed one atomically. A
running server picks it up within a second. An invalid licence changes nothing.`)
	var cf configFlags
	cf.register(fs, false)
	pos, err := parseWithArgs(fs, args, "LICENCE_FILE")
	if err != nil {
		return err
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	keys, err := trustedLicenceKeys(cfg)
	if err != nil {
		return fmt.Errorf("install licence: %w", err)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("install licence: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("install licence: %w", err)
	}
	if fi.Size() > license.MaxFileSize {
		return fmt.Errorf("install licence: %s is %d bytes, more than the %d a licence can be; nothing was changed (is it the right file?)", pos[0], fi.Size(), license.MaxFileSize)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("install licence: %w", err)
	}
	lic, err := license.Parse(data)
	if err != nil {
		return fmt.Errorf("install licence: %s: %w; nothing was changed (ask the issuer for the original file)", pos[0], err)
	}
	if err := lic.Verify(keys); err != nil {
		if errors.Is(err, license.ErrUntrusted) {
			return fmt.Errorf("install licence: %w; nothing was changed (add the issuer's public key with Key-Id %s to license.trusted_keys, or ask for a licence signed by a trusted key)", err, lic.KeyID)
		}
		return fmt.Errorf("install licence: %w; nothing was changed (ask the issuer for the original file)", err)
	}
	now := c.clock()
	if lic.Expired(now) {
		return fmt.Errorf("install licence: licence %s expired on %s; nothing was changed (ask the issuer for a renewed licence)", lic.ID, lic.Expires)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("install licence: create data directory: %w", err)
	}
	dst := licenceFile(cfg)
	if err := atomicfile.WriteFile(dst, data, 0o640); err != nil {
		return fmt.Errorf("install licence: %w (check that data_dir %s is writable)", err, cfg.DataDir)
	}
	fmt.Fprintf(c.stdout, "Installed licence %s for %s: %s, %d seats, %d offline seats, valid until %s (%d days left).\nStored as %s; a running server uses it within a second.\n",
		lic.ID, lic.Customer, lic.Edition, lic.Seats, lic.OfflineSeats, lic.Expires, lic.DaysLeft(now), dst)
	return nil
}

// LicenceReport is the output of `izytroniq license show --json`.
type LicenceReport struct {
	Status       license.Status `json:"status"` // valid, expiring, expired, invalid, evaluation
	Edition      string         `json:"edition"`
	Error        string         `json:"error,omitempty"`
	File         string         `json:"file"`
	ID           string         `json:"id,omitempty"`
	Customer     string         `json:"customer,omitempty"`
	Seats        int            `json:"seats,omitempty"`
	OfflineSeats OfflineSeats   `json:"offline_seats"`
	Issued       string         `json:"issued,omitempty"`
	Expires      string         `json:"expires,omitempty"`
	DaysLeft     *int           `json:"days_left,omitempty"`
	KeyID        string         `json:"key_id,omitempty"`
}

// OfflineSeats are the licence's offline seats and the client IDs bound to them.
type OfflineSeats struct {
	Used    int          `json:"used"`
	Total   int          `json:"total"`
	Clients []sqldb.Seat `json:"clients"`
	Error   string       `json:"error,omitempty"`
}

func (c *LicenseCommand) show(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "license show", "license show [--config FILE] [--json]", `
Show the installed licence: status (valid, expiring within 30 days, expired, invalid, or
evaluation when none is installed), edition, customer, seats, the offline seats in use
with the client IDs bound to them, and the expiry with the days left.`)
	var cf configFlags
	cf.register(fs, true)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	now := c.clock()
	st := judgeLicence(cfg, now)
	rep := LicenceReport{Status: st.Status, Edition: st.Edition(), File: licenceFile(cfg),
		OfflineSeats: OfflineSeats{Clients: []sqldb.Seat{}}}
	if st.Err != nil {
		rep.Error = st.Err.Error()
	}
	if l := st.License; l != nil {
		days := l.DaysLeft(now)
		rep.ID, rep.Customer, rep.Seats, rep.Issued, rep.Expires, rep.DaysLeft, rep.KeyID =
			l.ID, l.Customer, l.Seats, l.Issued, l.Expires, &days, l.KeyID
		rep.OfflineSeats.Total = l.OfflineSeats
	}
	if _, db, closeAll, err := openCurrentDB(ctx, c.env, &cf); err != nil {
		rep.OfflineSeats.Error = err.Error()
	} else {
		seats, err := db.ListSeats(ctx)
		closeAll()
		if err != nil {
			rep.OfflineSeats.Error = err.Error()
		} else {
			rep.OfflineSeats.Clients, rep.OfflineSeats.Used = seats, len(seats)
		}
	}
	if *asJSON {
		return writeJSON(c.stdout, rep)
	}
	tw := newTable(c.stdout)
	fmt.Fprintf(tw, "status:\t%s\n", rep.Status)
	fmt.Fprintf(tw, "edition:\t%s\n", rep.Edition)
	if rep.Error != "" {
		fmt.Fprintf(tw, "problem:\t%s\n", rep.Error)
	}
	if st.License != nil {
		fmt.Fprintf(tw, "licence:\t%s (key %s)\n", rep.ID, rep.KeyID)
		fmt.Fprintf(tw, "customer:\t%s\n", rep.Customer)
		fmt.Fprintf(tw, "seats:\t%d concurrent users\n", rep.Seats)
		fmt.Fprintf(tw, "offline seats:\t%d of %d bound\n", rep.OfflineSeats.Used, rep.OfflineSeats.Total)
		fmt.Fprintf(tw, "issued:\t%s\n", rep.Issued)
		fmt.Fprintf(tw, "expires:\t%s (%d days left)\n", rep.Expires, *rep.DaysLeft)
	} else {
		fmt.Fprintf(tw, "offline seats:\t%d bound (no limit in evaluation mode)\n", rep.OfflineSeats.Used)
	}
	fmt.Fprintf(tw, "file:\t%s\n", rep.File)
	if rep.OfflineSeats.Error != "" {
		fmt.Fprintf(tw, "seats unknown:\t%s\n", rep.OfflineSeats.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.OfflineSeats.Clients) > 0 {
		fmt.Fprintln(c.stdout)
		tw = newTable(c.stdout)
		fmt.Fprintln(tw, "CLIENT ID\tUSER\tBOUND AT")
		for _, s := range rep.OfflineSeats.Clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ClientID, s.UserID, s.BoundAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	return nil
}

func (c *LicenseCommand) releaseSeat(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "license seats release", "license seats release [--config FILE] [--db DSN] CLIENT_ID", `
Free the offline seat bound to CLIENT_ID (see 'izytroniq license show'), for a client
that is gone. Its next checkout binds a seat again if one is free.`)
	var cf configFlags
	cf.register(fs, true)
	pos, err := parseWithArgs(fs, args, "CLIENT_ID")
	if err != nil {
		return err
	}
	_, db, closeAll, err := openCurrentDB(ctx, c.env, &cf)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := db.ReleaseSeat(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Freed the offline seat of client %s.\n", pos[0])
	return nil
}

// judgeLicence judges the installed licence of cfg at now. Trusted keys that cannot be
// read make an installed licence invalid.
func judgeLicence(cfg *Config, now time.Time) license.State {
	keys, keyErr := license.ReadTrustedKeys(cfg.License.TrustedKeys)
	st := license.Judge(licenceFile(cfg), keys, now)
	if keyErr != nil && st.Status != license.StatusEvaluation {
		return license.State{Status: license.StatusInvalid, License: st.License, Err: keyErr}
	}
	return st
}

// doctorLicence is the installed licence as `check` reports it.
func doctorLicence(cfg *Config, now time.Time) doctor.Licence {
	st := judgeLicence(cfg, now)
	d := doctor.Licence{Status: string(st.Status), Err: st.Err}
	if l := st.License; l != nil {
		d.Detail = fmt.Sprintf("%s for %s, %d seats, %d offline seats, expires %s (%d days left)",
			l.Edition, l.Customer, l.Seats, l.OfflineSeats, l.Expires, l.DaysLeft(now))
	} else if st.Status == license.StatusInvalid {
		d.Detail = licenceFile(cfg)
	}
	return d
}
