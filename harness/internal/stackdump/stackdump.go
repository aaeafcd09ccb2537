// Package stackdump reads the goroutine dumps that the Go runtime prints:
// the output of runtime.Stack(buf, true), the dump that follows a panic or
// a test binary's timeout ("panic: test timed out after …"), and the one a
// SIGQUIT prints.
//
// A dump is a list of goroutines, each a header, its frames innermost first,
// and where it was started:
//
//	goroutine 22 gp=0xc000102380 m=nil [sync.Mutex.Lock, 2 minutes, locked to thread, synctest bubble 1]:
//	internal/sync.(*Mutex).lockSlow(0xc0000a6010)
//		/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
//	example.com/step.(*Server).process(...)
//		/src/step/server.go:40 +0x74
//	created by example.com/step.(*Server).start in goroutine 21
//		/src/step/server.go:30 +0x5f
//
// The header's brackets hold the goroutine's state ("running", "chan
// receive", "sync.Mutex.Lock"; "(durable)" when a synctest bubble counts it
// as durably blocked), then, when they apply, how many minutes it has been
// blocked, "locked to thread" and its synctest bubble. The "gp=… m=…" part
// appears in a crash's dump, a SIGQUIT's and with GOTRACEBACK=system. Each
// frame is a function line, its arguments in parentheses, and its file:line,
// indented by a tab and followed by the offset of the call ("+0x15d") and,
// with GOTRACEBACK=system, "fp= sp= pc=". The "created by" line names the
// function whose go statement started the goroutine and the goroutine that
// ran it; the runtime leaves it out for the main goroutine.
//
// Parse takes text in which the dump may be mixed with other lines (a test's
// output) and indented with spaces (testing indents the lines of a failure
// message that quotes a dump); it keeps what it recognises and skips the rest.
package stackdump

