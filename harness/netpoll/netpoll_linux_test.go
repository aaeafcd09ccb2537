package netpoll

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// registered counts the descriptors in the kernel's epoll set, from
// /proc/self/fdinfo: one "tfd:" line each.
func registered(t *testing.T, epfd int) int {
	t.Helper()
	f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "tfd:") {
			n++
		}
	}
	return n
}

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own
}

// TestKernelSetFollowsConns checks the kernel's side of the contract: a
// poller opens its descriptors at the first socket, a registered
// connection is in the epoll set, Conn.Close takes it out (also when the
// net.Conn was closed elsewhere first), and Poller.Close leaves no
// descriptor of its own.
func TestKernelSetFollowsConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var servers []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		servers = append(servers, s)
	}

	base := openFDs(t)
	p := New()
	if got := openFDs(t) - base; got != 0 {
		t.Errorf("a new poller opened %d descriptors, want 0 before the first socket", got)
	}
	var pcs []*Conn
	for i, s := range servers {
		pc, err := p.Add(s, nil)
		if err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		if i == 0 {
			if got := openFDs(t) - base; got != 3 {
				t.Errorf("the first socket added: the poller opened %d descriptors, want 3 (epoll, a pipe's two ends)", got)
			}
		}
	}
	if got := registered(t, p.k.epfd); got != 1+4 {
		t.Errorf("after 4 Adds: %d descriptors in the epoll set, want 5 (the wake pipe and 4)", got)
	}
	if err := pcs[0].Close(); err != nil {
		t.Fatal(err)
	}
	if got := registered(t, p.k.epfd); got != 1+3 {
		t.Errorf("after a Conn.Close: %d descriptors in the epoll set, want 4", got)
	}
	// Closed elsewhere (a server's shutdown), then Conn.Close: nothing left.
	servers[1].Close()
	if err := pcs[1].Close(); err != nil {
		t.Errorf("Conn.Close after the net.Conn's Close: %v, want nil", err)
	}
	if got := registered(t, p.k.epfd); got != 1+2 {
		t.Errorf("after a net.Conn's Close and its Conn.Close: %d descriptors in the epoll set, want 3", got)
	}
	if got := p.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := openFDs(t), base-2; got != want {
		t.Errorf("after Close: %d descriptors open, want %d (the poller's 3 and the 2 closed connections' gone)", got, want)
	}
}
