package gotest

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// DumpedIn returns the crash whose goroutine dump a failing test reported
// as its failure, or nil: the report of a process the test started that
// timed out (kit.Isolated) or was stopped. A failure message that merely
// lists goroutines (kit.CloseWaits, a learner's own) is no crash.
func DumpedIn(p *pkgResult, t *TestResult) *Crash {
	if t.Action != "fail" {
		return nil
	}
	dump := stackLines(t)
	if len(dump) == 0 {
		return nil
	}
	hung, ok := childHang(t.Output)
	if !ok {
		return nil
	}
	return &Crash{Test: t.Name, first: strings.TrimSpace(dump[0]), child: true, dump: dump, Hung: hung}
}

// childHang looks in a test's output for the report of a child process
// that timed out or was stopped: "panic: test timed out after 12s",
// kit.Isolated's "The test hung: its process stopped it after 12s, …", or a
// SIGQUIT. It returns the limit the child ran past, if it says, and whether
// there is such a report.
func childHang(output []string) (time.Duration, bool) {
	for _, line := range output {
		l := strings.TrimSpace(line)
		for _, marker := range []string{"panic: test timed out after ", "The test hung: its process stopped it after "} {
			if _, after, ok := strings.Cut(l, marker); ok {
				word, _, _ := strings.Cut(after, ",")
				d, _ := time.ParseDuration(strings.TrimSpace(word))
				return d, true
			}
		}
		if strings.HasPrefix(l, "SIGQUIT: quit") {
			return 0, true
		}
	}
	return 0, false
}

// UntilDump cuts a crashed test's lines at its goroutine dump, which
// ExplainCrash condenses.
func UntilDump(lines []string) []string {
	for i, line := range lines {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "SIGQUIT: quit") || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") ||
			(strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, ":")) {
			return lines[:i]
		}
	}
	return lines
}

// BuildComplaint returns what go test said when the suite did not build,
// and whether it was vet (which go test runs before the tests) rather than
// the compiler. Vet's part of the output is headed "# [package]".
func BuildComplaint(tr *TestRun) ([]string, bool) {
	vet, compiler := false, false
	for _, line := range tr.Build {
		switch {
		case strings.HasPrefix(line, "# ["):
			vet = true
		case strings.HasPrefix(line, "# "):
		case strings.HasPrefix(line, "vet: "):
			// vet stopped on a type error: that is the compiler's complaint.
			compiler = true
		default:
			if !vet {
				compiler = true
			}
		}
	}
	var out []string
	for _, line := range tr.Build {
		if !strings.HasPrefix(line, "# ") {
			out = append(out, "  "+strings.TrimPrefix(line, "vet: "))
		}
	}
	if len(out) == 0 && tr.Stderr != "" {
		out = append(out, "  "+tr.Stderr)
	}
	return out, tr.vetFailed || vet && !compiler
}

// FailureLines returns what a failing top-level test and its failing
// subtests said, up to a crash.
func FailureLines(p *pkgResult, name string) []string {
	var lines []string
	if t := p.ByName[name]; t != nil {
		lines = append(lines, Messages(t)...)
	}
	for _, sub := range p.subtests(name) {
		if sub.Action != "fail" {
			continue
		}
		said := Messages(sub)
		if len(said) == 0 {
			continue // its own subtests say why
		}
		lines = append(lines, displayName(sub.Name)+":")
		for _, m := range said {
			lines = append(lines, "  "+m)
		}
	}
	return lines
}

// LogLines returns what a passing top-level test and its subtests logged:
// with go test -json, t.Log lines are reported for passing tests too.
func LogLines(p *pkgResult, name string) []string {
	var lines []string
	if t := p.ByName[name]; t != nil {
		lines = append(lines, Messages(t)...)
	}
	for _, sub := range p.subtests(name) {
		for _, m := range Messages(sub) {
			lines = append(lines, displayName(sub.Name)+": "+m)
		}
	}
	return lines
}

// CompilerLines returns the compiler's complaint from a run that did not build.
func CompilerLines(tr *TestRun) []string {
	var out []string
	for _, line := range tr.Build {
		if !strings.HasPrefix(line, "# ") {
			out = append(out, "  "+line)
		}
	}
	if len(out) == 0 && tr.Stderr != "" {
		out = append(out, "  "+tr.Stderr)
	}
	return out
}

// Framing reports whether a line is the testing package's own framing
// rather than something a test said.
func Framing(line string) bool {
	trimmed := strings.TrimSpace(line)
	for _, prefix := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(trimmed, prefix) {
			return true
		}
	}
	return false
}

