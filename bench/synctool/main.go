// Command synctool is a helper of bench/sync.sh (not part of the test suite): a TCP proxy
// on 127.0.0.1 that counts the bytes (and HTTP/1.1 requests) passing in each direction, so
// that the sync benchmarks can state the bytes on the wire of a checkout or a replication.
//
//	synctool proxy -listen 127.0.0.1:PORT -target 127.0.0.1:PORT -out FILE.json
//	synctool profile-checkout ...   (see profile.go)
//	synctool profile-sync ...       (see profile_sync.go)
//
// It runs until SIGTERM or SIGINT, then writes {"conns","requests","client_to_server",
// "server_to_client"} to FILE and exits. It refuses non-loopback addresses.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

type counters struct {
	conns, requests, c2s, s2c atomic.Int64
}

// requestCounter counts request lines (" HTTP/1.1\r\n") in a client stream, across reads.
type requestCounter struct {
	tail []byte
	n    *atomic.Int64
}

var marker = []byte(" HTTP/1.1\r\n")

func (rc *requestCounter) Write(p []byte) (int, error) {
	buf := append(rc.tail, p...)
	rc.n.Add(int64(bytes.Count(buf, marker)))
	k := len(marker) - 1
	if len(buf) < k {
		k = len(buf)
	}
	// keep the last k bytes, but never a complete marker (already counted)
	rc.tail = append(rc.tail[:0], buf[len(buf)-k:]...)
	return len(p), nil
}

// countW counts the bytes written to it.
type countW struct{ n *atomic.Int64 }

func (w countW) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func main() {
	if len(os.Args) >= 2 && (os.Args[1] == "profile-checkout" || os.Args[1] == "profile-sync") {
		f := profileCheckout
		if os.Args[1] == "profile-sync" {
			f = profileSync
		}
		if err := f(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "synctool:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "proxy" {
		fmt.Fprintln(os.Stderr, "usage: synctool proxy -listen 127.0.0.1:PORT -target 127.0.0.1:PORT -out FILE")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address (loopback)")
	target := fs.String("target", "", "target address (loopback)")
	out := fs.String("out", "", "write the counts here as JSON on SIGTERM/SIGINT")
	fs.Parse(os.Args[2:])
	if !loopback(*listen) || !loopback(*target) {
		fmt.Fprintln(os.Stderr, "synctool: only 127.0.0.1 / ::1 addresses")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "synctool:", err)
		os.Exit(1)
	}
	var c counters
	var wg sync.WaitGroup
	go func() {
		for {
			cc, err := ln.Accept()
			if err != nil {
				return
			}
			c.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cc.Close()
				sc, err := net.Dial("tcp", *target)
				if err != nil {
					return
				}
				defer sc.Close()
				done := make(chan struct{})
				go func() {
					rc := &requestCounter{n: &c.requests}
					io.Copy(io.MultiWriter(sc, rc, countW{&c.c2s}), cc)
					if t, ok := sc.(*net.TCPConn); ok {
						t.CloseWrite()
					}
					close(done)
				}()
				io.Copy(io.MultiWriter(cc, countW{&c.s2c}), sc)
				if t, ok := cc.(*net.TCPConn); ok {
					t.CloseWrite()
				}
				<-done
			}()
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ln.Close()
	// Bytes are counted as they pass, so keep-alive connections still open count too.
	res := map[string]int64{"conns": c.conns.Load(), "requests": c.requests.Load(),
		"client_to_server": c.c2s.Load(), "server_to_client": c.s2c.Load()}
	b, _ := json.Marshal(res)
	if *out != "" {
		os.WriteFile(*out, append(b, '\n'), 0o644)
	} else {
		fmt.Println(string(b))
	}
}
