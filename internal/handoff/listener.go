package handoff

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// listener is a listening socket returned by Listen. It counts the connections it
// accepted that are still open, and can stop accepting (closing this process's
// descriptor; a process that took the socket over keeps accepting on its own) without
// making Serve fail: Accept then blocks until Close, which Shutdown calls.
type listener struct {
	net.Listener
	network, addr string // as given to Listen: how a new process finds it again

	acceptingOnce sync.Once
	accepting     chan struct{} // closed on the first Accept: the server is serving

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	open    int           // accepted connections not yet closed
	stopped bool          // stopAccepting was called
	drained chan struct{} // closed when stopped and open == 0
}

func newListener(ln net.Listener, network, addr string) *listener {
	l := &listener{
		Listener:  ln,
		network:   network,
		addr:      addr,
		accepting: make(chan struct{}),
		closed:    make(chan struct{}),
		drained:   make(chan struct{}),
	}
	registry.mu.Lock()
	registry.ls = append(registry.ls, l)
	registry.mu.Unlock()
	return l
}

// registry holds the listeners of this process, in the order Listen made them: the
// ones a hand-over passes on.
var registry struct {
	mu sync.Mutex
	ls []*listener
}

func listeners() []*listener {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return append([]*listener(nil), registry.ls...)
}

func (l *listener) Accept() (net.Conn, error) {
	l.acceptingOnce.Do(func() { close(l.accepting) })
	c, err := l.Listener.Accept()
	if err != nil {
		l.mu.Lock()
		stopped := l.stopped
		l.mu.Unlock()
		if stopped {
			// This process stopped accepting; the socket lives on in the new one.
			<-l.closed
			return nil, net.ErrClosed
		}
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.mu.Unlock()
	return &conn{Conn: c, l: l}, nil
}

// Close closes the listener and deregisters it.
func (l *listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.closed)
		l.mu.Lock()
		stopped := l.stopped
		l.mu.Unlock()
		if !stopped {
			err = l.Listener.Close()
		}
		registry.mu.Lock()
		for i, x := range registry.ls {
			if x == l {
				registry.ls = append(registry.ls[:i], registry.ls[i+1:]...)
				break
			}
		}
		registry.mu.Unlock()
	})
	return err
}

// stopAccepting closes this process's descriptor of the socket, so it accepts no more
// connections; connections in the kernel's queue wait for the process that shares it.
func (l *listener) stopAccepting() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	if l.open == 0 {
		close(l.drained)
	}
	l.mu.Unlock()
	l.Listener.Close()
}

// openConns returns the number of accepted connections still open.
func (l *listener) openConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

func (l *listener) connClosed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.stopped && l.open == 0 {
		close(l.drained)
	}
}

// waitAccepting waits until the server called Accept, or timeout.
func (l *listener) waitAccepting(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-l.accepting:
		return nil
	case <-l.closed:
		return errors.New("listener closed before the server accepted connections")
	case <-t.C:
		return errors.New("the server did not start accepting connections within " + timeout.String())
	}
}

// conn tells its listener when it closes.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.connClosed)
	return err
}

// CloseWrite keeps net/http's half-close before closing a connection (RST avoidance).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile and splice for responses copied from files (ranged downloads).
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
