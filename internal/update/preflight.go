package update

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/diskspace"
	"github.com/izytroniq/izytroniq/internal/service"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// preflight is phase 2: read-only checks that the update can run here. The only writes
// are temporary probe files in the directories whose writability is checked.
func preflight(ctx context.Context, r *run) error {
	return r.phaseChecks(ctx, PhasePreflight, []namedCheck{
		{"configuration", checkConfig},
		{"database connection", checkDatabase},
		{"database owner rights", checkOwnership},
		{"migration lock", checkLock},
		{"migrations", checkMigrations},
		{"schema versions", checkSchemaVersions},
		{"disk space", checkDisk},
		{"install directory writable", func(ctx context.Context, r *run, c *Check) { checkDir(c, "install", r.installDir()) }},
		{"data directory writable", func(ctx context.Context, r *run, c *Check) { checkDir(c, "data", r.o.DataDir) }},
		{"backup directory writable", func(ctx context.Context, r *run, c *Check) { checkDir(c, "backup", r.backupDir()) }},
		{"TLS certificate", checkTLS},
		{"service registration", checkService},
		{"outstanding checkouts", checkCheckouts},
		{"interrupted update", checkJournal},
	})
}

func checkJournal(_ context.Context, r *run, c *Check) {
	if r.o.DataDir == "" {
		c.skip("the data directory is not known")
		return
	}
	j, err := loadJournal(r.o.DataDir)
	switch {
	case err != nil:
		c.fail(err.Error(), "move the file away if no update runs; the next update then starts afresh")
	case j.open():
		c.warn(fmt.Sprintf("an update %s → %s (attempt %s) stopped in phase %s without finishing", j.FromVersion, j.ToVersion, j.ID, j.Phase),
			"izytroniq update (without --dry-run) first finishes or rolls back that attempt")
	default:
		c.pass("none")
	}
}

// minCertValidity is how long the TLS certificate must still be valid: an update should
// not leave a server whose certificate runs out before anyone looks at it again.
const minCertValidity = 14 * 24 * time.Hour

func (r *run) configOK() bool { return r.o.ConfigErr == nil }

func (r *run) backupDir() string {
	if r.o.BackupDir != "" {
		return r.o.BackupDir
	}
	if r.o.DataDir == "" {
		return ""
	}
	return filepath.Join(r.o.DataDir, "backups")
}

// installDir is where the update writes: the install root, which holds versions/ and
// the pointer.
func (r *run) installDir() string { return r.root() }

