package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

// Run with
//
//	IZYTRONIQ_TEST_POSTGRES=postgres://… go test -run '^$' -bench . ./internal/sqldb/
//
// BenchmarkBareListDevicesPage measures the bare SQL rate of the page query for comparison.
// IZYTRONIQ_BENCH_DEVICES sets the number of devices seeded for the read benchmarks
// (default 20,000 over 10 customers).

// eachDialect runs fn as a sub-benchmark per dialect on a fresh database.
func eachDialect(b *testing.B, fn func(b *testing.B, db *sqldb.DB)) {
	for _, d := range sqldbtest.Dialects() {
		b.Run(d, func(b *testing.B) { fn(b, sqldbtest.MustOpen(b, d)) })
	}
}

func benchDevice(customerID string, locationID *string, i int) *izy.Device {
	return &izy.Device{CustomerID: customerID, LocationID: locationID, InventoryID: "INV-" + strconv.Itoa(i),
		Designation: "Bohrmaschine", Type: "drill", Manufacturer: "Bosch", Model: "GSB 18V",
		SerialNumber: "SN" + strconv.Itoa(1000000+i), ProtectionClass: izy.ClassII, CableLengthM: 3,
		IntervalMonths: 12, Status: izy.DeviceActive, Standard: izy.DefaultStandard,
		LastTestDate: izy.Date{Year: 2025, Month: 1, Day: 1 + i%28}, LastResult: izy.ResultPass,
		NextDue: izy.Date{Year: 2026, Month: 1, Day: 1 + i%28}}
}

func BenchmarkLoaderDevices(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqldb.DB) {
		ctx := context.Background()
		c := mustCustomer(b, db, "K-1")
		site := mustLocation(b, db, c.ID, nil, izy.LocationProperty, "Site")
		l, err := db.NewLoader(ctx, 100000)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if err := l.Device(benchDevice(c.ID, &site.ID, i)); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	})
}

// BenchmarkLoaderMixed loads what seeding loads: per device one test with eight
// measurements (ten rows), as 1M devices come with about 10M measurements.
func BenchmarkLoaderMixed(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqldb.DB) {
		ctx := context.Background()
		c := mustCustomer(b, db, "K-1")
		site := mustLocation(b, db, c.ID, nil, izy.LocationProperty, "Site")
		l, err := db.NewLoader(ctx, 100000)
		if err != nil {
			b.Fatal(err)
		}
		kinds := []string{"protective_conductor_resistance", "insulation_resistance", "protective_conductor_current",
			"touch_current", "equivalent_leakage_current", "insulation_resistance", "touch_current", "touch_current"}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			d := benchDevice(c.ID, &site.ID, i)
			if err := l.Device(d); err != nil {
				b.Fatal(err)
			}
			t := &izy.Test{DeviceID: d.ID, CustomerID: c.ID, Date: d.LastTestDate, Standard: izy.DefaultStandard,
				VisualOK: true, FunctionalOK: true, Result: izy.ResultPass, NextDue: d.NextDue}
			for _, k := range kinds {
				t.Measurements = append(t.Measurements, izy.Measurement{Kind: k, Value: 0.1, Unit: "Ω",
					Limit: &izy.Limit{Max: f64(0.3), Unit: "Ω"}, Result: izy.ResultPass})
			}
			if err := l.Test(t); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(10*b.N)/time.Since(start).Seconds(), "rows/s")
	})
}

// seed loads n devices over 10 customers and returns the customer and device IDs.
func seed(b *testing.B, db *sqldb.DB, n int) (customers, devices []string) {
	b.Helper()
	ctx := context.Background()
	l, err := db.NewLoader(ctx, 100000)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		c := &izy.Customer{Number: fmt.Sprintf("K-%d", i), Name: "Customer"}
		if err := l.Customer(c); err != nil {
			b.Fatal(err)
		}
		customers = append(customers, c.ID)
	}
	for i := range n {
		d := benchDevice(customers[i%10], nil, i)
		if err := l.Device(d); err != nil {
			b.Fatal(err)
		}
		devices = append(devices, d.ID)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	return customers, devices
}

func benchDevices() int {
	if n, err := strconv.Atoi(os.Getenv("IZYTRONIQ_BENCH_DEVICES")); err == nil && n > 0 {
		return n
	}
	return 20000
}

func BenchmarkListDevicesPage(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqldb.DB) {
		customers, _ := seed(b, db, benchDevices())
		ctx := context.Background()
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				items, _, err := db.ListDevices(ctx, izy.DeviceFilter{CustomerID: customers[i%10], Page: izy.Page{Limit: 100}})
				if err != nil || len(items) != 100 {
					b.Fatalf("got %d items, %v", len(items), err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	})
}

// BenchmarkBareListDevicesPage is the reference for BenchmarkListDevicesPage: the same
// page query on SQLite through database/sql with two connections, scanning into plain
// variables, without the store around it.
func BenchmarkBareListDevicesPage(b *testing.B) {
	dsn := sqldbtest.DSN(b, sqldb.SQLite)
	db := sqldbtest.MustOpenDSN(b, dsn)
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	customers, _ := seed(b, db, benchDevices())
	bare, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	bare.SetMaxOpenConns(2)
	bare.SetMaxIdleConns(2)
	const q = `SELECT id, customer_id, location_id, inventory_id, designation, type, manufacturer, model,
		serial_number, protection_class, cable_length_m, cable_cross_section_mm2, heating_elements,
		heating_power_kw, cost_centre, department, standard, interval_months, comment, status, tag,
		medical, medical_udi, applied_parts_b, applied_parts_bf, applied_parts_cf, medical_network,
		last_test_date, last_result, next_due, version, seq, created_at, updated_at
		FROM devices WHERE customer_id = ? ORDER BY id LIMIT 101`
	st, err := bare.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		vals := make([]any, 34)
		ptrs := make([]any, 34)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for pb.Next() {
			rows, err := st.Query(customers[n.Add(1)%10])
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				got++
			}
			rows.Close()
			if got != 101 {
				b.Fatalf("got %d rows", got)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

func BenchmarkGetDevice(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqldb.DB) {
		_, devices := seed(b, db, benchDevices())
		ctx := context.Background()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for pb.Next() {
				if _, err := db.GetDevice(ctx, devices[r.IntN(len(devices))]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	})
}

func BenchmarkCreateTest(b *testing.B) {
	eachDialect(b, func(b *testing.B, db *sqldb.DB) {
		_, devices := seed(b, db, 10000)
		ctx := context.Background()
		kinds := []string{"protective_conductor_resistance", "insulation_resistance", "protective_conductor_current",
			"touch_current", "equivalent_leakage_current", "insulation_resistance"}
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 2))
			for pb.Next() {
				t := &izy.Test{DeviceID: devices[r.IntN(len(devices))], Date: izy.Date{Year: 2025, Month: 6, Day: 1},
					Standard: izy.DefaultStandard, VisualOK: true, FunctionalOK: true, Result: izy.ResultPass,
					NextDue: izy.Date{Year: 2026, Month: 6, Day: 1}}
				for _, k := range kinds {
					t.Measurements = append(t.Measurements, izy.Measurement{Kind: k, Value: 0.1, Unit: "Ω",
						Limit: &izy.Limit{Max: f64(0.3), Unit: "Ω"}, Result: izy.ResultPass})
				}
				if err := db.CreateTest(ctx, t); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tests/s")
	})
}
