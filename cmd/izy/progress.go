package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/izytroniq/izytroniq/internal/replica"
)

// progress shows a download to a person: a bar redrawn in place on a terminal, a plain
// line at most once a second (and at the end) otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && isTerminal(f)}
}

// update is a replica progress callback.
func (p *progress) update(pr replica.Progress) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if !p.tty && now.Sub(p.last) < time.Second && pr.Total == 0 {
		return
	}
	p.last, p.shown = now, true
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %d pages, %d rows\n", pr.Phase, pr.Pages, pr.Rows)
		return
	}
	const width = 30
	bar := strings.Repeat("=", width)
	if pr.Total == 0 { // the total comes with the last page: show a moving marker
		i := pr.Pages % width
		bar = strings.Repeat(" ", i) + "<=>" + strings.Repeat(" ", width-i)
		bar = bar[:width]
	}
	fmt.Fprintf(p.w, "\r%-8s [%s] %d pages, %d rows", pr.Phase, bar, pr.Pages, pr.Rows)
}

// done ends the line on a terminal.
func (p *progress) done() {
	if p.tty && p.shown {
		fmt.Fprintln(p.w)
	}
	p.shown = false
}
