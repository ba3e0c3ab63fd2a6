package main

import (
	"context"
	"fmt"
	"math/rand/v2"

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
	res, err := measure(ctx, o.conns, o.dur, o.samples, func(ctx context.Context, r *rand.Rand) error {
		_, _, err := db.ListDevices(ctx, izy.DeviceFilter{CustomerID: customers[r.IntN(len(customers))], Page: izy.Page{Limit: 100}})
		return err
	})
	res.Scenario = "sql-list"
	return res, err
}
