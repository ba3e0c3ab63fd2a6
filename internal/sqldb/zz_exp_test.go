package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb/sqldbtest"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkExpLoader(b *testing.B) {
	db := sqldbtest.MustOpen(b, "sqlite")
	ctx := context.Background()
	c := mustCustomer(b, db, "K-1")
	site := mustLocation(b, db, c.ID, nil, izy.LocationProperty, "Site")
	l, _ := db.NewLoader(ctx, 100000)
	b.ResetTimer()
	start, cpu := time.Now(), cpuNow()
	for i := 0; i < b.N; i++ {
		if err := l.Device(benchDevice(c.ID, &site.ID, i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/(cpuNow()-cpu).Seconds(), "rows/cpu-s")
}

func BenchmarkExpBare(b *testing.B) {
	path := filepath.Join(b.TempDir(), "x.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-131072)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	cols := 34
	var names []string
	for i := range cols {
		names = append(names, "c"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if _, err := db.Exec("CREATE TABLE t (" + strings.Join(names, " TEXT, ") + " TEXT)"); err != nil {
		b.Fatal(err)
	}
	const chunk = 200
	q := "INSERT INTO t VALUES " + strings.TrimSuffix(strings.Repeat("("+strings.TrimSuffix(strings.Repeat("?,", cols), ",")+"),", chunk), ",")
	b.ResetTimer()
	start, cpu := time.Now(), cpuNow()
	tx, _ := db.Begin()
	st, err := tx.Prepare(q)
	if err != nil {
		b.Fatal(err)
	}
	args := make([]any, 0, chunk*cols)
	for i := 0; i < b.N; i++ {
		for j := range cols {
			if j == 0 {
				args = append(args, izy.NewID())
			} else {
				args = append(args, "value")
			}
		}
		if len(args) == chunk*cols {
			if _, err := st.Exec(args...); err != nil {
				b.Fatal(err)
			}
			args = args[:0]
		}
		if i%100000 == 99999 {
			tx.Commit()
			tx, _ = db.Begin()
			st, _ = tx.Prepare(q)
		}
	}
	tx.Commit()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(float64(b.N)/(cpuNow()-cpu).Seconds(), "rows/cpu-s")
}
