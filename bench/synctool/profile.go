package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	izy "github.com/izytroniq/izytroniq"
	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// profileCheckout does what `izy checkout --customer ID` does (create a checkout, then
// replica.DownloadSnapshot and PullChanges into a fresh replica) under a CPU profile.
//
//	synctool profile-checkout -config IZY_HOME/config.json -customer ID -replica FILE -cpuprofile FILE [-page-size N]
func profileCheckout(args []string) error {
	fs := flag.NewFlagSet("profile-checkout", flag.ExitOnError)
	cfgPath := fs.String("config", "", "izy's config.json (server and token of a prior izy login)")
	customer := fs.String("customer", "", "customer ID")
	repPath := fs.String("replica", "", "new replica file")
	prof := fs.String("cpuprofile", "", "CPU profile file")
	pageSize := fs.Int("page-size", 1000, "rows per snapshot page")
	fs.Parse(args)
	var cfg struct{ Server, Token, Client_ID string }
	b, err := os.ReadFile(*cfgPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	ctx := context.Background()
	c, err := client.New(cfg.Server, client.WithToken(cfg.Token))
	if err != nil {
		return err
	}
	r, err := replica.Open(ctx, *repPath)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(*prof)
	if err != nil {
		return err
	}
	defer f.Close()
	pprof.StartCPUProfile(f)
	defer pprof.StopCPUProfile()
	t0 := time.Now()
	co, err := c.CreateCheckout(ctx, client.CheckoutRequest{ClientID: izy.NewID(), ClientName: "synctool", CustomerID: *customer, Protocol: izy.ProtocolVersion})
	if err != nil {
		return err
	}
	if err := r.AddCheckout(ctx, co); err != nil {
		return err
	}
	n, err := r.DownloadSnapshot(ctx, c, co.ID, *pageSize, nil)
	if err != nil {
		return err
	}
	if _, err := r.PullChanges(ctx, c, co.ID, *pageSize, nil); err != nil {
		return err
	}
	fmt.Printf("%d rows in %.1fs (checkout %s)\n", n, time.Since(t0).Seconds(), co.ID)
	return c.ReleaseCheckout(ctx, co.ID)
}
