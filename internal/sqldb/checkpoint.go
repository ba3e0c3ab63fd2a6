package sqldb

import (
	"context"
	"database/sql"
	"time"
)

// SQLite checkpoints the WAL into the database file every 1,000 pages by default, inside
// whichever write transaction happens to cross that mark: that request then pays for
// copying the pages (about a tenth of the CPU of recording tests in a profile). Instead,
// the writer never checkpoints, and a background connection of its own runs a PASSIVE
// checkpoint (which never blocks readers or the writer) every checkpointEvery. A process
// that dies leaves a longer WAL, which the next open replays as always.

// checkpointEvery is the period of the background checkpoint.
const checkpointEvery = 500 * time.Millisecond

// startCheckpointer opens the checkpoint connection and starts its loop.
func (db *DB) startCheckpointer(name string) error {
	c, err := sql.Open("sqlite", name)
	if err != nil {
		return err
	}
	c.SetMaxOpenConns(1)
	c.SetConnMaxLifetime(0)
	c.SetConnMaxIdleTime(0)
	db.ckpt = c
	db.ckptStop = make(chan struct{})
	db.ckptDone = make(chan struct{})
	go func() {
		defer close(db.ckptDone)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-db.ckptStop:
				db.checkpoint()
				return
			case <-t.C:
				db.checkpoint()
			}
		}
	}()
	return nil
}

// checkpoint runs one PASSIVE checkpoint; a failure (the file busy in another process, a
// full disk) is logged and tried again on the next tick.
func (db *DB) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ckpt.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		db.log.Warn("sqlite checkpoint", "err", err)
	}
}

// stopCheckpointer runs a last checkpoint and closes the connection; closing a DB twice
// is harmless.
func (db *DB) stopCheckpointer() {
	if db.ckpt == nil {
		return
	}
	db.ckptOnce.Do(func() {
		close(db.ckptStop)
		<-db.ckptDone
		db.ckpt.Close()
	})
}
