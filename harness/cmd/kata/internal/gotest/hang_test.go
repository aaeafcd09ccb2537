package gotest

import (
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

func TestParseStacksMutexInBubble(t *testing.T) {
	for _, indent := range []string{"", "        "} {
		lines := strings.Split(mutexDump, "\n")
		for i := range lines {
			lines[i] = indent + lines[i]
		}
		gs := parseStacks(lines)
		if len(gs) != 5 {
			t.Fatalf("indent %q: parsed %d goroutines, want 5", indent, len(gs))
		}
		if g := gs[1]; g.State != "sync.Mutex.Lock" || g.Durable || g.Bubble == 0 || len(g.Frames) != 2 {
			t.Errorf("goroutine 22 = %+v, want a non-durable sync.Mutex.Lock in a bubble with 2 frames", g)
		}
		if g := gs[0]; g.State != "sync.WaitGroup.Wait" || !g.Durable {
			t.Errorf("goroutine 21 = %+v, want a durable sync.WaitGroup.Wait", g)
		}
		if m := mutexInBubble(gs); len(m) != 2 {
			t.Errorf("mutexInBubble found %d goroutines, want 2 (goroutine 5 is outside any bubble)", len(m))
		}
		s := step.Step{Name: "03-x", Repo: step.Repo{Root: "/src/kata"}}
		places := waitPlaces(s.Repo, s, gs)
		want := "(*P).process at exercises/03-x/background.go:40"
		if len(places) == 0 || !strings.HasSuffix(places[0].where, want) || places[0].n != 2 || places[0].state != "sync.Mutex.Lock" {
			t.Errorf("first place = %+v, want 2 goroutines locking in %s", places, want)
		}
		c := &Crash{Test: "TestB", Hung: 15 * time.Second, dump: lines}
		text := strings.Join(ExplainCrash(s.Repo, s, c), "\n")
		for _, want := range []string{"TestB was still running after 15s", "2 goroutines inside the test's synctest bubble wait for a sync.Mutex", "fake clock"} {
			if !strings.Contains(text, want) {
				t.Errorf("explainCrash does not say %q:\n%s", want, text)
			}
		}
	}
}

func TestExplainLeak(t *testing.T) {
	s := step.Step{Name: "01-x", Repo: step.Repo{Root: "/src/kata"}}
	c := &Crash{Test: "TestClose", first: "panic: deadlock: main bubble goroutine has exited but blocked goroutines remain [recovered, repanicked]",
		dump: strings.Split(`goroutine 7 [running]:
testing.tRunner.func1()
	/usr/local/go/src/testing/testing.go:1977 +0x349
example.com/kata/exercises/01-x_test.TestClose(0x2e5fda12a6c8?)
	/src/kata/exercises/01-x/x_test.go:3 +0x1a

goroutine 10 [chan receive (durable), synctest bubble 1]:
example.com/kata/exercises/01-x.(*Server).work(...)
	/src/kata/exercises/01-x/server.go:90 +0x19
created by example.com/kata/exercises/01-x.New in goroutine 9
	/src/kata/exercises/01-x/server.go:50 +0x5f`, "\n")}
	text := strings.Join(ExplainCrash(s.Repo, s, c), "\n")
	for _, want := range []string{"a goroutine the server started was still blocked", "waiting (chan receive) in 01-x.(*Server).work at exercises/01-x/server.go:90"} {
		if !strings.Contains(text, want) {
			t.Errorf("explainCrash does not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "x_test.go") {
		t.Errorf("explainCrash shows the test's own goroutine for a leak:\n%s", text)
	}
}

// A dump of a suite frozen by a mutex inside a synctest bubble, as SIGQUIT
// prints it; kit.Isolated indents its child's output.
const mutexDump = `SIGQUIT: quit
PC=0x48c221 m=0 sigcode=0

goroutine 21 gp=0x7f742880780 m=nil [sync.WaitGroup.Wait (durable), synctest bubble 1]:
sync.(*WaitGroup).Wait(0x7f7428860d0)
	/usr/local/go/src/sync/waitgroup.go:206 +0x85 fp=0x7f742823f38 sp=0x7f742823f10 pc=0x490645
example.com/kata/exercises/03-x_test.TestB.func1(0x7f74289c6c8?)
	/src/kata/exercises/03-x/x_test.go:6 +0x9d fp=0x7f742823f70 sp=0x7f742823f38 pc=0x52f8bd

goroutine 22 gp=0x7f742880960 m=nil [sync.Mutex.Lock, synctest bubble 1]:
internal/sync.(*Mutex).lockSlow(0x7f7428860c8)
	/usr/local/go/src/internal/sync/mutex.go:149 +0x15d fp=0x7f742824758 sp=0x7f742824708 pc=0x48efdd
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:40 +0x74
created by example.com/kata/exercises/03-x.(*P).start in goroutine 21
	/src/kata/exercises/03-x/background.go:30 +0x5f

goroutine 23 gp=0x7f742880b40 m=nil [sync.Mutex.Lock, synctest bubble 1]:
internal/sync.(*Mutex).lockSlow(0x7f7428860c8)
	/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:40 +0x74

goroutine 24 gp=0x7f742880d20 m=nil [sleep (durable), synctest bubble 1]:
time.Sleep(0x3b9aca00)
	/usr/local/go/src/runtime/time.go:361 +0x145
example.com/kata/exercises/03-x.(*P).process(0x0?)
	/src/kata/exercises/03-x/background.go:42 +0x74

goroutine 5 gp=0x7f742880d21 m=nil [sync.Mutex.Lock]:
example.com/kata/harness/x.f()
	/src/kata/harness/x/x.go:1 +0x74
`
