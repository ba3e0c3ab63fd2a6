package seed_test

import (
	"context"
	"testing"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/seed"
)

// discard is a Loader that drops every row, to measure the generator alone.
type discard struct{}

func (discard) Customer(*izy.Customer) error     { return nil }
func (discard) User(*izy.User, string) error     { return nil }
func (discard) Instrument(*izy.Instrument) error { return nil }
func (discard) Location(*izy.Location) error     { return nil }
func (discard) Device(*izy.Device) error         { return nil }
func (discard) Test(*izy.Test) error             { return nil }

// BenchmarkGenerate measures the generator without a database: rows per second it can
// hand to a loader.
func BenchmarkGenerate(b *testing.B) {
	var rows int64
	for b.Loop() {
		st, err := seed.Generate(context.Background(), discard{}, seed.Options{Devices: 10000, Measurements: 100000, Seed: 1, Today: today})
		if err != nil {
			b.Fatal(err)
		}
		rows += st.Rows()
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
