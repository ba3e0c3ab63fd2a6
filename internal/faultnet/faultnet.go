// Package faultnet is a TCP proxy for tests that cuts connections at exact byte offsets.
//
// A test puts a Proxy between a client and a server and arms cuts with CutAfter. Each armed
// cut applies to one new connection, in the order the cuts were armed: once n bytes have
// passed in the chosen direction, the proxy resets both sides (SO_LINGER 0, so the peers
// see a TCP RST, not a clean end of stream). Connections without an armed cut pass through
// untouched, half-closes included. Offsets count only the bytes of that connection, so a
// test that makes one connection per request (for HTTP: DisableKeepAlives) decides exactly
// which request breaks and where.
package faultnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Direction names the stream of a connection that a cut counts.
type Direction int

// The two streams of a connection.
const (
	ClientToServer Direction = iota // bytes the client sends (an HTTP request)
	ServerToClient                  // bytes the server sends (an HTTP response)
)

func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "client→server"
	case ServerToClient:
		return "server→client"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// cut is an armed fault: reset the connection after n bytes in dir.
type cut struct {
	dir Direction
	n   int64
}

// Proxy forwards TCP connections from a loopback address to a target and breaks those for
// which a cut is armed.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	armed    []cut              // for the next connections, first armed first used
	conns    map[*conn]struct{} // open connections, to reset them on Close
	accepted int
	cuts     int
	closed   bool

	wg sync.WaitGroup
}

// Listen starts a proxy on 127.0.0.1 with a free port that forwards to target (host:port).
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address (host:port) for clients to dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// CutAfter arms a cut for the next connection the proxy accepts that no earlier cut was
// armed for: once n bytes of that connection have passed in direction dir (at once for
// n = 0), the proxy forwards nothing more and resets both sides. If the stream ends before
// n bytes, the connection is not cut and the armed cut is used up all the same.
//
// On Linux the proxy waits (up to a second) until the peers' kernels have acknowledged
// what it forwarded before it resets, so the receiver reads exactly n bytes and then the
// reset. Elsewhere a reset may discard forwarded bytes still queued in the kernel, as a
// real network failure may: the receiver reads at most n bytes.
func (p *Proxy) CutAfter(dir Direction, n int64) {
	if n < 0 {
		n = 0
	}
	p.mu.Lock()
	p.armed = append(p.armed, cut{dir: dir, n: n})
	p.mu.Unlock()
}

// Armed returns how many armed cuts wait for a connection.
func (p *Proxy) Armed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.armed)
}

// Cuts returns how many connections the proxy has cut so far.
func (p *Proxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cuts
}

// Accepted returns how many connections the proxy has accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops accepting, resets every open connection and waits until all are gone.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	open := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range open {
		c.reset()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			abort(client)
			return
		}
		p.accepted++
		var plan *cut
		if len(p.armed) > 0 {
			plan = &cut{}
			*plan = p.armed[0]
			p.armed = p.armed[1:]
		}
		c := &conn{p: p, client: client, plan: plan}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go c.run()
	}
}

// conn is one proxied connection.
type conn struct {
	p              *Proxy
	client, server net.Conn
	plan           *cut

	mu     sync.Mutex
	isCut  bool
	broken bool // reset, by a cut or by Close
}

func (c *conn) run() {
	defer c.p.wg.Done()
	defer func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}()
	server, err := net.Dial("tcp", c.p.target)
	if err != nil {
		abort(c.client)
		return
	}
	c.mu.Lock()
	c.server = server
	broken := c.broken // Close ran while dialling
	c.mu.Unlock()
	if broken {
		abort(server)
		abort(c.client)
		return
	}
	if c.plan != nil && c.plan.n == 0 {
		c.cutNow()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pipe(ClientToServer, server, c.client) }()
	go func() { defer wg.Done(); c.pipe(ServerToClient, c.client, server) }()
	wg.Wait()
	c.mu.Lock()
	broken = c.broken
	c.mu.Unlock()
	if !broken {
		c.client.Close()
		server.Close()
	}
}

// pipe copies src to dst. At the end of src it half-closes dst, so that the other
// direction can still finish, as a real network would let it.
func (c *conn) pipe(dir Direction, dst, src net.Conn) {
	limit := int64(-1)
	if c.plan != nil && c.plan.dir == dir {
		limit = c.plan.n
	}
	buf := make([]byte, 32<<10)
	var passed int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			chunk := buf[:nr]
			last := false
			if limit >= 0 && passed+int64(nr) >= limit {
				chunk, last = buf[:limit-passed], true
			}
			if len(chunk) > 0 {
				if _, werr := dst.Write(chunk); werr != nil {
					c.reset()
					return
				}
				passed += int64(len(chunk))
			}
			if last {
				c.cutNow()
				return
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
				return
			}
			c.reset()
			return
		}
	}
}

// cutNow resets both sides and counts the cut once.
func (c *conn) cutNow() {
	c.mu.Lock()
	first := !c.isCut && !c.broken
	c.isCut = true
	c.mu.Unlock()
	if first {
		c.p.mu.Lock()
		c.p.cuts++
		c.p.mu.Unlock()
	}
	c.resetAfter(true)
}

// reset closes both sides with a TCP RST at once.
func (c *conn) reset() { c.resetAfter(false) }

// resetAfter closes both sides with a TCP RST, first letting the peers' kernels take in
// what was already forwarded if delivered is set.
func (c *conn) resetAfter(delivered bool) {
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return
	}
	c.broken = true
	server := c.server
	c.mu.Unlock()
	if server != nil {
		if delivered {
			flush(server)
		}
		abort(server)
	}
	if delivered {
		flush(c.client)
	}
	abort(c.client)
}

// abort closes conn so that the peer gets a RST instead of a FIN.
func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