import (
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A Goroutine is one goroutine of a dump.
type Goroutine struct {
	ID int // 22

	// State is what the goroutine was doing, without the flags below:
	// "running", "runnable", "chan receive", "select", "sync.Mutex.Lock",
	// "sync.WaitGroup.Wait", "IO wait", …
	State string
	// Durable reports a "(durable)" state: the goroutine's synctest bubble
	// counts it as durably blocked, so synctest.Wait may return and fake
	// time may move while it waits.
	Durable bool
	// Waiting is how long the goroutine has been blocked, in the whole
	// minutes the runtime prints ("2 minutes"); 0 under a minute.
	Waiting time.Duration
	// Locked reports "locked to thread": the goroutine called
	// runtime.LockOSThread.
	Locked bool
	// Bubble is the id of the goroutine's synctest bubble ("synctest bubble
	// 3"), 0 when it is in none.
	Bubble int

	// Frames are the goroutine's calls, innermost first.
	Frames []Frame
	// Elided reports that the runtime left frames out ("...additional frames
	// elided...", "...12 frames elided...").
	Elided bool
	// CreatedBy is the go statement that started the goroutine ("created by"
	// and the line after it); its Func is "" when the dump does not say (the
	// main goroutine, the runtime's own).
	CreatedBy Frame
	// Parent is the goroutine that ran that go statement ("in goroutine 21"),
	// 0 when the dump does not say.
	Parent int

	// Header is the goroutine's first line, without its indentation and its
	// final colon: "goroutine 22 [sync.Mutex.Lock, synctest bubble 1]".
	Header string
	// Text is the goroutine's part of the dump as it was, from the header to
	// its last frame or "created by" line, without the final newline.
	Text string
}

// A Frame is one call of a goroutine's stack, or the go statement that
// started it.
type Frame struct {
	// Func is the function, as the runtime names it, without its arguments:
	// "example.com/step.(*Server).work", "example.com/step.New.func1",
	// "gopkg.in/yaml%2ev3.(*parser).parse" (a dot in a path's last element
	// is escaped), "panic".
	Func string
	File string // the source file, as printed: usually an absolute path
	Line int
}

// Take returns the dump of every goroutine of the process, the caller's
// first, as runtime.Stack(buf, true) writes it. It writes it into buf,
// using its whole capacity and growing it until the dump fits: a caller
// that takes dumps in a loop passes the last one back to reuse its memory.
func Take(buf []byte) []byte {
	buf = buf[:cap(buf)]
	if len(buf) == 0 {
		buf = make([]byte, 64<<10)
	}
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Parse reads the goroutines of a dump, in the order they appear. Lines
// that belong to no goroutine (a panic's message, a test's output) are
// skipped, and so are the frames of a goroutine's ancestors
// ("[originating from goroutine N]:", with GODEBUG=tracebackancestors).
// Lines may end in "\r\n" and be indented with spaces.
func Parse(dump string) []Goroutine {
	// A dump of a busy process has thousands of goroutines, and a caller
	// may parse one again and again (kit.Settle): the frames of all the
	// goroutines share one array, each goroutine's a slice of it capped at
	// its end, so that no append to one can overwrite the next. A frame takes
	// two lines, a hundred bytes or more.
	out := make([]Goroutine, 0, strings.Count(dump, "goroutine "))
	pool := make([]Frame, 0, len(dump)/100+8)
	var g *Goroutine    // the goroutine being read, the last of out
	head, first := 0, 0 // where g's text begins in dump; its first frame in pool
	fn := ""            // a function line, waiting for its file:line
	created := ""       // a "created by" line, waiting for its file:line
	for off := 0; off < len(dump); {
		next := len(dump)
		if i := strings.IndexByte(dump[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		end := next // the line is dump[begin:end], without indentation or line ending
		for end > off && (dump[end-1] == '\n' || dump[end-1] == '\r') {
			end--
		}
		begin := off
		for begin < end && dump[begin] == ' ' {
			begin++
		}
		line := dump[begin:end]
		off = next

		if strings.HasPrefix(line, "goroutine ") {
			if h, ok := ParseHeader(line); ok {
				out = append(out, h)
				g, head, first, fn, created = &out[len(out)-1], begin, len(pool), "", ""
				g.Text = dump[head:end]
				continue
			}
		}
		if g == nil {
			continue
		}
		switch {
		case line == "", strings.HasPrefix(line, "[originating from goroutine "):
			g = nil // the goroutine's own part ends here
			continue
		case line[0] == '\t':
			if fn == "" && created == "" {
				continue // "goroutine running on other thread; stack unavailable"
			}
			f := location(line)
			if created != "" {
				f.Func, g.Parent = creator(created)
				g.CreatedBy = f
			} else {
				f.Func = fn
				pool = append(pool, f)
				g.Frames = pool[first:len(pool):len(pool)]
			}
			fn, created = "", ""
		case strings.HasPrefix(line, "created by "):
			fn, created = "", strings.TrimPrefix(line, "created by ")
			continue
		case strings.HasPrefix(line, "...") && strings.HasSuffix(line, " elided..."):
			fn, created = "", ""
			g.Elided = true
		default:
			fn, created = function(line), ""
			continue
		}
		g.Text = dump[head:end]
	}
	return out
}

// Headers is Parse without the frames: each goroutine's header only (its
// Frames, CreatedBy, Parent and Text left empty), for a caller that looks
// at states again and again (kit.Settle) and needs the frames only once
// something is wrong.
func Headers(dump string) []Goroutine {
	out := make([]Goroutine, 0, strings.Count(dump, "goroutine "))
	for off := 0; off < len(dump); {
		i := strings.Index(dump[off:], "goroutine ")
		if i < 0 {
			break
		}
		start := off + i
		end := len(dump)
		if j := strings.IndexByte(dump[start:], '\n'); j >= 0 {
			end = start + j
		}
		off = end
		// Only a line's first word: what precedes it on the line is
		// indentation, or the header is not one.
		if strings.TrimLeft(lineBefore(dump, start), " ") != "" {
			continue
		}
		if g, ok := ParseHeader(strings.TrimRight(dump[start:end], "\r")); ok {
			out = append(out, g)
		}
	}
	return out
}

// lineBefore returns what comes before offset i on its line.
func lineBefore(s string, i int) string {
	return s[strings.LastIndexByte(s[:i], '\n')+1 : i]
}

// ParseHeader reads a goroutine's header line, "goroutine 22 gp=… m=nil
// [sync.Mutex.Lock, 2 minutes, synctest bubble 1]:" (without indentation;
// the final colon may be left out), and reports whether it is one.
func ParseHeader(line string) (Goroutine, bool) {
	h := strings.TrimSuffix(line, ":")
	rest, ok := strings.CutPrefix(h, "goroutine ")
	if !ok || !strings.HasSuffix(rest, "]") {
		return Goroutine{}, false
	}
	id, rest, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(id)
	open := strings.IndexByte(rest, '[')
	if err != nil || open < 0 {
		return Goroutine{}, false
	}
	g := Goroutine{ID: n, Header: h}
	inside := rest[open+1 : len(rest)-1]
	inside, _, _ = strings.Cut(inside, " labels:{") // GODEBUG=tracebacklabels=1
	g.State, inside, _ = strings.Cut(inside, ", ")
	for {
		if s, ok := strings.CutSuffix(g.State, " (durable)"); ok {
			g.State, g.Durable = s, true
		} else if s, ok := strings.CutSuffix(g.State, " (scan)"); ok {
			g.State = s // the garbage collector was scanning its stack
		} else {
			break
		}
	}
	for inside != "" {
		var p string
		p, inside, _ = strings.Cut(inside, ", ")
		if m, ok := strings.CutSuffix(p, " minutes"); ok {
			if n, err := strconv.Atoi(m); err == nil {
				g.Waiting = time.Duration(n) * time.Minute
			}
		} else if p == "locked to thread" {
			g.Locked = true
		} else if b, ok := strings.CutPrefix(p, "synctest bubble "); ok {
			g.Bubble, _ = strconv.Atoi(b)
		}
	}
	return g, true
}

// function returns the function of a frame's first line: the line without
// the arguments ("(0xc000012345, {0x1, 0x2})", "(...)").
func function(line string) string {
	if strings.HasSuffix(line, ")") {
		if i := strings.LastIndexByte(line, '('); i > 0 {
			return line[:i]
		}
	}
	return line
}

// creator reads what follows "created by ": "example.com/step.(*Server).start
// in goroutine 21".
func creator(s string) (fn string, parent int) {
	if i := strings.LastIndex(s, " in goroutine "); i >= 0 {
		if n, err := strconv.Atoi(s[i+len(" in goroutine "):]); err == nil {
			return s[:i], n
		}
	}
	return s, 0
}

// location reads a frame's second line: "\t/src/step/server.go:93 +0x1a5",
// perhaps followed by " fp=… sp=… pc=…" (GOTRACEBACK=system). The line
// number is the digits after the last colon: the path may hold colons and
// spaces ("C:/Program Files/Go/src/…"), what follows the number none.
func location(line string) Frame {
	loc := strings.TrimLeft(line, "\t")
	colon := strings.LastIndexByte(loc, ':')
	if colon < 0 {
		return Frame{File: strings.TrimSpace(loc)}
	}
	digits := colon + 1
	for digits < len(loc) && '0' <= loc[digits] && loc[digits] <= '9' {
		digits++
	}
	n, err := strconv.Atoi(loc[colon+1 : digits])
	if err != nil {
		return Frame{File: strings.TrimSpace(loc)}
	}
	return Frame{File: loc[:colon], Line: n}
}

// WaitsForLock reports whether the goroutine waits to lock a sync.Mutex or
// a sync.RWMutex. Inside a synctest bubble, such a goroutine is not durably
// blocked: while it waits, the bubble's fake clock cannot move.
func (g Goroutine) WaitsForLock() bool {
	return strings.HasPrefix(g.State, "sync.Mutex.") || strings.HasPrefix(g.State, "sync.RWMutex.")
}

// Calls reports whether one of the goroutine's frames is in fn, a function
// named as in a dump ("sync.(*Once).doSlow").
func (g Goroutine) Calls(fn string) bool {
	for _, f := range g.Frames {
		if f.Func == fn {
			return true
		}
	}
	return false
}

// Package returns the import path of the frame's function:
// "example.com/step" for "example.com/step.(*Server).work", "gopkg.in/yaml.v3"
// for "gopkg.in/yaml%2ev3.(*parser).parse". The runtime's frames named
// without a package ("panic") are the runtime's.
func (f Frame) Package() string {
	pkg, _ := f.split()
	return strings.ReplaceAll(pkg, "%2e", ".")
}

// Name returns the frame's function without its package:
// "(*Server).work", "New.func1".
func (f Frame) Name() string {
	_, name := f.split()
	return name
}

// Short returns the frame's function with the last element of its
// package's path only: "step.(*Server).work", "01-workers.New.func1".
func (f Frame) Short() string {
	pkg, name := f.split()
	if pkg == "runtime" && name == f.Func {
		return name // "panic"
	}
	pkg = strings.ReplaceAll(pkg, "%2e", ".")
	return pkg[strings.LastIndexByte(pkg, '/')+1:] + "." + name
}

// Pos returns where the frame is: "/src/step/server.go:93".
func (f Frame) Pos() string {
	return f.File + ":" + strconv.Itoa(f.Line)
}

// split splits the frame's function at the dot that ends its package's
// path: the first dot after the path's last slash, leaving out the type
// arguments of a generic function, whose names may hold slashes too.
func (f Frame) split() (pkg, name string) {
	path := f.Func
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	slash := strings.LastIndexByte(path, '/')
	dot := strings.IndexByte(path[slash+1:], '.')
	if dot < 0 {
		return "runtime", f.Func // "panic": the runtime's gopanic
	}
	return f.Func[:slash+1+dot], f.Func[slash+1+dot+1:]
}
