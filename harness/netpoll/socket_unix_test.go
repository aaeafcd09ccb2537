//go:build linux || darwin

package netpoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// socketPair returns a Listener's connection, handed over (as Add does) if
// handed, and the client's end, both closed at the end of the test. The
// server's end writes into a small socket buffer and the client reads
// with its default, so that a write of a MiB must wait for the client.
func socketPair(t *testing.T, handed bool) (*socket, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(l)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	s, ok := sc.(*socket)
	if !ok {
		t.Fatalf("Listener accepted a %T, want a *socket", sc)
	}
	s.tc.Load().SetWriteBuffer(4096)
	client := c.(*net.TCPConn)
	if handed {
		if err := s.handOver(); err != nil {
			t.Fatal(err)
		}
	}
	return s, client
}

// waiting returns once a call of s waits on a borrowed connection.
func waiting(t *testing.T, s *socket, wait **net.TCPConn) {
	t.Helper()
	for {
		s.dmu.Lock()
		w := *wait
		s.dmu.Unlock()
		if w != nil {
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestHandOverLeavesTheRuntime checks that the hand-over closes the
// runtime's connection and keeps the socket: one descriptor, another
// number, the same addresses, and bytes both ways.
func TestHandOverLeavesTheRuntime(t *testing.T) {
	s, client := socketPair(t, false)
	tc := s.tc.Load()
	var before int
	raw, _ := tc.SyscallConn()
	raw.Control(func(fd uintptr) { before = int(fd) })
	local, remote := s.LocalAddr().String(), s.RemoteAddr().String()
	open := countFDs(t)

	if err := s.handOver(); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the runtime's connection after the hand-over: Write = %v, want net.ErrClosed", err)
	}
	if int(s.fd) == before || s.fd < 0 {
		t.Errorf("descriptor %d after the hand-over, the runtime's was %d: want a duplicate", s.fd, before)
	}
	if n := countFDs(t); n != open && n >= 0 {
		t.Errorf("%d descriptors open after the hand-over, %d before: want as many", n, open)
	}
	if l, r := s.LocalAddr().String(), s.RemoteAddr().String(); l != local || r != remote {
		t.Errorf("addresses %s, %s after the hand-over, %s, %s before", l, r, local, remote)
	}
	if err := s.handOver(); err != nil {
		t.Errorf("a second hand-over: %v, want nil (nothing to do)", err)
	}

	if _, err := s.Write([]byte("out")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "out" {
		t.Errorf("the client read %q, %v; want %q", got, err, "out")
	}
	client.Write([]byte("in"))
	got = got[:2]
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "in" {
		t.Errorf("Read after the hand-over: %q, %v; want %q", got, err, "in")
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Read(got); err != io.EOF {
		t.Errorf("the client's read after CloseWrite: %d, %v; want io.EOF", n, err)
	}
	client.Close()
	if n, err := s.Read(got); err != io.EOF {
		t.Errorf("Read after the client closed: %d, %v; want io.EOF", n, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a second Close: %v, want net.ErrClosed", err)
	}
	if n := countFDs(t); n != open-2 && n >= 0 {
		t.Errorf("%d descriptors open after both ends closed, %d with them: want two less", n, open)
	}
}

// countFDs counts the process's open descriptors, or returns -1 where it
// cannot (macOS).
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // ReadDir's own
}

// TestAWriteWaitsForTheReader checks a write to a full socket, once handed
// over: it waits (on a borrowed connection), and every byte arrives in
// order once the client reads.
func TestAWriteWaitsForTheReader(t *testing.T) {
	s, client := socketPair(t, true)
	out := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	written := make(chan error, 1)
	go func() {
		_, err := s.Write(out)
		written <- err
	}()
	waiting(t, s, &s.writeWait)
	in := make([]byte, len(out))
	if _, err := io.ReadFull(client, in); err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(in, out) {
		t.Error("the client read other bytes than were written")
	}
}

// TestAWaitEnds checks what ends a write that waits for a client that does
// not read: its deadline, passed or set during the wait, and Close.
func TestAWaitEnds(t *testing.T) {
	big := make([]byte, 8<<20)
	tests := []struct {
		name   string
		before func(s *socket) // before the write
		during func(s *socket) // once it waits
		want   error
	}{
		{"a deadline that has passed", func(s *socket) { s.SetWriteDeadline(time.Now().Add(-time.Second)) }, nil, os.ErrDeadlineExceeded},
		{"a deadline set during the wait", nil, func(s *socket) { s.SetWriteDeadline(time.Now()) }, os.ErrDeadlineExceeded},
		{"Close", nil, func(s *socket) { s.Close() }, net.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := socketPair(t, true)
			if tt.before != nil {
				tt.before(s)
			}
			written := make(chan error, 1)
			go func() {
				_, err := s.Write(big)
				written <- err
			}()
			if tt.during != nil {
				waiting(t, s, &s.writeWait)
				tt.during(s)
			}
			if err := <-written; !errors.Is(err, tt.want) {
				t.Errorf("Write: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAReadWaits checks Read once handed over (a connection Add took but
// could not register): it waits for bytes, and ends at its deadline.
func TestAReadWaits(t *testing.T) {
	s, client := socketPair(t, true)
	read := make(chan string, 1)
	go func() {
		b := make([]byte, 4)
		n, _ := io.ReadFull(s, b)
		read <- string(b[:n])
	}()
	waiting(t, s, &s.readWait)
	client.Write([]byte("late"))
	if got := <-read; got != "late" {
		t.Errorf("Read = %q, want %q", got, "late")
	}
	s.SetReadDeadline(time.Now().Add(time.Millisecond))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

// TestCloseDuringAHandOver checks Close against the hand-over: whichever
// comes first, the socket ends closed and no descriptor is left open.
func TestCloseDuringAHandOver(t *testing.T) {
	closedFor := func(t *testing.T, client *net.TCPConn) {
		t.Helper()
		client.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a failure, not a measure
		if n, err := client.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the client read %d, %v; want io.EOF: the socket is still open", n, err)
		}
	}
	t.Run("at once", func(t *testing.T) {
		open := countFDs(t)
		for range 50 {
			s, client := socketPair(t, false)
			var wg sync.WaitGroup
			wg.Go(func() { s.handOver() })
			wg.Go(func() { s.Close() })
			wg.Wait()
			closedFor(t, client)
			client.Close()
		}
		if n := countFDs(t); n != open && n >= 0 {
			t.Errorf("%d descriptors open after 50 races, %d before", n, open)
		}
	})
	// The narrow case: Close comes once the hand-over has its duplicate,
	// before it lets the runtime's connection go. Close finds the runtime's
	// connection, closes it, and must still close the duplicate.
	t.Run("after the duplicate", func(t *testing.T) {
		s, client := socketPair(t, false)
		s.mu.Lock() // what handOver does, a step at a time
		tc := s.tc.Load()
		raw, _ := tc.SyscallConn()
		raw.Control(func(fd uintptr) {
			nfd, err := dup(int(fd))
			if err != nil {
				t.Fatal(err)
			}
			s.fd = int32(nfd)
		})
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		for {
			if _, err := tc.Write(nil); errors.Is(err, net.ErrClosed) {
				break // Close closed it, and waits for mu
			}
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		s.tc.Store(nil)
		s.mu.Unlock()
		<-closed
		closedFor(t, client)
	})
}

// TestASetDeadlineInAWriteDuringClose: wsconn's writes set their deadline
// from inside RawConn.Write's function, with the socket held shared, when
// the socket is full. A Close that waits for the socket meanwhile must not
// make that SetWriteDeadline wait for it too.
func TestASetDeadlineInAWriteDuringClose(t *testing.T) {
	s, _ := socketPair(t, true)
	raw, _ := s.SyscallConn()
	big := make([]byte, 1<<20)
	written, closed := make(chan error, 1), make(chan struct{})
	go func() {
		armed := false
		written <- raw.Write(func(fd uintptr) bool {
			for {
				_, err := syscall.Write(int(fd), big)
				if err == syscall.EAGAIN {
					break
				}
				if err != nil {
					return true
				}
			}
			if !armed {
				armed = true
				go func() {
					s.Close()
					close(closed)
				}()
				// Close waits for the socket once a reader can no longer
				// take it: a writer is pending.
				for s.mu.TryRLock() {
					s.mu.RUnlock()
					runtime.Gosched()
				}
				s.SetWriteDeadline(time.Now().Add(time.Second))
			}
			return false
		})
	}()
	select {
	case err := <-written:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("the write ended with %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second): // a bound on a failure, not a measure
		t.Fatal("a SetWriteDeadline inside a write waited for a Close that waited for the write")
	}
	<-closed // no goroutine of the test outlives it: others count them
}

// TestNothingRunsAfterClose: a write queued behind one that waits, when
// Close ends the wait, fails as a net.Conn's would, without running.
func TestNothingRunsAfterClose(t *testing.T) {
	s, _ := socketPair(t, true)
	raw, _ := s.SyscallConn()
	big := make([]byte, 1<<20)
	first := make(chan error, 1)
	go func() {
		first <- raw.Write(func(fd uintptr) bool {
			syscall.Write(int(fd), big)
			return false
		})
	}()
	waiting(t, s, &s.writeWait)
	ran := make(chan bool, 1)
	go func() {
		called := false
		raw.Write(func(fd uintptr) bool { called = true; return true })
		ran <- called
	}()
	for range 20 { // a chance to queue behind the first
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if <-ran {
		t.Error("a write's function ran after Close")
	}
	<-first
}

// TestAWaitCallsAfterAWake: RawConn.Read calls its function again only
// once the poller woke the wait, as a net.Conn's does: wsconn's waits on a
// readable socket count on it (their second call reports ready without
// looking).
func TestAWaitCallsAfterAWake(t *testing.T) {
	for _, handed := range []bool{false, true} {
		s, client := socketPair(t, handed)
		raw, _ := s.SyscallConn()
		woke := false
		var b [1]byte
		f := func(fd uintptr) bool {
			if woke {
				return true
			}
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if err == syscall.EAGAIN {
				woke = true
				return false
			}
			return true
		}
		done := make(chan struct{})
		go func() { raw.Read(f); close(done) }()
		for range 20 { // a chance to return, wrongly
			runtime.Gosched()
			time.Sleep(time.Millisecond)
		}
		select {
		case <-done:
			t.Errorf("handed over %v: RawConn.Read returned with nothing to read", handed)
		default:
		}
		client.Write([]byte("x"))
		<-done
	}
}
