package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/izytroniq/izytroniq/client"
	"github.com/izytroniq/izytroniq/internal/replica"
)

// profileSync does the core of `izy sync` for every open checkout of an izy home —
// replica.PushOutbox (batches of 500), then replica.PullChanges — under a CPU profile.
//
//	synctool profile-sync -home IZY_HOME -cpuprofile FILE
func profileSync(args []string) error {
	fs := flag.NewFlagSet("profile-sync", flag.ExitOnError)
	home := fs.String("home", "", "izy home (config.json and replica.db of a prior izy login and checkout)")
	prof := fs.String("cpuprofile", "", "CPU profile file")
	fs.Parse(args)
	var cfg struct{ Server, Token string }
	b, err := os.ReadFile(*home + "/config.json")
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
	r, err := replica.Open(ctx, *home+"/replica.db")
	if err != nil {
		return err
	}
	defer r.Close()
	cos, err := r.Checkouts(ctx, false)
	if err != nil {
		return err
	}
	f, err := os.Create(*prof)
	if err != nil {
		return err
	}
	defer f.Close()
	pprof.StartCPUProfile(f)
	defer pprof.StopCPUProfile()
	for _, co := range cos {
		t0 := time.Now()
		res, err := r.PushOutbox(ctx, c, co.ID, 500)
		if err != nil {
			return err
		}
		t1 := time.Now()
		n, err := r.PullChanges(ctx, c, co.ID, 1000, nil)
		if err != nil {
			return err
		}
		fmt.Printf("checkout %s: push %d batches %v in %.2fs, pull %d changes in %.2fs\n",
			co.ID, res.Batches, res.Outcomes, t1.Sub(t0).Seconds(), n, time.Since(t1).Seconds())
	}
	return nil
}