// Messages returns what a test said, without the framing, the file:line
// prefixes and the indentation testing adds. A continuation line of a
// message keeps two spaces of indentation, so each message stands out.
func Messages(t *TestResult) []string {
	// The file:line prefixes that testing puts before a message: more than
	// one when a message quotes another.
	fileLine := regexp.MustCompile(`^\s*([\w.\-]+\.go:\d+: ?)+`)
	var out []string
	for _, line := range t.Output {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			break // a crash, which crashReport tells about
		}
		if Framing(line) {
			continue
		}
		if loc := fileLine.FindStringIndex(line); loc != nil {
			out = append(out, line[loc[1]:])
			continue
		}
		if strings.HasPrefix(line, "        ") {
			rest := strings.TrimLeft(line, " ")
			if loc := fileLine.FindStringIndex(rest); loc != nil {
				out = append(out, rest[loc[1]:]) // a message of its own
			} else {
				out = append(out, "  "+rest)
			}
			continue
		}
		out = append(out, strings.TrimRight(line, " "))
	}
	return out
}

// displayName turns a subtest's name back into the words it was given:
// testing replaces spaces with underscores.
func displayName(name string) string {
	if _, sub, ok := strings.Cut(name, "/"); ok {
		return strings.ReplaceAll(sub, "_", " ")
	}
	return name
}

// CrashReport explains in a few lines why a package's test binary died.
func CrashReport(r step.Repo, s step.Step, p *pkgResult) []string {
	var out []string
	if p.timeout != "" {
		var running []string
		for _, t := range p.unfinished() {
			if t.TopLevel() {
				running = append(running, t.Name)
			}
		}
		out = append(out, fmt.Sprintf("the tests never finished (%s) while %s was running.",
			strings.TrimPrefix(p.timeout, "panic: "), FirstNonEmpty(strings.Join(running, ", "), "a test")))
		out = append(out, "Something waits forever: a channel nobody sends on or closes, a WaitGroup that never reaches zero, a lock never released.")
		return append(out, goroutines(r, s, p.panicLines)...)
	}
	msg := p.panicLines[0]
	if i := strings.Index(msg, " [recovered"); i >= 0 {
		msg = msg[:i]
	}
	where := ""
	if p.panicTest != "" {
		where = " in " + p.panicTest
	}
	out = append(out, fmt.Sprintf("the tests crashed%s: %s", where, msg))
	switch {
	case strings.Contains(msg, "main bubble goroutine has exited but blocked goroutines remain"):
		out = append(out, "A goroutine was still blocked when the test ended: something the server started never stopped. Close must end every goroutine it started.")
	case strings.Contains(msg, "all goroutines in bubble are blocked"):
		out = append(out, "Every goroutine was waiting at once (a deadlock): nothing could make progress.")
	}
	return append(out, goroutines(r, s, p.panicLines)...)
}

// goroutines says where the goroutines of a stack dump were in the step's
// own code (not its tests): the one that panicked, then those waiting,
// those stuck on locks and channels first, alike ones counted once.
func goroutines(r step.Repo, s step.Step, dump []string) []string {
	dir := s.Dir() + string(filepath.Separator)
	type place struct{ state, where string }
	count := make(map[place]int)
	var order []place
	for _, g := range parseStacks(dump) {
		for _, f := range g.Frames {
			rel, ok := InRepo(r, f.File)
			if !ok || !strings.HasPrefix(rel, dir) || strings.HasSuffix(rel, "_test.go") {
				continue
			}
			pl := place{g.State, fmt.Sprintf("%s at %s:%d", f.Short(), filepath.ToSlash(rel), f.Line)}
			if count[pl] == 0 {
				order = append(order, pl)
			}
			count[pl]++
			break
		}
	}
	rank := func(state string) int {
		switch {
		case state == "running":
			return 0
		case state == "select", state == "IO wait", strings.HasPrefix(state, "sleep"):
			return 2
		}
		return 1 // locks, channels, WaitGroups: where goroutines get stuck
	}
	slices.SortStableFunc(order, func(a, b place) int { return rank(a.state) - rank(b.state) })
	var out []string
	for _, pl := range order[:min(len(order), 6)] {
		times := ""
		if n := count[pl]; n > 1 {
			times = fmt.Sprintf(" (%d goroutines)", n)
		}
		if pl.state == "running" {
			out = append(out, "  it panicked in "+pl.where)
		} else {
			out = append(out, fmt.Sprintf("  waiting (%s) in %s%s", pl.state, pl.where, times))
		}
	}
	return out
}

