package stackdump

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The dumps in testdata are real, each printed by Go 1.26 on linux/amd64:
//
//	stack.txt             runtime.Stack(buf, true) inside a synctest bubble
//	timeout_synctest.txt  go test -timeout: a bubble stuck on a mutex
//	sigquit.txt           kill -QUIT of a program whose goroutines had waited 2 minutes
//	panic_system.txt      a panic with GOTRACEBACK=system (gp=, m=, fp= sp= pc=)
//	elided.txt            a panic 120 calls deep: "...22 frames elided..."
func dump(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParse(t *testing.T) {
	const (
		goSrc = "/usr/local/go/src/"
		step  = "/tmp/dumps/m/step_test.go"
	)
	tests := []struct {
		name  string
		dump  string // a file of testdata
		count int    // goroutines in the dump
		want  Goroutine
	}{
		{
			name: "runtime.Stack: the caller, running in a bubble", dump: "stack.txt", count: 7,
			want: Goroutine{
				ID: 9, State: "running", Bubble: 1,
				Frames: []Frame{
					{"example.com/step.TestStack.func1", step, 33},
					{"testing.tRunner", goSrc + "testing/testing.go", 2036},
				},
				CreatedBy: Frame{"testing/synctest.testingSynctestTest", goSrc + "testing/testing.go", 2150},
				Parent:    8,
				Header:    "goroutine 9 [running, synctest bubble 1]",
			},
		},
		{
			name: "runtime.Stack: durably blocked in a bubble", dump: "stack.txt", count: 7,
			want: Goroutine{
				ID: 10, State: "chan receive", Durable: true, Bubble: 1,
				Frames:    []Frame{{"example.com/step.(*Server).process", step, 17}},
				CreatedBy: Frame{"example.com/step.(*Server).start", step, 20},
				Parent:    9,
				Header:    "goroutine 10 [chan receive (durable), synctest bubble 1]",
			},
		},
		{
			name: "runtime.Stack: the bubble's root", dump: "stack.txt", count: 7,
			want: Goroutine{
				ID: 7, State: "synctest.Run", Durable: true, Bubble: 1,
				Frames: []Frame{
					{"internal/synctest.Run", goSrc + "runtime/synctest.go", 218},
					{"testing/synctest.Test", goSrc + "testing/synctest/synctest.go", 290},
					{"example.com/step.TestStack", step, 23},
					{"testing.tRunner", goSrc + "testing/testing.go", 2036},
				},
				CreatedBy: Frame{"testing.(*T).Run", goSrc + "testing/testing.go", 2101},
				Parent:    1,
				Header:    "goroutine 7 [synctest.Run (durable), synctest bubble 1]",
			},
		},
		{
			name: "test timeout: waiting for a mutex in a bubble, inlined frames", dump: "timeout_synctest.txt", count: 8,
			want: Goroutine{
				ID: 22, State: "sync.Mutex.Lock", Bubble: 1,
				Frames: []Frame{
					{"internal/sync.runtime_SemacquireMutex", goSrc + "runtime/sema.go", 95},
					{"internal/sync.(*Mutex).lockSlow", goSrc + "internal/sync/mutex.go", 149},
					{"internal/sync.(*Mutex).Lock", goSrc + "internal/sync/mutex.go", 70},
					{"sync.(*Mutex).Lock", goSrc + "sync/mutex.go", 46},
					{"example.com/step.(*Server).process", step, 15},
				},
				CreatedBy: Frame{"example.com/step.(*Server).start", step, 20},
				Parent:    21,
				Header:    "goroutine 22 [sync.Mutex.Lock, synctest bubble 1]",
			},
		},
		{
			name: "test timeout: locked to thread, durable, in a bubble", dump: "timeout_synctest.txt", count: 8,
			want: Goroutine{
				ID: 24, State: "sleep", Durable: true, Locked: true, Bubble: 1,
				Frames: []Frame{
					{"time.Sleep", goSrc + "runtime/time.go", 361},
					{"example.com/step.TestStack.func1.1", step, 28},
				},
				CreatedBy: Frame{"example.com/step.TestStack.func1", step, 28},
				Parent:    21,
				Header:    "goroutine 24 [sleep (durable), locked to thread, synctest bubble 1]",
			},
		},
		{
			name: "test timeout: the test binary's main goroutine, created by nobody", dump: "timeout_synctest.txt", count: 8,
			want: Goroutine{
				ID: 1, State: "chan receive",
				Frames: []Frame{
					{"testing.(*T).Run", goSrc + "testing/testing.go", 2109},
					{"testing.runTests.func1", goSrc + "testing/testing.go", 2585},
					{"testing.tRunner", goSrc + "testing/testing.go", 2036},
					{"testing.runTests", goSrc + "testing/testing.go", 2583},
					{"testing.(*M).Run", goSrc + "testing/testing.go", 2443},
					{"main.main", "_testmain.go", 48},
				},
				Header: "goroutine 1 [chan receive]",
			},
		},
		{
			name: "test timeout: created by a function, in no goroutine", dump: "timeout_synctest.txt", count: 8,
			want: Goroutine{
				ID: 5, State: "running",
				Frames:    []Frame{{"testing.(*M).startAlarm.func1", goSrc + "testing/testing.go", 2802}},
				CreatedBy: Frame{"time.goFunc", goSrc + "time/sleep.go", 215},
				Header:    "goroutine 5 [running]",
			},
		},
		{
			name: "SIGQUIT: waiting for a mutex for 2 minutes, the runtime's frames shown", dump: "sigquit.txt", count: 11,
			want: Goroutine{
				ID: 19, State: "sync.Mutex.Lock", Waiting: 2 * time.Minute,
				Frames: []Frame{
					{"runtime.gopark", goSrc + "runtime/proc.go", 462},
					{"runtime.goparkunlock", goSrc + "runtime/proc.go", 468},
					{"runtime.semacquire1", goSrc + "runtime/sema.go", 192},
					{"internal/sync.runtime_SemacquireMutex", goSrc + "runtime/sema.go", 95},
					{"internal/sync.(*Mutex).lockSlow", goSrc + "internal/sync/mutex.go", 149},
					{"internal/sync.(*Mutex).Lock", goSrc + "internal/sync/mutex.go", 70},
					{"sync.(*Mutex).Lock", goSrc + "sync/mutex.go", 46},
					{"main.(*Server).process", "/tmp/dumps/q/main.go", 12},
					{"main.main.func1", "/tmp/dumps/q/main.go", 22},
					{"sync.(*WaitGroup).Go.func1", goSrc + "sync/waitgroup.go", 258},
					{"runtime.goexit", goSrc + "runtime/asm_amd64.s", 1771},
				},
				CreatedBy: Frame{"sync.(*WaitGroup).Go", goSrc + "sync/waitgroup.go", 238},
				Parent:    1,
				Header:    "goroutine 19 gp=0x5dbfef023c0 m=nil [sync.Mutex.Lock, 2 minutes]",
			},
		},
		{
			name: "SIGQUIT: the scheduler's goroutine 0, idle", dump: "sigquit.txt", count: 11,
			want: Goroutine{
				ID: 0, State: "idle",
				Frames: []Frame{
					{"internal/runtime/syscall/linux.Syscall6", goSrc + "internal/runtime/syscall/linux/asm_linux_amd64.s", 36},
					{"internal/runtime/syscall/linux.EpollWait", goSrc + "internal/runtime/syscall/linux/syscall_linux.go", 32},
					{"runtime.netpoll", goSrc + "runtime/netpoll_epoll.go", 119},
					{"runtime.findRunnable", goSrc + "runtime/proc.go", 3754},
					{"runtime.schedule", goSrc + "runtime/proc.go", 4164},
					{"runtime.park_m", goSrc + "runtime/proc.go", 4304},
					{"runtime.mcall", goSrc + "runtime/asm_amd64.s", 496},
				},
				Header: "goroutine 0 gp=0x54a1c0 m=0 mp=0x54af80 [idle]",
			},
		},
		{
			name: "GOTRACEBACK=system: gp=, m=, fp= sp= pc=, the panic's frame", dump: "panic_system.txt", count: 6,
			want: Goroutine{
				ID: 1, State: "running",
				Frames: []Frame{
					{"panic", goSrc + "runtime/panic.go", 879},
					{"main.(*Server).handle", "/tmp/dumps/p/main.go", 11},
					{"main.main", "/tmp/dumps/p/main.go", 19},
					{"runtime.main", goSrc + "runtime/proc.go", 290},
					{"runtime.goexit", goSrc + "runtime/asm_amd64.s", 1771},
				},
				Header: "goroutine 1 gp=0x204f183b21e0 m=0 mp=0x547f80 [running]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := Parse(dump(t, tt.dump))
			if len(gs) != tt.count {
				t.Fatalf("Parse found %d goroutines in %s, want %d", len(gs), tt.dump, tt.count)
			}
			g := find(gs, tt.want.ID)
			if g == nil {
				t.Fatalf("no goroutine %d in %s", tt.want.ID, tt.dump)
			}
			if !strings.HasPrefix(g.Text, g.Header+":\n") || strings.HasSuffix(g.Text, "\n") {
				t.Errorf("goroutine %d's Text = %q, want it to begin with its header and end without a newline", g.ID, g.Text)
			}
			got := *g
			got.Text = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("goroutine %d\n got %+v\nwant %+v", g.ID, got, tt.want)
			}
		})
	}
}