func checkConfig(_ context.Context, r *run, c *Check) {
	if r.o.ConfigErr != nil {
		c.fail(r.o.ConfigErr.Error(), "fix the configuration file; izytroniq check and izytroniq doctor explain each setting")
		return
	}
	if r.o.ConfigPath == "" {
		c.warn("no configuration file: defaults and environment variables only",
			"an installation should keep its settings in a file outside the install directory (izytroniq init writes one)")
		return
	}
	c.pass(r.o.ConfigPath + " parses and validates")
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redact hides a PostgreSQL password.
func redact(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dsn
}

func checkDatabase(ctx context.Context, r *run, c *Check) {
	if !r.configOK() {
		c.skip("the configuration did not load")
		return
	}
	if r.o.DSN == "" {
		c.fail("no database configured", "set database.dsn in the configuration")
		return
	}
	if !isPostgres(r.o.DSN) {
		// Opening a missing SQLite file would create an empty database: not read-only,
		// and not the installation's data.
		r.sqlitePath = sqldb.SQLitePath(r.o.DSN)
		if _, err := os.Stat(r.sqlitePath); err != nil {
			c.fail(fmt.Sprintf("the SQLite database %s: %v", r.sqlitePath, err),
				"check database.dsn and data_dir in the configuration; a new installation is made with izytroniq init")
			return
		}
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	db, err := sqldb.Open(octx, r.o.DSN, sqldb.Options{ProductVersion: r.o.CurrentVersion})
	if err != nil {
		c.fail(fmt.Sprintf("%s: %v", redact(r.o.DSN), err),
			"check that the database server runs and that database.dsn names the right host, database and login (izytroniq doctor explains login failures)")
		return
	}
	info, err := db.Info(octx)
	if err != nil {
		db.Close()
		c.fail(fmt.Sprintf("%s answers, but: %v", redact(r.o.DSN), err), "check the database's permissions for the configured login")
		return
	}
	r.db = db
	r.dbSchema, _ = db.SchemaVersion(octx)
	detail := fmt.Sprintf("%s %s: schema version %d", db.Dialect(), redact(r.o.DSN), r.dbSchema)
	if v := info["product_version"]; v != "" {
		detail += ", last migrated by izytroniq " + v
	}
	if r.dbSchema == 0 {
		c.fail(detail+": the database is empty", "this is not an installed database: check database.dsn, or create one with izytroniq init")
		return
	}
	c.pass(detail)
}

func checkOwnership(ctx context.Context, r *run, c *Check) {
	if r.db == nil {
		c.skip("the database is not reachable")
		return
	}
	o, err := r.db.CheckOwnership(ctx, r.sqlitePath)
	if err != nil {
		c.fail(err.Error(), "check the database login's rights")
		return
	}
	if !o.OK {
		fix := "run the update as the account the service uses, and make the database file and its directory writable for it"
		if r.db.Dialect() == sqldb.Postgres {
			fix = "connect as the schema's owner (the account that ran izytroniq init), or have an administrator grant it: ALTER SCHEMA … OWNER TO …; ALTER TABLE … OWNER TO …"
		}
		c.fail(o.Problem, fix)
		return
	}
	if r.db.Dialect() == sqldb.Postgres {
		c.pass(fmt.Sprintf("connected as role %s, which owns the schema and its tables (schema owner %s)", o.Identity, o.Owner))
		return
	}
	c.pass(fmt.Sprintf("%s and its directory are writable", o.Identity))
}

func checkLock(ctx context.Context, r *run, c *Check) {
	if r.db == nil {
		c.skip("the database is not reachable")
		return
	}
	err := r.db.TryMigrationLock(ctx, r.o.LockWait)
	switch {
	case errors.Is(err, sqldb.ErrMigrationLockHeld):
		r.lockHeld = true
		c.fail(err.Error(), "another update or 'izytroniq db upgrade' is running (or a long write holds the database): wait for it to end and try again")
	case err != nil:
		c.fail(err.Error(), "check the database connection")
	default:
		c.pass(fmt.Sprintf("obtained and released at once (waited at most %s)", r.o.LockWait))
	}
}

func checkMigrations(ctx context.Context, r *run, c *Check) {
	if r.db == nil {
		c.skip("the database is not reachable")
		return
	}
	ms, err := r.db.Status(ctx)
	if err != nil {
		c.fail(err.Error(), "check the database (izytroniq db status)")
		return
	}
	if i, err := r.db.InterruptedMigration(ctx); err != nil {
		c.fail(err.Error(), "check the database (izytroniq db status)")
		return
	} else if i != nil && i.Dirty() {
		c.fail(i.Error(), "the database must be repaired before an update: restore the backup taken before that migration (izytroniq backup restore latest), then update again")
		return
	}
	// Migrations this binary does not know are fine when an earlier update applied them
	// (expand steps the old binary runs on) and the package knows them.
	compatible, _ := r.db.SchemaCompatible(ctx)
	var modified, unknown, pending, ahead []string
	for _, m := range ms {
		switch {
		case m.Unknown && compatible && r.manifest != nil && m.Version <= r.manifest.SchemaVersion:
			ahead = append(ahead, fmt.Sprintf("%d (%s)", m.Version, m.Name))
		case m.Unknown:
			unknown = append(unknown, fmt.Sprintf("%d (%s)", m.Version, m.Name))
		case m.Modified:
			modified = append(modified, fmt.Sprintf("%d (%s)", m.Version, m.Name))
		case !m.Applied:
			pending = append(pending, m.Name)
		}
	}
	var problems []string
	if len(modified) > 0 {
		problems = append(problems, "applied migrations differ from this binary's: "+strings.Join(modified, ", "))
	}
	if len(unknown) > 0 {
		problems = append(problems, "the database holds migrations this binary does not know: "+strings.Join(unknown, ", "))
	}
	if len(problems) > 0 {
		c.fail(strings.Join(problems, "; "),
			"the database was changed by hand or by another build: restore the last backup (izytroniq backup restore latest), or run the binary that applied them; do not update over it")
		return
	}
	detail := fmt.Sprintf("%d applied migrations match this binary's", len(ms)-len(pending)-len(ahead))
	if len(ahead) > 0 {
		detail += fmt.Sprintf("; %d newer expand migration(s) the package brings are applied already: %s", len(ahead), strings.Join(ahead, ", "))
	}
	if len(pending) > 0 {
		detail += fmt.Sprintf("; %d not yet applied by this binary: %s", len(pending), strings.Join(pending, ", "))
	}
	c.pass(detail)
}

func checkSchemaVersions(_ context.Context, r *run, c *Check) {
	if r.db == nil || r.manifest == nil {
		c.skip("needs both the database and a verified package")
		return
	}
	db, bin, pkg := r.dbSchema, sqldb.LatestSchemaVersion(), r.manifest.SchemaVersion
	detail := fmt.Sprintf("database %d, this binary %d, package %d", db, bin, pkg)
	switch {
	case pkg < db:
		c.fail(detail+": the package is older than the database schema and cannot run on it",
			"install a package whose schema version is at least "+fmt.Sprint(db))
	case db > bin:
		c.warn(detail+": a newer izytroniq already migrated this database", "check which version the service runs (izytroniq check)")
	case db < bin:
		c.warn(detail+": this binary's own migrations are not applied", "the update applies them; or run izytroniq db upgrade first")
	case pkg == db:
		c.pass(detail + ": the package needs no migration")
	default:
		c.pass(fmt.Sprintf("%s: the update will migrate %d → %d", detail, db, pkg))
	}
}

func checkDisk(ctx context.Context, r *run, c *Check) {
	dir := r.backupDir()
	if r.db == nil || dir == "" {
		c.skip("the database is not reachable")
		return
	}
	size, err := r.db.Size(ctx)
	if err != nil {
		c.fail(err.Error(), "check the database")
		return
	}
	r.dbSize = size
	free := r.o.FreeSpace
	if free == nil {
		free = diskspace.Free
	}
	avail, err := free(diskspace.ExistingDir(dir))
	if errors.Is(err, errors.ErrUnsupported) {
		c.warn("free disk space is unknown on this platform", fmt.Sprintf("make sure %s has at least %s free", dir, diskspace.Human(needSpace(size, r.pkgSize))))
		return
	}
	if err != nil {
		c.fail(fmt.Sprintf("free space in %s: %v", dir, err), "check the backup directory")
		return
	}
	ok, need := enoughSpace(avail, size, r.pkgSize)
	detail := fmt.Sprintf("%s free in %s; needs %s (2 × (database %s + package %s))",
		diskspace.Human(avail), dir, diskspace.Human(need), diskspace.Human(uint64(size)), diskspace.Human(uint64(r.pkgSize)))
	if !ok {
		c.fail(detail, "free some space on that file system, or move data_dir to a larger one")
		return
	}
	c.pass(detail)
}

func checkDir(c *Check, what, dir string) {
	if dir == "" {
		c.fail(fmt.Sprintf("the %s directory is not known", what), "check the configuration")
		return
	}
	target, note := dir, ""
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		target = diskspace.ExistingDir(dir)
		note = fmt.Sprintf(" (does not exist yet; it will be created in %s)", target)
	}
	if err := probeWritable(target); err != nil {
		c.fail(fmt.Sprintf("%s%s is not writable for this account: %v", dir, note, err),
			fmt.Sprintf("run the update as the account that owns %s, or give that account write permission", dir))
		return
	}
	c.pass(dir + note)
}

// probeWritable creates and removes a file in dir.
func probeWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".izytroniq-probe-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func checkTLS(_ context.Context, r *run, c *Check) {
	if !r.configOK() {
		c.skip("the configuration did not load")
		return
	}
	if r.o.TLSCert == "" {
		c.pass("not configured: the server speaks plain HTTP")
		return
	}
	pair, err := tls.LoadX509KeyPair(r.o.TLSCert, r.o.TLSKey)
	if err != nil {
		c.fail(fmt.Sprintf("%s / %s: %v", r.o.TLSCert, r.o.TLSKey, err), "check tls.cert and tls.key in the configuration: both readable PEM files that belong together")
		return
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		c.fail(fmt.Sprintf("%s: %v", r.o.TLSCert, err), "replace the certificate")
		return
	}
	left := leaf.NotAfter.Sub(r.now())
	detail := fmt.Sprintf("%s (%s) valid until %s", r.o.TLSCert, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"))
	switch {
	case left <= 0:
		c.fail(detail+": expired", "renew the certificate before updating")
	case left < minCertValidity:
		c.fail(fmt.Sprintf("%s: only %d days left, less than 14", detail, int(left.Hours()/24)), "renew the certificate before updating")
	default:
		c.pass(fmt.Sprintf("%s, %d days left", detail, int(left.Hours()/24)))
	}
}

func checkService(ctx context.Context, r *run, c *Check) {
	if !r.configOK() || r.o.DataDir == "" {
		c.skip("the configuration did not load")
		return
	}
	m := r.o.ServiceManager
	if m == nil {
		m = service.Default()
	}
	problems, st, err := service.Diagnose(ctx, m, r.o.DataDir, r.o.ServiceName)
	if err != nil {
		if errors.Is(err, service.ErrSystemdNotRunning) {
			c.warn(err.Error(), "on a host with systemd, check with izytroniq service status")
			return
		}
		c.warn("cannot read the service registration: "+err.Error(), "check with izytroniq service status")
		return
	}
	var fails, warns []service.Problem
	for _, p := range problems {
		switch p.Code {
		case service.ProblemNotInstalled, service.ProblemNotRecorded:
			warns = append(warns, p)
		default:
			fails = append(fails, p)
		}
	}
	join := func(ps []service.Problem) (msg, fix string) {
		var ms, fs []string
		for _, p := range ps {
			ms, fs = append(ms, p.Message), append(fs, p.Fix)
		}
		return strings.Join(ms, "; "), strings.Join(fs, "; ")
	}
	switch {
	case len(fails) > 0:
		msg, fix := join(fails)
		c.fail(msg, fix)
	case len(warns) > 0:
		msg, fix := join(warns)
		c.warn(msg+" (an update then only replaces the binary; nothing restarts the server)", fix)
	case strings.Contains(st.State, "systemd is not running"):
		c.warn(fmt.Sprintf("%s is registered (%s, runs %s as %s), but systemd is not running, so its state is unknown", st.Name, st.Location, st.BinaryPath, st.User),
			"run the update on the host where the service runs")
	default:
		c.pass(fmt.Sprintf("%s: runs %s as %s, %s", st.Name, st.BinaryPath, st.User, st.State))
	}
}

func checkCheckouts(ctx context.Context, r *run, c *Check) {
	if r.db == nil {
		c.skip("the database is not reachable")
		return
	}
	if r.dbSchema < 2 { // checkouts arrived with migration 0002
		c.pass("none (the schema has no checkouts yet)")
		return
	}
	cos, err := r.db.ListCheckouts(ctx, "", false)
	if err != nil {
		c.fail(err.Error(), "check the database")
		return
	}
	if len(cos) == 0 {
		c.pass("none")
		return
	}
	var dropped []string
	for _, co := range cos {
		scope := "customer " + co.CustomerID
		if co.LocationID != nil {
			scope = "location " + *co.LocationID
		}
		client := co.ClientName
		if client == "" {
			client = co.ClientID
		}
		item := fmt.Sprintf("%s on %s: %s (%s), protocol %d, since %s", co.Username, client, scope, co.Mode, co.Protocol,
			co.CreatedAt.UTC().Format("2006-01-02 15:04Z"))
		if r.manifest != nil && !slices.Contains(r.manifest.ProtocolVersions, co.Protocol) {
			item += " — the new version drops this protocol"
			dropped = append(dropped, co.Username)
		}
		c.Items = append(c.Items, item)
	}
	switch {
	case len(dropped) > 0:
		c.fail(fmt.Sprintf("%d outstanding checkout(s) use a sync protocol the package (protocols %v) no longer speaks; their offline work could not be checked in",
			len(dropped), r.manifest.ProtocolVersions),
			fmt.Sprintf("have %s check in first (izy checkin), or install an intermediate version that still speaks their protocol", strings.Join(slices.Compact(slices.Sorted(slices.Values(dropped))), ", ")))
	case r.manifest == nil:
		c.warn(fmt.Sprintf("%d outstanding checkout(s); the package did not verify, so their protocols cannot be compared", len(cos)), "")
	default:
		c.info(fmt.Sprintf("%d outstanding checkout(s); the new version keeps their protocols %v, so they can check in afterwards", len(cos), r.manifest.ProtocolVersions))
	}
}
