package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

var actor = &izy.User{ID: "0190a000-0000-7000-8000-000000000001", Username: "tester", Role: izy.RoleAdmin}

func testCtx() context.Context { return izy.NewContextWithUser(context.Background(), actor) }

func mustDate(tb testing.TB, s string) izy.Date {
	tb.Helper()
	d, err := izy.ParseDate(s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// seed fills db through the store: customers, a location tree, devices, an instrument,
// a user and tests with measurements.
func seed(tb testing.TB, db *sqldb.DB, prefix string, n int) (locs []*izy.Location) {
	tb.Helper()
	ctx := testCtx()
	for i := range n {
		c := &izy.Customer{Number: prefix + "-" + string(rune('A'+i)), Name: "Customer ‘" + prefix + "’"}
		if err := db.CreateCustomer(ctx, c); err != nil {
			tb.Fatal(err)
		}
		var parent *izy.Location
		for _, k := range []izy.LocationKind{"property", "building", "level", "room"} {
			l := &izy.Location{CustomerID: c.ID, Kind: k, Name: string(k)}
			if parent != nil {
				l.ParentID = &parent.ID
			}
			if err := db.CreateLocation(ctx, l); err != nil {
				tb.Fatal(err)
			}
			locs = append(locs, l)
			parent = l
		}
		instr := &izy.Instrument{Type: "tester", SerialNumber: prefix + "-I" + string(rune('0'+i)), CalibrationDue: mustDate(tb, "2026-01-01")}
		if err := db.CreateInstrument(ctx, instr); err != nil {
			tb.Fatal(err)
		}
		for j := range 3 {
			d := &izy.Device{CustomerID: c.ID, LocationID: &parent.ID, InventoryID: prefix + "-D" + string(rune('0'+j)),
				Designation: "Drill", ProtectionClass: izy.ClassI, IntervalMonths: 12, Status: izy.DeviceActive, CableLengthM: 7.5}
			if err := db.CreateDevice(ctx, d); err != nil {
				tb.Fatal(err)
			}
			t := &izy.Test{DeviceID: d.ID, Date: mustDate(tb, "2025-03-01"), Standard: izy.DefaultStandard,
				VisualOK: true, FunctionalOK: true, Result: izy.ResultPass, NextDue: mustDate(tb, "2026-03-01"),
				InstrumentID: &instr.ID,
				Measurements: []izy.Measurement{{Kind: "insulation_resistance", Value: 2.5, Unit: "MΩ",
					Parameters: map[string]string{"test_voltage": "500 V"}, Limit: &izy.Limit{Min: ptr(1.0), Unit: "MΩ"}, Result: izy.ResultPass}}}
			if err := db.CreateTest(ctx, t); err != nil {
				tb.Fatal(err)
			}
		}
	}
	u := &izy.User{Username: "insp-" + strings.ToLower(prefix), Role: izy.RoleInspector}
	if err := db.CreateUser(ctx, u, "hash"); err != nil {
		tb.Fatal(err)
	}
	return locs
}

func ptr[T any](v T) *T { return &v }

func dump(tb testing.TB, db *sqldb.DB) map[string][]string {
	tb.Helper()
	m, err := db.DumpTables(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fixture is a database with data, a config file and a backups directory.
type fixture struct {
	dsn, dir, config string
	configBytes      []byte
}

func newFixture(t *testing.T, dialect string) (*fixture, *sqldb.DB) {
	t.Helper()
	f := &fixture{dsn: sqldbtest.DSN(t, dialect), dir: filepath.Join(t.TempDir(), "backups"), config: filepath.Join(t.TempDir(), "izytroniq.toml")}
	// Bytes a text copy would change: CRLF, trailing blanks, no final newline, not UTF-8.
	f.configBytes = []byte("listen = \"127.0.0.1:8080\"\r\n# comment   \r\n\xff\xfe data_dir = 'x'")
	if err := os.WriteFile(f.config, f.configBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	db := open(t, f.dsn)
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, db
}

func open(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn, sqldb.Options{ProductVersion: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func (f *fixture) opts(method string) Options {
	return Options{Dir: f.dir, DSN: f.dsn, ProductVersion: "1.2.3", ConfigPath: f.config, Method: method}
}

func TestRoundTrip(t *testing.T) {
	type variant struct{ dialect, method, want string }
	vs := []variant{{sqldb.SQLite, "", MethodVacuumInto}}
	if os.Getenv(sqldbtest.EnvPostgres) != "" {
		vs = append(vs, variant{sqldb.Postgres, MethodLogical, MethodLogical})
		if _, err := os.Stat("/usr/bin/pg_dump"); err == nil || pathHas("pg_dump") {
			vs = append(vs, variant{sqldb.Postgres, "", MethodPGDump})
		}
	}
	for _, v := range vs {
		t.Run(v.dialect+"/"+v.want, func(t *testing.T) {
			ctx := testCtx()
			f, db := newFixture(t, v.dialect)
			locs := seed(t, db, "K", 3)
			before := dump(t, db)

			m, err := Create(ctx, db, f.opts(v.method))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Method, v.want; got != want {
				t.Fatalf("method = %q, want %q", got, want)
			}
			if got, want := m.SchemaVersion, sqldb.LatestSchemaVersion(); got != want {
				t.Errorf("schema_version = %d, want %d", got, want)
			}
			if !strings.HasPrefix(m.ID, m.CreatedAt.Format("20060102T150405Z")+"-") || !strings.HasSuffix(m.ID, "-1.2.3") {
				t.Errorf("id = %q, want <timestamp>-<schema>-1.2.3", m.ID)
			}
			cf := m.File(KindConfig)
			if cf == nil {
				t.Fatal("no config file in the backup")
			}
			if b, _ := os.ReadFile(filepath.Join(f.dir, m.ID, cf.Path)); !bytes.Equal(b, f.configBytes) {
				t.Errorf("config copy = %q, want %q", b, f.configBytes)
			}

			// Change the data: new rows, a deleted location, and the config.
			seed(t, db, "X", 1)
			room := locs[len(locs)-1]
			_ = room
			leaf := &izy.Location{CustomerID: locs[0].CustomerID, Kind: "room", Name: "gone", ParentID: &locs[2].ID}
			if err := db.CreateLocation(ctx, leaf); err != nil {
				t.Fatal(err)
			}
			if err := db.DeleteLocation(ctx, leaf.ID, leaf.Version); err != nil {
				t.Fatal(err)
			}
			changed := dump(t, db)
			if cmp.Equal(before, changed) {
				t.Fatal("the changes changed nothing")
			}
			if err := os.WriteFile(f.config, []byte("changed"), 0o600); err != nil {
				t.Fatal(err)
			}

			ro := RestoreOptions{Dir: f.dir, ID: m.ID, DSN: f.dsn, ConfigPath: f.config, ProductVersion: "1.2.3"}
			if v.dialect == sqldb.SQLite {
				// The open handle stands for a running server.
				if _, err := Restore(ctx, ro); !errors.Is(err, sqldb.ErrInUse) {
					t.Fatalf("restore while open: err = %v, want ErrInUse", err)
				}
			}
			db.Close()
			rep, err := Restore(ctx, ro)
			if err != nil {
				t.Fatal(err)
			}
			if rep.SafetyBackup == "" {
				t.Error("no safety backup")
			}
			if b, _ := os.ReadFile(f.config); string(b) != "changed" {
				t.Errorf("config restored without --config-too: %q", b)
			}
			db = open(t, f.dsn)
			defer db.Close()
			if diff := cmp.Diff(before, dump(t, db)); diff != "" {
				t.Fatalf("restored data differ (-backup +restored):\n%s", diff)
			}
			// Sequences are back too: new rows still get fresh keys.
			if err := db.CreateCustomer(ctx, &izy.Customer{Number: "AFTER", Name: "after"}); err != nil {
				t.Fatalf("create after restore: %v", err)
			}
			db.Close()

			// The safety backup holds the changed state; restoring it brings that back,
			// and --config-too brings the config file back.
			ro.ID, ro.ConfigToo, ro.NoSafetyBackup = rep.SafetyBackup, true, true
			if _, err := Restore(ctx, ro); err != nil {
				t.Fatal(err)
			}
			db2 := open(t, f.dsn)
			defer db2.Close()
			if diff := cmp.Diff(changed, dump(t, db2)); diff != "" {
				t.Fatalf("safety backup restore differs:\n%s", diff)
			}
			if b, _ := os.ReadFile(f.config); string(b) != "changed" {
				t.Errorf("config = %q, want the safety backup's", b)
			}
			db2.Close()
			ro.ID = m.ID
			if _, err := Restore(ctx, ro); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(f.config); !bytes.Equal(b, f.configBytes) {
				t.Errorf("config after --config-too = %q, want the original bytes", b)
			}

			es, err := List(f.dir, true)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(es), 2; got != want {
				t.Fatalf("%d backups listed, want %d", got, want)
			}
			for _, e := range es {
				if e.State != StateComplete || !e.Verified {
					t.Errorf("backup %s: state %s verified %v (%s)", e.ID, e.State, e.Verified, e.Problem)
				}
			}
		})
	}
}

func pathHas(prog string) bool {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, prog)); err == nil {
			return true
		}
	}
	return false
}

// A logical backup restores into an empty schema too: the import rebuilds the tables.
func TestLogicalIntoEmptySchema(t *testing.T) {
	if os.Getenv(sqldbtest.EnvPostgres) == "" {
		t.Skip(sqldbtest.EnvPostgres + " is not set")
	}
	ctx := testCtx()
	f, db := newFixture(t, sqldb.Postgres)
	seed(t, db, "K", 2)
	before := dump(t, db)
	m, err := Create(ctx, db, f.opts(MethodLogical))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	empty := sqldbtest.DSN(t, sqldb.Postgres)
	if _, err := Restore(ctx, RestoreOptions{Dir: f.dir, ID: m.ID, DSN: empty, NoSafetyBackup: true}); err != nil {
		t.Fatal(err)
	}
	db2 := open(t, empty)
	defer db2.Close()
	if diff := cmp.Diff(before, dump(t, db2)); diff != "" {
		t.Fatalf("restored data differ:\n%s", diff)
	}
}

func TestCorruptBackupChangesNothing(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, _ *sqldb.DB) {
		ctx := testCtx()
		f, db := newFixture(t, t.Name()[strings.LastIndex(t.Name(), "/")+1:])
		seed(t, db, "K", 1)
		m, err := Create(ctx, db, f.opts(""))
		if err != nil {
			t.Fatal(err)
		}
		seed(t, db, "X", 1)
		changed := dump(t, db)
		db.Close()

		p := filepath.Join(f.dir, m.ID, m.File(KindDatabase).Path)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Restore(ctx, RestoreOptions{Dir: f.dir, ID: m.ID, DSN: f.dsn, ConfigPath: f.config, ConfigToo: true})
		if !errors.Is(err, ErrChecksum) {
			t.Fatalf("restore of a corrupt backup: err = %v, want ErrChecksum", err)
		}
		db = open(t, f.dsn)
		defer db.Close()
		if diff := cmp.Diff(changed, dump(t, db)); diff != "" {
			t.Fatalf("a refused restore changed the data:\n%s", diff)
		}
		es, _ := List(f.dir, true)
		if got, want := len(es), 1; got != want {
			t.Fatalf("%d backups, want %d (no safety backup for a refused restore)", got, want)
		}
		if got, want := es[0].State, StateCorrupt; got != want {
			t.Errorf("state = %s, want %s", got, want)
		}
	})
}

func TestInterruptedBackupIsNotComplete(t *testing.T) {
	ctx := testCtx()
	f, db := newFixture(t, sqldb.SQLite)
	defer db.Close()
	o := f.opts("")
	crashed := filepath.Join(f.dir, tmpPrefix+"20250101T000000Z-2-1.2.3")
	o.beforeManifest = func(dir string) error {
		// What a kill -9 here would leave behind: the files, no manifest.
		if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
			return err
		}
		return errors.New("injected failure")
	}
	if _, err := Create(ctx, db, o); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	// A directory someone renamed without a manifest counts as partial too.
	if err := os.Mkdir(filepath.Join(f.dir, "20250101T000001Z-2-1.2.3"), 0o750); err != nil {
		t.Fatal(err)
	}
	es, err := List(f.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(es), 2; got != want {
		t.Fatalf("%d entries, want %d: %+v", got, want, es)
	}
	for _, e := range es {
		if e.State != StatePartial {
			t.Errorf("%s: state %s, want partial", e.ID, e.State)
		}
	}
	if _, err := Restore(ctx, RestoreOptions{Dir: f.dir, ID: "latest", DSN: f.dsn}); err == nil {
		t.Fatal("restore of latest with no complete backup succeeded")
	}
	if _, err := Restore(ctx, RestoreOptions{Dir: f.dir, ID: "20250101T000001Z-2-1.2.3", DSN: f.dsn}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("restore of a partial backup: err = %v", err)
	}
}

func TestCheckSpace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		free   uint64
		size   int64
		wantOK bool
	}{
		{"plenty", 1 << 30, 1 << 20, true},
		{"exactly twice", 2 << 20, 1 << 20, true},
		{"just short", 2<<20 - 1, 1 << 20, false},
		{"empty database", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSpace(t.TempDir(), tc.size, func(string) (uint64, error) { return tc.free, nil })
			if got := err == nil; got != tc.wantOK {
				t.Fatalf("ok = %v (err %v), want %v", got, err, tc.wantOK)
			}
			if err != nil && !errors.Is(err, ErrNoSpace) {
				t.Fatalf("err = %v, want ErrNoSpace", err)
			}
		})
	}
	// Create refuses before it writes anything.
	f, db := newFixture(t, sqldb.SQLite)
	defer db.Close()
	o := f.opts("")
	o.FreeSpace = func(string) (uint64, error) { return 1024, nil }
	if _, err := Create(testCtx(), db, o); !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("err = %v, want ErrNoSpace saying what is needed", err)
	}
	if es, _ := List(f.dir, false); len(es) != 0 {
		t.Fatalf("a refused backup left %d entries", len(es))
	}
}

func TestExtraFilesAndPGDumpForced(t *testing.T) {
	ctx := testCtx()
	f, db := newFixture(t, sqldb.SQLite)
	defer db.Close()
	unit := filepath.Join(t.TempDir(), "izytroniq.service")
	os.WriteFile(unit, []byte("[Service]\nUser=izy\n"), 0o600)
	o := f.opts("")
	o.Extra = []string{unit}
	m, err := Create(ctx, db, o)
	if err != nil {
		t.Fatal(err)
	}
	e := m.File(KindExtra)
	if e == nil || e.Source != unit {
		t.Fatalf("extra file = %+v, want one from %s", e, unit)
	}
	o.Method = MethodPGDump
	if _, err := Create(ctx, db, o); err == nil {
		t.Fatal("pg_dump accepted for SQLite")
	}
}
