package update_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
	"github.com/izytroniq/izytroniq/internal/update"
	"github.com/izytroniq/izytroniq/internal/update/updatetest"
)

func key(n byte) updatetest.Spec {
	_, priv := updatetest.Key(n)
	return updatetest.Spec{Key: priv}
}

// TestDryRunAllPass: on a healthy installation every check passes, nothing changes but
// one history entry, and the configuration file stays byte-identical.
func TestDryRunAllPass(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			in := newInstallation(t, dialect)
			cfgBefore, _ := os.ReadFile(in.opts.ConfigPath)
			before := in.dump(t)
			o := in.opts
			o.PackagePath = in.pkg(t, key(0))
			res, err := update.Run(context.Background(), o)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, report(res))
			}
			for _, c := range res.Checks {
				if c.Status != update.StatusPass {
					t.Errorf("check %q: %s, want pass\n%s", c.Name, c.Status, report(res))
				}
			}
			if got, want := len(res.Checks), 16; got != want {
				t.Errorf("%d checks, want %d", got, want)
			}
			if got, want := res.Outcome, update.OutcomeDryRun; got != want {
				t.Errorf("outcome %q, want %q", got, want)
			}
			if got, want := res.ToVersion, "1.1.0"; got != want {
				t.Errorf("to version %q, want %q", got, want)
			}
			if !res.ConfigUnchanged {
				t.Error("Result says the configuration changed")
			}
			if cfgAfter, _ := os.ReadFile(in.opts.ConfigPath); !bytes.Equal(cfgAfter, cfgBefore) {
				t.Error("the configuration file changed")
			}
			after := in.dump(t)
			for tb, rows := range before {
				if got, want := strings.Join(after[tb], "\n"), strings.Join(rows, "\n"); got != want {
					t.Errorf("table %s changed:\n%s\nwant\n%s", tb, got, want)
				}
			}
			if len(after) != len(before) {
				t.Errorf("%d tables with rows after, %d before", len(after), len(before))
			}
			hist, err := in.db.ListUpdates(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 || hist[0].ID != res.ID || hist[0].Outcome != update.OutcomeDryRun || hist[0].FinishedAt == nil {
				t.Fatalf("history %+v, want one finished dry run %s (%s)", hist, res.ID, res.History)
			}
			if got, want := len(hist[0].Phases), 2; got != want {
				t.Errorf("%d phases recorded, want %d: %+v", got, want, hist[0].Phases)
			}
			if h := hist[0]; h.FromVersion != installed || h.ToVersion != "1.1.0" || h.Phases[0].Name != update.PhaseVerifyPackage {
				t.Errorf("history entry %+v", h)
			}
		})
	}
}

