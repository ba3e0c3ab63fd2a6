package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/internal/sqldb"
)

// driveSQL measures the bare store rate of the device list page (100 rows filtered by
// customer): the same query the HTTP handler runs, without HTTP, JSON or auth, so the
// stack's overhead can be read off beside the HTTP figure.
func driveSQL(ctx context.Context, o options, dsn string) (Result, error) {
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{})
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	var customers []string
	f := izy.CustomerFilter{Page: izy.Page{Limit: 1000}}
	for {
		cs, next, err := db.ListCustomers(ctx, f)
		if err != nil {
			return Result{}, err
		}
		for _, c := range cs {
			customers = append(customers, c.ID)
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if len(customers) == 0 {
		return Result{}, fmt.Errorf("no customers in %s", dsn)
	}
	ctx, cancel := context.WithTimeout(ctx, o.dur)
	defer cancel()
	var (
		n, nerr  atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
		firstErr atomic.Value
	)
	start := time.Now()
	for i := 0; i < o.conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 11))
			var local []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				_, _, err := db.ListDevices(ctx, izy.DeviceFilter{CustomerID: customers[r.IntN(len(customers))], Page: izy.Page{Limit: 100}})
				if err != nil {
					if ctx.Err() == nil {
						nerr.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				local = append(local, time.Since(t0))
				n.Add(1)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(uint64(i) + 1)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	slices.Sort(lat)
	res := Result{Scenario: "sql-list", Connections: o.conns, Seconds: el, Requests: n.Load(), Errors: nerr.Load(), RPS: float64(n.Load()) / el}
	if len(lat) > 0 {
		p := func(q float64) float64 { return float64(lat[int(float64(len(lat)-1)*q)].Microseconds()) / 1000 }
		res.P50ms, res.P90ms, res.P99ms, res.MaxMs = p(.5), p(.9), p(.99), p(1)
	}
	if v, ok := firstErr.Load().(string); ok {
		res.FirstError = v
	}
	return res, nil
}
