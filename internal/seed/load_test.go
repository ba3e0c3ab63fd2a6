package seed_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/seed"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

var _ seed.Loader = (*sqldb.Loader)(nil)

// TestLoadIntoDatabase loads sample data through the bulk loader into a real database and
// checks that the store's dashboard agrees with what the generator counted.
func TestLoadIntoDatabase(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, err := db.NewLoader(ctx, 5000)
		if err != nil {
			t.Fatal(err)
		}
		st, err := seed.Generate(ctx, l, seed.Options{Devices: 1500, Seed: 3, Today: today})
		if err != nil {
			l.Abort()
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		dash, err := db.Dashboard(ctx, today, izy.DefaultWindows, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st.Colours, dash.Devices); diff != "" {
			t.Errorf("device colours (-generator +store):\n%s", diff)
		}
		if diff := cmp.Diff(st.InstrumentColours, dash.Instruments); diff != "" {
			t.Errorf("instrument colours (-generator +store):\n%s", diff)
		}
		devs, _, err := db.ListDevices(ctx, izy.DeviceFilter{Today: today, Windows: izy.DefaultWindows, Page: izy.Page{Limit: 5}})
		if err != nil || len(devs) != 5 {
			t.Fatalf("list devices: %d, %v", len(devs), err)
		}
		tests, _, err := db.ListTests(ctx, izy.TestFilter{DeviceID: devs[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(tests) > 0 {
			got, err := db.GetTest(ctx, tests[0].ID)
			if err != nil || len(got.Measurements) == 0 || got.Measurements[0].Limit == nil {
				t.Fatalf("get test: %+v, %v", got, err)
			}
		}
		inspector, _, err := db.UserByUsername(ctx, "a.mueller")
		if err != nil || inspector.Role != izy.RoleInspector || len(inspector.Grants) == 0 {
			t.Fatalf("inspector a.mueller: %+v, %v", inspector, err)
		}
	})
}

// BenchmarkGenerateAndLoad measures seeding end to end, generator and bulk loader
// together, on each dialect: the "bulk load" row rate of SPEC §9.
func BenchmarkGenerateAndLoad(b *testing.B) {
	for _, dialect := range sqldbtest.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			var rows int64
			for b.Loop() {
				b.StopTimer()
				db := sqldbtest.MustOpen(b, dialect)
				b.StartTimer()
				l, err := db.NewLoader(context.Background(), 0)
				if err != nil {
					b.Fatal(err)
				}
				st, err := seed.Generate(context.Background(), l, seed.Options{Devices: 20000, Measurements: 200000, Seed: 1, Today: today})
				if err != nil {
					l.Abort()
					b.Fatal(err)
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				rows += st.Rows()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