func find(gs []Goroutine, id int) *Goroutine {
	for i := range gs {
		if gs[i].ID == id {
			return &gs[i]
		}
	}
	return nil
}

// TestParseText checks that each goroutine's Text is its part of the dump,
// whole: the goroutines' texts, joined by blank lines, are the dump.
func TestParseText(t *testing.T) {
	d := dump(t, "stack.txt")
	gs := Parse(d)
	var texts []string
	for _, g := range gs {
		texts = append(texts, g.Text)
	}
	if got := strings.Join(texts, "\n\n") + "\n"; got != d {
		t.Errorf("the goroutines' texts joined are\n%s\nwant the dump\n%s", got, d)
	}
	// What follows the last goroutine of a timeout's dump is go test's, not
	// the goroutine's.
	gs = Parse(dump(t, "timeout_synctest.txt"))
	if last := gs[len(gs)-1].Text; !strings.HasSuffix(last, "step_test.go:28 +0x65") {
		t.Errorf("the last goroutine's Text ends %q, want its created-by line's location", last[max(0, len(last)-40):])
	}
}

// TestParseReshaped checks that a dump reads the same when testing has
// indented it (a failure message that quotes it), with Windows line endings,
// or with other output around it.
func TestParseReshaped(t *testing.T) {
	d := dump(t, "timeout_synctest.txt")
	want := Parse(d)
	reshape := map[string]func(string) string{
		"indented": func(d string) string {
			return "    x_test.go:12: the child hung:\n        " + strings.ReplaceAll(d, "\n", "\n        ")
		},
		"CRLF": func(d string) string { return strings.ReplaceAll(d, "\n", "\r\n") },
		"amid output": func(d string) string {
			return "=== RUN   TestX\n--- FAIL: TestX (2.00s)\n" + d + "exit status 2\n"
		},
	}
	for name, f := range reshape {
		t.Run(name, func(t *testing.T) {
			got := Parse(f(d))
			if len(got) != len(want) {
				t.Fatalf("Parse found %d goroutines, want %d", len(got), len(want))
			}
			for i := range got {
				got[i].Text, want[i].Text = "", ""
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("goroutine %d\n got %+v\nwant %+v", want[i].ID, got[i], want[i])
				}
			}
		})
	}
}

