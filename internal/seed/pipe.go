package seed

import (
	"sync/atomic"

	izy "github.com/izytroniq/izytroniq"
)

// pipe is a Loader that hands rows to another goroutine in batches, so that generating
// and loading use two cores.
type pipe struct {
	l      Loader
	batch  []func() error
	ch     chan []func() error
	failed atomic.Bool
	err    error // the loader's first error; read after the channel is drained
}

const pipeBatch = 1024

func newPipe(l Loader) *pipe {
	return &pipe{l: l, ch: make(chan []func() error, 8), batch: make([]func() error, 0, pipeBatch)}
}

func (p *pipe) add(fn func() error) error {
	if p.failed.Load() {
		return errLoaderFailed
	}
	p.batch = append(p.batch, fn)
	if len(p.batch) == pipeBatch {
		p.ch <- p.batch
		p.batch = make([]func() error, 0, pipeBatch)
	}
	return nil
}

// errLoaderFailed stops the generator; Generate reports the loader's own error instead.
var errLoaderFailed = &izy.Error{Code: izy.EINTERNAL, Message: "the loader failed"}

// close sends the last batch and ends the stream.
func (p *pipe) close() {
	if len(p.batch) > 0 {
		p.ch <- p.batch
	}
	close(p.ch)
}

// drain runs the batches on the real loader until the stream ends, and returns the
// loader's first error. After an error it keeps receiving, so the sender never blocks.
func (p *pipe) drain() error {
	for b := range p.ch {
		if p.err != nil {
			continue
		}
		for _, fn := range b {
			if err := fn(); err != nil {
				p.err = err
				p.failed.Store(true)
				break
			}
		}
	}
	return p.err
}

// Customers, users, instruments and locations are handed over as copies, since the
// generator goes on reading them (their IDs) while the loader may normalise fields.
// Devices and tests are not read again once handed over.

func (p *pipe) Customer(c *izy.Customer) error {
	cp := *c
	return p.add(func() error { return p.l.Customer(&cp) })
}

func (p *pipe) User(u *izy.User, hash string) error {
	cp := *u
	cp.Grants = append([]izy.Grant(nil), u.Grants...)
	return p.add(func() error { return p.l.User(&cp, hash) })
}

func (p *pipe) Instrument(i *izy.Instrument) error {
	cp := *i
	return p.add(func() error { return p.l.Instrument(&cp) })
}

func (p *pipe) Location(l *izy.Location) error {
	cp := *l
	return p.add(func() error { return p.l.Location(&cp) })
}

func (p *pipe) Device(d *izy.Device) error { return p.add(func() error { return p.l.Device(d) }) }
func (p *pipe) Test(t *izy.Test) error     { return p.add(func() error { return p.l.Test(t) }) }
