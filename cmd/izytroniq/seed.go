package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/seed"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// SeedCommand fills an empty database with generated sample data, for demos on a real
// installation and for benchmarks (up to millions of devices).
type SeedCommand struct {
	*env
}

// Run runs `izytroniq seed`.
func (c *SeedCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet(c.env, "seed", "seed [--config FILE] [--db DSN] [--devices N] [--measurements M] [--customers C] [--years Y] [--seed S]", `
Fill an empty, migrated database with realistic German sample data: customers with
four-level location trees, devices of every protection class, test instruments,
inspectors, and years of tests evaluated with the real limit rules. The same --seed gives
the same data. For the benchmarks: --devices 1000000 --measurements 10000000.`)
	var cf configFlags
	cf.register(fs, true)
	o := seed.Options{}
	fs.IntVar(&o.Devices, "devices", 5000, "number of `devices`")
	fs.IntVar(&o.Measurements, "measurements", 0, "about this many `measurements` in all (0: what --years gives)")
	fs.IntVar(&o.Customers, "customers", 0, "number of `customers` (0: one per 400 devices, at least 3)")
	fs.IntVar(&o.YearsOfTests, "years", 3, "`years` of test history")
	fs.Uint64Var(&o.Seed, "seed", 1, "random `seed`")
	batch := fs.Int("batch", 0, "rows per transaction (0: the loader's default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadValidConfig(c.env, &cf)
	if err != nil {
		return err
	}
	logger, closeLog, err := openLog(cfg, nil, false)
	if err != nil {
		return err
	}
	defer closeLog()
	db, dsn, err := openDB(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Seeding %s\n", redactDSN(dsn))
	st, err := seedDB(ctx, db, o, *batch, c.stdout, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Done: %s\n", summary(st))
	return nil
}

// seedDB checks that db holds no customers yet and loads generated data into it through
// the bulk loader, printing progress to out.
func seedDB(ctx context.Context, db *sqldb.DB, o seed.Options, batch int, out io.Writer, logger *slog.Logger) (seed.Stats, error) {
	cs, _, err := db.ListCustomers(ctx, izy.CustomerFilter{Page: izy.Page{Limit: 1}})
	if err != nil {
		return seed.Stats{}, err
	}
	if len(cs) > 0 {
		return seed.Stats{}, fmt.Errorf("the database already holds customers; seed fills an empty database (create a new one with izytroniq init or db upgrade)")
	}
	o.Progress = func(s seed.Stats) {
		fmt.Fprintf(out, "  %s\n", summary(s))
	}
	l, err := db.NewLoader(ctx, batch)
	if err != nil {
		return seed.Stats{}, err
	}
	start := time.Now()
	st, err := seed.Generate(ctx, l, o)
	if err != nil {
		l.Abort()
		return st, fmt.Errorf("seed: %w", err)
	}
	if err := l.Close(); err != nil {
		return st, fmt.Errorf("seed: %w", err)
	}
	st.Elapsed = time.Since(start) // with the final commit
	logger.Info("seeded", "devices", st.Devices, "tests", st.Tests, "measurements", st.Measurements,
		"rows", st.Rows(), "took", st.Elapsed.String())
	return st, nil
}

// summary is one progress line: counts and the load rate.
func summary(s seed.Stats) string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Rows()) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("%d customers, %d locations, %d devices, %d tests, %d measurements (%.1fs, %.0f rows/s)",
		s.Customers, s.Locations, s.Devices, s.Tests, s.Measurements, s.Elapsed.Seconds(), rate)
}