// TestDryRunRefuses: each problem fails its check with the reason, and the dry run
// exits with ErrPreflightFailed.
func TestDryRunRefuses(t *testing.T) {
	type setup func(t *testing.T, in *installation, o *update.Options)
	pkgWith := func(s updatetest.Spec) setup {
		return func(t *testing.T, in *installation, o *update.Options) { o.PackagePath = in.pkg(t, s) }
	}
	withKey0 := func(s updatetest.Spec) updatetest.Spec { s.Key = key(0).Key; return s }
	cases := []struct {
		name      string
		setup     setup
		check     string
		want      string
		dialects  []string // nil: all
		wantSkips bool
	}{
		{"unsigned", pkgWith(updatetest.Spec{}), "package signature", "not signed", []string{sqldb.SQLite}, true},
		{"untrusted key", pkgWith(key(1)), "package signature", "not trusted", []string{sqldb.SQLite}, true},
		{"tampered", pkgWith(withKey0(updatetest.Spec{Tamper: true})), "package signature", "does not match", []string{sqldb.SQLite}, true},
		{"no trusted keys", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath, o.TrustedKeys = in.pkg(t, key(0)), nil
		}, "package signature", "no trusted release keys", []string{sqldb.SQLite}, true},
		{"older package", pkgWith(withKey0(updatetest.Spec{Version: "0.9.0"})), "version path", "downgrade from 1.0.0 to 0.9.0 refused", []string{sqldb.SQLite}, false},
		{"same version", pkgWith(withKey0(updatetest.Spec{Version: installed})), "version path", "already installed", []string{sqldb.SQLite}, false},
		{"intermediate required", pkgWith(withKey0(updatetest.Spec{Version: "3.0.0", MinUpgradeFrom: "2.0.0"})), "version path", "install 2.0.0 first", []string{sqldb.SQLite}, false},
		{"package schema older than the database", pkgWith(withKey0(updatetest.Spec{SchemaVersion: 1})), "schema versions", "package is older than the database schema", nil, false},
		{"migration lock held", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			other := sqldbtest.MustOpenDSN(t, in.dsn)
			release, err := other.HoldMigrationLock(context.Background(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(release)
		}, "migration lock", "migration lock held", nil, false},
		{"modified migration", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			if _, err := in.raw(t).Exec("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
				t.Fatal(err)
			}
		}, "migrations", "applied migrations differ from this binary's: 1 (0001_init.sql)", nil, false},
		{"unknown migration", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			if _, err := in.raw(t).Exec("INSERT INTO schema_migrations (version, name, applied_at, checksum) SELECT 99, '0099_future.sql', applied_at, 'x' FROM schema_migrations WHERE version = 1"); err != nil {
				t.Fatal(err)
			}
		}, "migrations", "does not know: 99 (0099_future.sql)", nil, false},
		{"insufficient disk", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			o.FreeSpace = func(string) (uint64, error) { return 4096, nil }
		}, "disk space", "4.0 KiB free", nil, false},
		{"install directory not writable", func(t *testing.T, in *installation, o *update.Options) {
			// A regular file where the directory should be: no account, root included,
			// can create a file in it.
			o.PackagePath = in.pkg(t, key(0))
			p := filepath.Join(in.dir, "not-a-dir")
			os.WriteFile(p, nil, 0o644)
			o.InstallDir = p
		}, "install directory writable", "is not writable", []string{sqldb.SQLite}, false},
		{"database file missing", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			o.DSN = filepath.Join(in.dir, "elsewhere", "izytroniq.db")
		}, "database connection", "no such file", []string{sqldb.SQLite}, true},
		{"expired certificate", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			o.TLSCert, o.TLSKey = writeCert(t, in.dir, time.Now().Add(10*24*time.Hour))
		}, "TLS certificate", "less than 14", []string{sqldb.SQLite}, false},
		{"service registration removed", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			o.ServiceManager = &fakeManager{}
		}, "service registration", "no longer registered", []string{sqldb.SQLite}, false},
		{"configuration invalid", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, key(0))
			o.ConfigErr = errors.New("configuration x.toml, line 3: unknown key \"listn\"")
		}, "configuration", "unknown key", []string{sqldb.SQLite}, true},
		{"checkout on a dropped protocol", func(t *testing.T, in *installation, o *update.Options) {
			o.PackagePath = in.pkg(t, withKey0(updatetest.Spec{ProtocolVersions: []int{2, 3}}))
			mustCheckout(t, in.db, 1)
		}, "outstanding checkouts", "no longer speaks", nil, false},
	}
	for _, tc := range cases {
		dialects := tc.dialects
		if dialects == nil {
			dialects = sqldbtest.Dialects()
		}
		for _, dialect := range dialects {
			t.Run(tc.name+"/"+dialect, func(t *testing.T) {
				in := newInstallation(t, dialect)
				o := in.opts
				tc.setup(t, in, &o)
				res, err := update.Run(context.Background(), o)
				if !errors.Is(err, update.ErrPreflightFailed) {
					t.Fatalf("Run = %v, want ErrPreflightFailed\n%s", err, report(res))
				}
				c := check(t, res, tc.check)
				if c.Status != update.StatusFail || !strings.Contains(c.Detail, tc.want) || c.Fix == "" {
					t.Fatalf("check %q: %s %q (fix %q), want fail with %q\n%s", tc.check, c.Status, c.Detail, c.Fix, tc.want, report(res))
				}
				for _, other := range res.Checks {
					if other.Name != tc.check && other.Status == update.StatusFail {
						t.Errorf("check %q failed too: %s", other.Name, other.Detail)
					}
					if other.Status == update.StatusSkip && !tc.wantSkips {
						t.Errorf("check %q skipped: %s", other.Name, other.Detail)
					}
				}
				if got, want := res.Outcome, update.OutcomeDryRun; got != want {
					t.Errorf("outcome %q, want %q", got, want)
				}
			})
		}
	}
}

// TestCheckoutsListed: an outstanding checkout whose protocol the package keeps is
// listed (who, what, since) without blocking.
func TestCheckoutsListed(t *testing.T) {
	for _, dialect := range sqldbtest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			in := newInstallation(t, dialect)
			mustCheckout(t, in.db, 1)
			o := in.opts
			o.PackagePath = in.pkg(t, key(0))
			res, err := update.Run(context.Background(), o)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, report(res))
			}
			c := check(t, res, "outstanding checkouts")
			if c.Status != update.StatusInfo || len(c.Items) != 1 || !strings.Contains(c.Items[0], "inspector on Laptop 7: customer") ||
				!strings.Contains(c.Items[0], "protocol 1, since ") {
				t.Fatalf("check %+v, want info listing the checkout", c)
			}
		})
	}
}

// TestLockHeldSkipsHistory: with the lock held the attempt is not recorded (writing
// would wait for the holder), and the result says so.
func TestLockHeldSkipsHistory(t *testing.T) {
	in := newInstallation(t, sqldb.SQLite)
	o := in.opts
	o.PackagePath = in.pkg(t, key(0))
	other := sqldbtest.MustOpenDSN(t, in.dsn)
	release, err := other.HoldMigrationLock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := update.Run(context.Background(), o)
	release()
	if !strings.Contains(res.History, "not recorded") {
		t.Errorf("history %q, want not recorded", res.History)
	}
	if h, _ := in.db.ListUpdates(context.Background(), 0); len(h) != 0 {
		t.Errorf("history holds %+v", h)
	}
}

func mustCheckout(t *testing.T, db *sqldb.DB, protocol int) {
	t.Helper()
	ctx := testCtx()
	c := &izy.Customer{Number: "C1", Name: "Customer 1"}
	if err := db.CreateCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	u := &izy.User{Username: "inspector", DisplayName: "Inspector", Role: izy.RoleInspector}
	if err := db.CreateUser(ctx, u, "hash"); err != nil {
		t.Fatal(err)
	}
	co := &izy.Checkout{ClientID: "cl-1", ClientName: "Laptop 7", UserID: u.ID, CustomerID: c.ID, Mode: izy.CheckoutShared, Protocol: protocol}
	if err := db.CreateCheckout(ctx, co); err != nil {
		t.Fatal(err)
	}
}
