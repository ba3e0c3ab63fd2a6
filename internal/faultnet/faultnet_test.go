package faultnet_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/izytroniq/izytroniq/internal/faultnet"
)

// sink is a target server that, per connection, reads everything the client sends, records
// it, and answers by writing reply (if any) in full.
type sink struct {
	ln    net.Listener
	reply []byte

	mu   sync.Mutex
	got  [][]byte // bytes received, per connection in accept order
	errs []error  // how each connection's read ended (nil: clean EOF)
	wg   sync.WaitGroup
}

func startSink(tb testing.TB, reply []byte, readFirst bool) *sink {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &sink{ln: ln, reply: reply}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			i := len(s.got)
			s.got = append(s.got, nil)
			s.errs = append(s.errs, nil)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				read := func() {
					b, err := io.ReadAll(c)
					s.mu.Lock()
					s.got[i], s.errs[i] = b, err
					s.mu.Unlock()
				}
				if readFirst {
					read()
					c.Write(s.reply)
					return
				}
				done := make(chan struct{})
				go func() { read(); close(done) }()
				c.Write(s.reply)
				c.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *sink) conn(i int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[i], s.errs[i]
}

// exact reports whether got is exactly the first n bytes of want, or, where the proxy
// cannot wait for delivery before a reset (not Linux), at most those.
func exact(got, want []byte, n int64) bool {
	if int64(len(got)) > n || !bytes.Equal(got, want[:len(got)]) {
		return false
	}
	return int64(len(got)) == n || runtime.GOOS != "linux"
}

func mustListen(tb testing.TB, target string) *faultnet.Proxy {
	tb.Helper()
	p, err := faultnet.Listen(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// exchange sends req, half-closes, and reads the reply until the end or an error. The
// error is the read's, or else the write's: a reset is reported once, to whichever call
// meets it first.
func exchange(tb testing.TB, addr string, req []byte) (reply []byte, err error) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err // a cut at offset 0 can reset the connection before Dial returns
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(req)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	reply, err = io.ReadAll(c)
	if err2 := <-werr; err == nil {
		err = err2
	}
	return reply, err
}

func TestPassThrough(t *testing.T) {
	s := startSink(t, pattern(300_000), false)
	p := mustListen(t, s.ln.Addr().String())
	req := pattern(200_000)
	reply, err := exchange(t, p.Addr(), req)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(reply, s.reply) {
		t.Fatalf("got %d reply bytes, want the %d sent", len(reply), len(s.reply))
	}
	s.ln.Close()
	s.wg.Wait()
	got, gotErr := s.conn(0)
	if gotErr != nil || !bytes.Equal(got, req) {
		t.Fatalf("server got %d bytes (err %v), want %d", len(got), gotErr, len(req))
	}
	if got, want := p.Cuts(), 0; got != want {
		t.Fatalf("cuts = %d, want %d", got, want)
	}
}

func TestCutServerToClient(t *testing.T) {
	reply := pattern(1 << 20)
	s := startSink(t, reply, true) // answers after the request: the cut cannot race Dial
	p := mustListen(t, s.ln.Addr().String())
	for i, n := range []int64{0, 1, 17, 1000, 32 << 10, 100_000, 600_000, 1<<20 - 1} {
		p.CutAfter(faultnet.ServerToClient, n)
		got, err := exchange(t, p.Addr(), []byte("hello"))
		if err == nil {
			t.Errorf("n=%d: read ended cleanly, want a reset", n)
		}
		if !exact(got, reply, n) {
			t.Errorf("n=%d: client got %d bytes, want exactly the first %d", n, len(got), n)
		}
		if got, want := p.Cuts(), i+1; got != want {
			t.Errorf("n=%d: cuts = %d, want %d", n, got, want)
		}
	}
}

func TestCutClientToServer(t *testing.T) {
	s := startSink(t, []byte("ok"), true)
	p := mustListen(t, s.ln.Addr().String())
	req := pattern(1 << 20)
	ns := []int64{0, 1, 17, 1000, 32 << 10, 100_000, 600_000, 1<<20 - 1}
	for _, n := range ns {
		p.CutAfter(faultnet.ClientToServer, n)
		_, err := exchange(t, p.Addr(), req)
		if err == nil {
			t.Errorf("n=%d: client read ended cleanly, want a reset", n)
		}
	}
	s.ln.Close()
	s.wg.Wait()
	for i, n := range ns {
		got, err := s.conn(i)
		if n > 0 && err == nil {
			t.Errorf("n=%d: server read ended cleanly, want a reset", n)
		}
		if !exact(got, req, n) {
			t.Errorf("n=%d: server got %d bytes, want exactly the first %d", n, len(got), n)
		}
	}
	if got, want := p.Cuts(), len(ns); got != want {
		t.Errorf("cuts = %d, want %d", got, want)
	}
}

// An armed cut applies to exactly one new connection, in the order armed; a cut beyond the
// end of the stream does nothing but is used up.
func TestCutsQueue(t *testing.T) {
	reply := pattern(10_000)
	s := startSink(t, reply, true)
	p := mustListen(t, s.ln.Addr().String())
	p.CutAfter(faultnet.ServerToClient, 100)
	p.CutAfter(faultnet.ServerToClient, 1_000_000) // beyond the end: no cut
	p.CutAfter(faultnet.ServerToClient, 200)
	if got, want := p.Armed(), 3; got != want {
		t.Fatalf("armed = %d, want %d", got, want)
	}
	for i, want := range []int{100, 10_000, 200, 10_000, 10_000} {
		got, _ := exchange(t, p.Addr(), []byte("x"))
		if !exact(got, reply, int64(want)) {
			t.Errorf("connection %d: got %d bytes, want %d", i, len(got), want)
		}
	}
	if got, want := p.Cuts(), 2; got != want {
		t.Errorf("cuts = %d, want %d", got, want)
	}
	if got, want := p.Accepted(), 5; got != want {
		t.Errorf("accepted = %d, want %d", got, want)
	}
}

func TestCloseResetsOpenConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c) // never answers
			c.Close()
		}
	}()
	p, err := faultnet.Listen(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	for p.Accepted() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(c); done <- err }()
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) && err == nil {
			t.Fatalf("read ended cleanly, want a reset")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client still connected after Close")
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}
