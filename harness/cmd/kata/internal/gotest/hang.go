package gotest

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/stackdump"
	"github.com/ocppkata/kata/harness/internal/term"
)

// parseStacks reads the goroutines of a dump (a panic's, a test timeout's
// or a SIGQUIT's), given as lines; they may carry the indentation that
// testing adds to a failing test's message (kit.Isolated reports its
// child's output that way).
func parseStacks(lines []string) []stackdump.Goroutine {
	return stackdump.Parse(strings.Join(lines, "\n"))
}

// A waitPlace is where some goroutines of a dump wait in the kata's code.
type waitPlace struct {
	state string // "chan send", "sync.Mutex.Lock", "running"
	where string // "(*Server).work at exercises/01-workers/server.go:93"
	n     int    // how many goroutines wait there
	own   bool   // in the step's own code, not its tests or the harness
}

// waitPlaces returns where the goroutines of a dump are in the kata's code:
// each goroutine at its innermost frame in the step's own code, or else in
// the step's tests or the harness. Places in the step's own code come
// first, then the places where goroutines get stuck (locks, channels,
// WaitGroups) before those where they wait as they should (select, I/O).
// Goroutines of the Go runtime and the testing package are left out.
func waitPlaces(r step.Repo, s step.Step, gs []stackdump.Goroutine) []waitPlace {
	dir := s.Dir() + string(filepath.Separator)
	var order []waitPlace
	index := make(map[[2]string]int)
	for _, g := range gs {
		var best *stackdump.Frame
		own := false
		for i, f := range g.Frames {
			rel, ok := InRepo(r, f.File)
			if !ok {
				continue
			}
			if strings.HasPrefix(rel, dir) && !strings.HasSuffix(rel, "_test.go") {
				best, own = &g.Frames[i], true
				break
			}
			if best == nil {
				best = &g.Frames[i]
			}
		}
		if best == nil {
			continue
		}
		rel, _ := InRepo(r, best.File)
		key := [2]string{g.State, fmt.Sprintf("%s at %s:%d", best.Short(), filepath.ToSlash(rel), best.Line)}
		if i, ok := index[key]; ok {
			order[i].n++
			continue
		}
		index[key] = len(order)
		order = append(order, waitPlace{state: key[0], where: key[1], n: 1, own: own})
	}
	rank := func(p waitPlace) int {
		r := 0
		if !p.own {
			r = 10
		}
		switch {
		case p.state == "running", p.state == "runnable":
		case strings.HasPrefix(p.state, "sync.Mutex"), strings.HasPrefix(p.state, "sync.RWMutex"):
			r++ // a lock: where a hang usually is
		case p.state == "select", p.state == "IO wait", strings.HasPrefix(p.state, "sleep"), p.state == "syscall":
			r += 3
		default:
			r += 2 // channels, WaitGroups: where goroutines get stuck, or idle
		}
		return r
	}
	slices.SortStableFunc(order, func(a, b waitPlace) int { return rank(a) - rank(b) })
	return order
}

// InRepo returns a file's path relative to the repository's root, and
// whether it is inside it.
func InRepo(r step.Repo, file string) (string, bool) {
	if r.Root == "" || !filepath.IsAbs(file) {
		return "", false
	}
	rel, err := filepath.Rel(r.Root, file)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return rel, true
}

// mutexInBubble returns the goroutines of a synctest bubble that wait for a
// mutex: synctest does not count them as durably blocked, so while they
// wait the bubble's fake clock cannot advance.
func mutexInBubble(gs []stackdump.Goroutine) []stackdump.Goroutine {
	var out []stackdump.Goroutine
	for _, g := range gs {
		if g.Bubble != 0 && g.WaitsForLock() {
			out = append(out, g)
		}
	}
	return out
}

