package netpoll_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ocppkata/kata/harness/netpoll"
)

// The measurement: what an idle connection costs a server, held three
// ways. It is a measurement, not a test: it passes whatever the numbers,
// and runs only when asked, since it opens twice NETPOLL_MEASURE
// descriptors in two processes:
//
//	NETPOLL_MEASURE=10000 go test -run TestMeasureIdle -v ./harness/netpoll
//
// Each way runs in a process of its own (a fresh heap), which accepts the
// connections from a child process that dials them and holds them open:
// one process would need two descriptors per connection. Each connection
// sends one short message, then nothing, as a station does after it boots:
// a buffer nobody ever wrote into costs no resident memory, and would make
// the goroutines' way look cheaper than it is.
const (
	envCount = "NETPOLL_MEASURE"      // connections; set to measure
	envMode  = "NETPOLL_MEASURE_MODE" // set in the server process
	envDial  = "NETPOLL_MEASURE_DIAL" // the address, in the dialing process
)

// hello is the message each connection sends.
const hello = "BootNotification"

// modes are the ways a server holds its idle connections.
var modes = []struct{ name, what string }{
	{"bare", "accepted, nobody reads: the cost of the net.Conn alone"},
	{"goroutines", "a goroutine each, its message read, blocked in conn.Read on its 4 KiB buffer"},
	{"netpoll", "registered; one goroutine waits on the poller and reads each message into one 4 KiB buffer"},
}

// sample is what the server process reports, before and after.
type sample struct {
	RSS, Heap, Stacks  uint64 // bytes: resident, heap objects, goroutine stacks
	Goroutines, Thread int
}

type result struct {
	Mode          string
	N             int
	Before, After sample
}

func TestMeasureIdle(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envCount))
	if n <= 0 || os.Getenv(envMode) != "" {
		t.Skipf("a measurement: set %s to the number of connections", envCount)
	}
	var rs []result
	for _, m := range modes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMeasureServer$")
		cmd.Env = append(os.Environ(), envMode+"="+m.name)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", m.name, err, out)
		}
		var r result
		for line := range strings.Lines(string(out)) {
			if s, ok := strings.CutPrefix(line, "RESULT "); ok {
				if err := json.Unmarshal([]byte(s), &r); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r.N == 0 {
			t.Fatalf("%s: no result in\n%s", m.name, out)
		}
		rs = append(rs, r)
	}
	t.Logf("%d idle loopback connections, per connection (the kernel's socket buffers are not in RSS):", n)
	t.Logf("%-11s %9s %9s %9s %11s %8s", "", "RSS", "heap", "stacks", "goroutines", "threads")
	for i, r := range rs {
		per := func(a, b uint64) string { return fmt.Sprintf("%.2f KiB", (float64(b)-float64(a))/float64(r.N)/1024) }
		t.Logf("%-11s %9s %9s %9s %11d %8d   %s", r.Mode, per(r.Before.RSS, r.After.RSS),
			per(r.Before.Heap, r.After.Heap), per(r.Before.Stacks, r.After.Stacks),
			r.After.Goroutines, r.After.Thread, modes[i].what)
	}
}

// TestMeasureServer is the server process of TestMeasureIdle.
func TestMeasureServer(t *testing.T) {
	mode := os.Getenv(envMode)
	n, _ := strconv.Atoi(os.Getenv(envCount))
	if mode == "" || n <= 0 {
		t.Skip("the server process of TestMeasureIdle")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		p     *netpoll.Poller
		loop  sync.WaitGroup
		heard sync.WaitGroup // a message from each connection
	)
	type station struct{ heard bool } // and a partial frame, empty while idle
	if mode == "netpoll" {
		p = netpoll.New()
		loop.Go(func() {
			ready := make([]*netpoll.Conn, 64)
			buf := make([]byte, 4096)
			for {
				n, err := p.Wait(ready)
				if err != nil {
					return
				}
				for _, c := range ready[:n] {
					st := c.Value().(*station)
					for {
						n, err := c.Read(buf)
						if n > 0 && !st.heard {
							st.heard = true
							heard.Done()
						}
						if err != nil {
							break
						}
					}
					c.Rearm()
				}
			}
		})
	}
	before := measure(t)

	dialer := exec.Command(os.Args[0], "-test.run=^TestMeasureDialer$")
	dialer.Env = append(os.Environ(), envDial+"="+ln.Addr().String())
	dialer.Stderr = os.Stderr
	hold, err := dialer.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dialer.Start(); err != nil {
		t.Fatal(err)
	}
	defer dialer.Wait()
	defer hold.Close() // the dialer hangs up when its stdin ends

	conns := make([]net.Conn, 0, n)
	heard.Add(n)
	for range n {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		switch mode {
		case "bare":
			heard.Done() // nobody listens
		case "goroutines":
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					heard.Done() // once: there is one message
				}
			}()
		case "netpoll":
			pc, err := p.Add(c, &station{})
			if err != nil {
				t.Fatal(err)
			}
			if err := pc.Rearm(); err != nil { // Add leaves it with the caller
				t.Fatal(err)
			}
		}
	}
	heard.Wait()
	after := measure(t)
	out, _ := json.Marshal(result{mode, n, before, after})
	fmt.Printf("RESULT %s\n", out)

	if p != nil {
		p.Close()
		loop.Wait()
	}
	for _, c := range conns {
		c.Close() // the goroutines' reads end
	}
}

// TestMeasureDialer is the dialing process of TestMeasureIdle: it dials,
// then holds the connections until its stdin ends.
func TestMeasureDialer(t *testing.T) {
	addr := os.Getenv(envDial)
	n, _ := strconv.Atoi(os.Getenv(envCount))
	if addr == "" {
		t.Skip("the dialing process of TestMeasureIdle")
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, hello); err != nil {
			t.Fatal(err)
		}
	}
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// measure collects garbage, gives free memory back to the system, and
// samples the process.
func measure(t *testing.T) sample {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	ms := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	metrics.Read(ms)
	s := sample{Heap: ms[0].Value.Uint64(), Stacks: ms[1].Value.Uint64(), Goroutines: runtime.NumGoroutine()}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		switch {
		case k == "VmRSS" && len(fields) == 2: // "1234 kB"
			kb, _ := strconv.ParseUint(fields[0], 10, 64)
			s.RSS = kb * 1024
		case k == "Threads" && len(fields) == 1:
			s.Thread, _ = strconv.Atoi(fields[0])
		}
	}
	return s
}
