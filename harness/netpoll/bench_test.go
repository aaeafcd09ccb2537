package netpoll_test

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/ocppkata/kata/harness/netpoll"
)

// BenchmarkEcho measures round trips over loopback, with 100 connections
// echoing at once, served by a goroutine each or by the poller with a
// worker per CPU, on connections the runtime keeps or that a Listener's
// hand over to the poller. It measures what an event costs, not idle
// memory (see TestMeasureIdle).
func BenchmarkEcho(b *testing.B) {
	const conns, size = 100, 32
	serve := map[string]func(b *testing.B, servers []net.Conn){
		"goroutines": func(b *testing.B, servers []net.Conn) {
			for _, c := range servers {
				go io.Copy(c, c) // ends when the test closes c
			}
		},
		"netpoll": func(b *testing.B, servers []net.Conn) {
			p := netpoll.New()
			for _, c := range servers {
				pc, err := p.Add(c, nil)
				if errors.Is(err, errors.ErrUnsupported) {
					b.Skip(err)
				}
				if err != nil {
					b.Fatal(err)
				}
				if err := pc.Rearm(); err != nil { // Add leaves it with the caller
					b.Fatal(err)
				}
			}
			ready := make(chan *netpoll.Conn, 64)
			var wg sync.WaitGroup
			wg.Go(func() {
				defer close(ready)
				buf := make([]*netpoll.Conn, 64)
				for {
					n, err := p.Wait(buf)
					if err != nil {
						return
					}
					for _, c := range buf[:n] {
						ready <- c
					}
				}
			})
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					buf := make([]byte, 4096)
					for c := range ready {
						for {
							n, err := c.Read(buf)
							if n > 0 {
								c.NetConn().Write(buf[:n])
							}
							if err != nil {
								break
							}
						}
						c.Rearm()
					}
				})
			}
			b.Cleanup(func() {
				p.Close()
				wg.Wait()
			})
		},
	}
	asIs := func(l net.Listener) net.Listener { return l }
	for _, run := range []struct {
		name, serve string
		listen      func(net.Listener) net.Listener
	}{
		{"goroutines", "goroutines", asIs},
		{"netpoll", "netpoll", asIs},
		{"netpoll from a Listener", "netpoll", netpoll.Listener},
	} {
		b.Run(run.name, func(b *testing.B) {
			servers, clients := benchPairs(b, conns, run.listen)
			serve[run.serve](b, servers)
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range clients {
				wg.Go(func() {
					msg := make([]byte, size)
					for j := i; j < b.N; j += conns {
						if _, err := c.Write(msg); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(c, msg); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// benchPairs is pairs for a benchmark.
func benchPairs(b *testing.B, n int, listen func(net.Listener) net.Listener) (servers, clients []net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ln := listen(l)
	defer ln.Close()
	b.Cleanup(func() {
		for _, c := range append(servers, clients...) {
			c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		clients = append(clients, c)
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		servers = append(servers, s)
	}
	return servers, clients
}