func TestParseElided(t *testing.T) {
	gs := Parse(dump(t, "elided.txt"))
	if len(gs) != 1 {
		t.Fatalf("Parse found %d goroutines, want 1", len(gs))
	}
	g := gs[0]
	// The runtime prints the 50 innermost frames and the 50 outermost, and
	// says between them how many it left out ("...22 frames elided...").
	if !g.Elided || len(g.Frames) != 100 {
		t.Errorf("Elided = %v with %d frames, want true with 100", g.Elided, len(g.Frames))
	}
	if f := g.Frames[len(g.Frames)-1]; f.Func != "main.main" {
		t.Errorf("the outermost frame is %s, want main.main: the frames after the elision are read", f.Func)
	}
}

func TestParseOddLines(t *testing.T) {
	const d = "goroutine 3 [running]:\n" +
		"\tgoroutine running on other thread; stack unavailable\n" +
		"created by example.com/step.start in goroutine 1\n" +
		"\t/src/step/step.go:9 +0x25\n" +
		"\n" +
		"goroutine 4 [chan receive]:\n" +
		"example.com/step.wait(...)\n" +
		"\t/src/step/step.go:20\n" +
		"[originating from goroutine 3]:\n" +
		"example.com/step.start(...)\n" +
		"\t/src/step/step.go:8\n" +
		"goroutine 5 leaked, said a test\n"
	got := Parse(d)
	want := []Goroutine{
		{ID: 3, State: "running", CreatedBy: Frame{"example.com/step.start", "/src/step/step.go", 9}, Parent: 1, Header: "goroutine 3 [running]"},
		{ID: 4, State: "chan receive", Frames: []Frame{{"example.com/step.wait", "/src/step/step.go", 20}}, Header: "goroutine 4 [chan receive]"},
	}
	for i := range got {
		got[i].Text = ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse\n got %+v\nwant %+v", got, want)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		line string
		want Goroutine // Header is the line without its colon
		ok   bool
	}{
		{"goroutine 1 [running]:", Goroutine{ID: 1, State: "running"}, true},
		{"goroutine 7 [chan receive (nil chan)]:", Goroutine{ID: 7, State: "chan receive (nil chan)"}, true},
		{"goroutine 8 [GC worker (idle), 3 minutes]:", Goroutine{ID: 8, State: "GC worker (idle)", Waiting: 3 * time.Minute}, true},
		{"goroutine 9 [select (scan) (durable), synctest bubble 12]:", Goroutine{ID: 9, State: "select", Durable: true, Bubble: 12}, true},
		{"goroutine 10 [syscall, 61 minutes, locked to thread]:", Goroutine{ID: 10, State: "syscall", Waiting: 61 * time.Minute, Locked: true}, true},
		{`goroutine 11 [select, synctest bubble 2 labels:{"k": "v, w]"}]:`, Goroutine{ID: 11, State: "select", Bubble: 2}, true},
		{"goroutine 12 gp=0xc000007340 m=3 mp=0xc000100008 [sync.RWMutex.RLock]:", Goroutine{ID: 12, State: "sync.RWMutex.RLock"}, true},
		{"goroutine 13 [running]", Goroutine{ID: 13, State: "running"}, true},
		{"goroutine 5 leaked", Goroutine{}, false},
		{"goroutine x [running]:", Goroutine{}, false},
		{"goroutines 5 [running]:", Goroutine{}, false},
		{"  goroutine 5 [running]:", Goroutine{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := ParseHeader(tt.line)
			if ok {
				tt.want.Header = strings.TrimSuffix(tt.line, ":")
			}
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseHeader = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestWaitsForLock(t *testing.T) {
	for state, want := range map[string]bool{
		"sync.Mutex.Lock":     true,
		"sync.RWMutex.Lock":   true,
		"sync.RWMutex.RLock":  true,
		"sync.WaitGroup.Wait": false,
		"sync.Cond.Wait":      false,
		"semacquire":          false,
		"chan receive":        false,
	} {
		if got := (Goroutine{State: state}).WaitsForLock(); got != want {
			t.Errorf("WaitsForLock with state %q = %v, want %v", state, got, want)
		}
	}
}

func TestFrameNames(t *testing.T) {
	tests := []struct {
		fn, pkg, name, short string
	}{
		{"main.main", "main", "main", "main.main"},
		{"net/http.(*conn).serve", "net/http", "(*conn).serve", "http.(*conn).serve"},
		{"testing.tRunner.func1", "testing", "tRunner.func1", "testing.tRunner.func1"},
		{"internal/poll.runtime_pollWait", "internal/poll", "runtime_pollWait", "poll.runtime_pollWait"},
		{"panic", "runtime", "panic", "panic"},
		{"github.com/ocppkata/kata/exercises/01-workers.(*Server).work", "github.com/ocppkata/kata/exercises/01-workers", "(*Server).work", "01-workers.(*Server).work"},
		{"gopkg.in/yaml%2ev3.(*parser).parse", "gopkg.in/yaml.v3", "(*parser).parse", "yaml.v3.(*parser).parse"},
		{"example.com/a.b/c.Map[...]", "example.com/a.b/c", "Map[...]", "c.Map[...]"},
		{"example.com/c.Map[go.shape.*example.com/d.T]", "example.com/c", "Map[go.shape.*example.com/d.T]", "c.Map[go.shape.*example.com/d.T]"},
	}
	for _, tt := range tests {
		f := Frame{Func: tt.fn, File: "/src/x.go", Line: 7}
		if got := f.Package(); got != tt.pkg {
			t.Errorf("Frame{%s}.Package() = %q, want %q", tt.fn, got, tt.pkg)
		}
		if got := f.Name(); got != tt.name {
			t.Errorf("Frame{%s}.Name() = %q, want %q", tt.fn, got, tt.name)
		}
		if got := f.Short(); got != tt.short {
			t.Errorf("Frame{%s}.Short() = %q, want %q", tt.fn, got, tt.short)
		}
		if got := f.Pos(); got != "/src/x.go:7" {
			t.Errorf("Frame{%s}.Pos() = %q, want /src/x.go:7", tt.fn, got)
		}
	}
}

// TestTake checks a dump of this very process: the caller first, and a
// goroutine this test parks on a mutex, with where it waits.
func TestTake(t *testing.T) {
	var mu sync.Mutex
	mu.Lock()
	waiting := make(chan struct{})
	done := make(chan struct{})
	go func() {
		close(waiting)
		lockAndUnlock(&mu)
		close(done)
	}()
	<-waiting
	var gs []Goroutine
	buf := make([]byte, 16) // far too small: Take grows it
	for g := (*Goroutine)(nil); g == nil; runtime.Gosched() {
		buf = Take(buf)
		gs = Parse(string(buf))
		for i := range gs {
			if gs[i].WaitsForLock() && gs[i].Calls("github.com/ocppkata/kata/harness/internal/stackdump.lockAndUnlock") {
				g = &gs[i]
			}
		}
	}
	mu.Unlock()
	<-done
	if len(gs) == 0 || !gs[0].Calls("github.com/ocppkata/kata/harness/internal/stackdump.TestTake") || gs[0].State != "running" {
		t.Errorf("the dump's first goroutine is %q, want the caller's, running TestTake", gs[0].Header)
	}
}

//go:noinline
func lockAndUnlock(mu *sync.Mutex) {
	mu.Lock()
	//lint:ignore SA2001 the point is to wait for the lock: the dump shows a goroutine in this frame
	mu.Unlock()
}

// BenchmarkParse parses a dump of some 2,100 goroutines: a server with a
// thousand stations, as kit.Settle looks at it again and again.
func BenchmarkParse(b *testing.B) {
	big := bigDump(b)
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		Parse(big)
	}
}

// bigDump is testdata's stack.txt with its goroutines repeated 350 times:
// some 2,100 goroutines.
func bigDump(b *testing.B) string {
	b.Helper()
	d, err := os.ReadFile(filepath.Join("testdata", "stack.txt"))
	if err != nil {
		b.Fatal(err)
	}
	gs := strings.Split(strings.TrimSpace(string(d)), "\n\n")
	var sb strings.Builder
	sb.WriteString(gs[0])
	for range 350 {
		for _, g := range gs[1:] {
			sb.WriteString("\n\n" + g)
		}
	}
	return sb.String()
}

// TestHeaders holds Headers to Parse: the same goroutines, the same header
// fields, on every dump of testdata, indented as testing indents it too.
func TestHeaders(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no dumps in testdata: %v", err)
	}
	for _, name := range names {
		d, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, dump := range []string{string(d), "    " + strings.ReplaceAll(string(d), "\n", "\n    ")} {
			var want []Goroutine
			for _, g := range Parse(dump) {
				g.Frames, g.Elided, g.CreatedBy, g.Parent, g.Text = nil, false, Frame{}, 0, ""
				want = append(want, g)
			}
			if got := Headers(dump); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Headers gives %d goroutines, Parse %d:\n%+v\nwant\n%+v", name, len(got), len(want), got, want)
			}
		}
	}
}

func BenchmarkHeaders(b *testing.B) {
	big := bigDump(b)
	b.SetBytes(int64(len(big)))
	for b.Loop() {
		Headers(big)
	}
}