// shortFunc drops the import path from a function name in a race report
// (a dump's frames have stackdump's Frame.Short).
func shortFunc(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// CondenseRaces replaces each data race report in a test's lines with a
// short account of it: which access happened where, in the repository's
// code. A report may be indented (a subtest's). It reports whether there
// was one.
func CondenseRaces(r step.Repo, lines []string) ([]string, bool) {
	// The line that says which goroutine touched the memory, and how.
	raceAccess := regexp.MustCompile(`^(Previous )?(?:[Aa]tomic )?([Rr]ead|[Ww]rite) at 0x[0-9a-f]+ by `)
	trim := func(i int) string { return strings.TrimSpace(lines[i]) }
	var out []string
	found := false
	for i := 0; i < len(lines); i++ {
		if trim(i) != "==================" || i+1 == len(lines) || trim(i+1) != "WARNING: DATA RACE" {
			if !(found && trim(i) == "race detected during execution of test") {
				out = append(out, lines[i])
			}
			continue
		}
		found = true
		lead := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		out = append(out, lead+"a data race: two goroutines used the same memory at once, one of them writing:")
		j := i + 2
		for ; j < len(lines) && trim(j) != "=================="; j++ {
			m := raceAccess.FindStringSubmatch(trim(j))
			if m == nil {
				continue
			}
			// The stack follows: a function line, then its file:line.
			for k := j + 1; k+1 < len(lines) && trim(k) != ""; k += 2 {
				loc := trim(k + 1)
				if at := strings.LastIndex(loc, " +0x"); at >= 0 {
					loc = loc[:at]
				}
				rel, err := filepath.Rel(r.Root, loc)
				if err != nil || strings.HasPrefix(rel, "..") {
					continue
				}
				out = append(out, fmt.Sprintf("%s  %-5s in %s at %s", lead, strings.ToLower(m[2]), shortFunc(trim(k)), rel))
				break
			}
		}
		i = j
	}
	return out, found
}

// RaceOnly reports whether a failing top-level test and its failing
// subtests said nothing but the race detector's reports.
func RaceOnly(p *pkgResult, name string) bool {
	found := false
	clean := func(t *TestResult) bool {
		inReport := false
		for _, line := range Messages(t) {
			l := strings.TrimSpace(line)
			switch {
			case l == "==================":
				inReport = !inReport
				if inReport {
					found = true
				}
			case inReport, l == "", l == "race detected during execution of test":
			default:
				return false
			}
		}
		return true
	}
	if t := p.ByName[name]; t == nil || !clean(t) {
		return false
	}
	for _, sub := range p.subtests(name) {
		if sub.Action == "fail" && !clean(sub) {
			return false
		}
	}
	return found
}

// CondenseRepeats folds a run of three or more alike messages into the
// first, whole, followed by "(and 47 more like it: CS0002, CS0003, …)". Two
// messages are alike when they differ only in station ids and numbers; a
// message is a line with the more indented lines that follow it.
func CondenseRepeats(lines []string) []string {
	stationID := regexp.MustCompile(`\bCS\d+\b`)
	number := regexp.MustCompile(`\d+(\.\d+)?`)
	shape := func(unit []string) string {
		return number.ReplaceAllString(stationID.ReplaceAllString(strings.Join(unit, "\n"), "CS#"), "#")
	}
	indentOf := func(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }
	// Split the lines into messages.
	var units [][]string
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && indentOf(lines[j]) > indentOf(lines[i]) && strings.TrimSpace(lines[j]) != "" {
			j++
		}
		units = append(units, lines[i:j])
		i = j
	}
	var out []string
	for i := 0; i < len(units); {
		j := i + 1
		for j < len(units) && shape(units[j]) == shape(units[i]) {
			j++
		}
		out = append(out, units[i]...)
		if n := j - i - 1; n >= 2 {
			var ids []string
			for _, u := range units[i+1 : j] {
				if id := stationID.FindString(strings.Join(u, "\n")); id != "" && len(ids) < 3 {
					ids = append(ids, id)
				}
			}
			more := fmt.Sprintf("(and %d more like it)", n)
			if len(ids) > 0 {
				if n > len(ids) {
					ids = append(ids, "…")
				}
				more = fmt.Sprintf("(and %d more like it: %s)", n, strings.Join(ids, ", "))
			}
			last := len(out) - 1
			out[last] += " " + more
		} else {
			for _, u := range units[i+1 : j] {
				out = append(out, u...)
			}
		}
		i = j
	}
	return out
}

// WhatBroke says whose code does not compile: the code under test (who),
// the step's suite, or the kata's harness.
func WhatBroke(s step.Step, who string, compilerLines []string) string {
	dir := s.Dir() + string(filepath.Separator)
	suite := false
	for _, line := range compilerLines {
		file, _, _ := strings.Cut(strings.TrimSpace(line), ":")
		file = filepath.FromSlash(strings.TrimPrefix(file, "./"))
		switch {
		case strings.HasPrefix(file, dir) && !strings.HasSuffix(file, "_test.go"):
			return who + " does not compile"
		case strings.HasPrefix(file, dir):
			suite = true
		}
	}
	if suite {
		return "the step's suite does not compile against " + who
	}
	return "the kata's harness does not compile"
}