// ExplainCrash says in a few lines what a crash or a hang of the suite
// means and where the step's goroutines were.
func ExplainCrash(r step.Repo, s step.Step, c *Crash) []string {
	var out []string
	gs := parseStacks(c.dump)
	test := FirstNonEmpty(c.Test, "a test")
	switch {
	case c.Hung != 0:
		out = append(out, fmt.Sprintf("%s was still running after %s, when a test of this suite takes a few seconds at most: it was waiting for something that never came.",
			test, term.DurationWords(c.Hung)))
		if c.after != "" {
			out = append(out, fmt.Sprintf("(The runner waited no longer for it since %s had hung already, most likely the same way: fix that one first.)", c.after))
		}
		if len(gs) == 0 {
			out = append(out, "The runner stopped it, but got no goroutine stacks from it.")
		} else if c.child {
			out = append(out, "It waited on a process it started (kit.Isolated); that process's goroutines were:")
		} else {
			out = append(out, "The runner stopped it and asked for every goroutine's stack:")
		}
	case c.leak():
		out = append(out, fmt.Sprintf("%s ended while a goroutine the server started was still blocked (synctest reports it as %q).",
			test, "blocked goroutines remain"))
		out = append(out, "Close must end every goroutine the server started. The goroutine left behind was:")
	case c.deadlock():
		out = append(out, fmt.Sprintf("%s deadlocked: every goroutine of the test was waiting at once, so nothing could move. Typically a call that nobody answers, a channel that nobody sends on or closes, or a WaitGroup that never reaches zero:", test))
	default:
		msg, _, _ := strings.Cut(c.first, " [recovered")
		out = append(out, fmt.Sprintf("%s crashed: %s", test, strings.TrimSpace(msg)))
	}
	places := waitPlaces(r, s, gs)
	if c.deadlock() {
		// The running goroutine is the test's, reporting the deadlock.
		places = slices.DeleteFunc(places, func(pl waitPlace) bool { return pl.state == "running" })
	}
	if c.leak() {
		// synctest lists the goroutines left behind after the test's own.
		var left []stackdump.Goroutine
		for _, g := range gs {
			if g.Bubble != 0 && g.State != "running" {
				left = append(left, g)
			}
		}
		if len(left) > 0 {
			places = waitPlaces(r, s, left)
		}
	}
	shown := 0
	for _, pl := range places {
		if shown == 6 {
			out = append(out, fmt.Sprintf("  … and %s", term.Plural(len(places)-shown, "more place")))
			break
		}
		times := ""
		if pl.n > 1 {
			times = fmt.Sprintf(" (%d goroutines)", pl.n)
		}
		if pl.state == "running" {
			out = append(out, "  running in "+pl.where+times)
		} else {
			out = append(out, fmt.Sprintf("  waiting (%s) in %s%s", pl.state, pl.where, times))
		}
		shown++
	}
	if c.Hung != 0 || c.deadlock() {
		if m := mutexInBubble(gs); len(m) > 0 {
			out = append(out,
				fmt.Sprintf("%s inside the test's synctest bubble %s for a sync.Mutex. synctest does not count a goroutine waiting for a mutex as durably blocked, so the fake clock cannot move while it waits: the lock's holder may be waiting for fake time (the backend, a timer) that will never pass. A mutex held while processing (per station, or around the backend call) freezes the fake clock; so does locking one twice. Release the lock before the goroutine waits for anything.",
					term.Plural(len(m), "goroutine"), map[bool]string{true: "waits", false: "wait"}[len(m) == 1]))
		} else if n := ownMutexWaits(places); n > 0 && c.Hung != 0 {
			out = append(out, fmt.Sprintf("%s of your code %s for a sync.Mutex that is never released: a lock taken twice, or held while its goroutine waits for a channel, a call or another lock.",
				term.Plural(n, "goroutine"), map[bool]string{true: "waits", false: "wait"}[n == 1]))
		} else if c.Hung != 0 {
			out = append(out, "A hang here usually means a lock held across a channel operation, a queue that no worker reads any more, or a goroutine that waits for one that has already returned.")
		}
	}
	return out
}

// CrashSignature sums up how a crash happened, for telling whether two
// crashes are alike: its kind and the places in the step's own code where
// its goroutines were.
func CrashSignature(r step.Repo, s step.Step, c *Crash) string {
	kind := "crash"
	switch {
	case c.Hung != 0:
		kind = "hung"
	case c.leak():
		kind = "leak"
	case c.deadlock():
		kind = "deadlock"
	}
	var own []string
	for _, pl := range waitPlaces(r, s, parseStacks(c.dump)) {
		if pl.own {
			own = append(own, pl.state+"|"+pl.where)
		}
	}
	if len(own) == 0 {
		return ""
	}
	slices.Sort(own) // the order of places alike in rank varies from dump to dump
	return kind + "\n" + strings.Join(own, "\n")
}

// FirstOwnPlace returns where the first goroutine in the step's own code
// waited, as ExplainCrash words it, or "".
func FirstOwnPlace(r step.Repo, s step.Step, c *Crash) string {
	for _, pl := range waitPlaces(r, s, parseStacks(c.dump)) {
		if pl.own {
			return fmt.Sprintf("%s in %s", pl.state, pl.where)
		}
	}
	return ""
}

// ownMutexWaits counts the goroutines that wait for a mutex in the step's
// own code.
func ownMutexWaits(places []waitPlace) int {
	n := 0
	for _, pl := range places {
		if pl.own && (strings.HasPrefix(pl.state, "sync.Mutex") || strings.HasPrefix(pl.state, "sync.RWMutex")) {
			n += pl.n
		}
	}
	return n
}
