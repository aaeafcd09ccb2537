package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A style colours the runner's output when it goes to a terminal and
// NO_COLOR is unset, and shows transient status lines on a terminal.
type style struct {
	color bool // paint with ANSI colours
	tty   bool // the output is a terminal
}

// styleFor returns the style for output written to f.
func styleFor(f *os.File) style {
	info, err := f.Stat()
	tty := err == nil && info.Mode()&os.ModeCharDevice != 0
	return style{color: tty && os.Getenv("NO_COLOR") == "", tty: tty}
}

// status says what is going on while it takes a while: on a terminal, a
// line that the next call to clear erases; elsewhere (a CI log), a line of
// its own.
func (s style) status(w io.Writer, msg string) {
	if s.tty {
		fmt.Fprint(w, "\r\x1b[K"+s.dim(msg))
		return
	}
	fmt.Fprintln(w, msg)
}

// clear erases a status line.
func (s style) clear(w io.Writer) {
	if s.tty {
		fmt.Fprint(w, "\r\x1b[K")
	}
}

// paint wraps text in an SGR escape sequence when the style has colour.
func (s style) paint(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// bold, dim, red, green and yellow paint text.
func (s style) bold(text string) string   { return s.paint("1", text) }
func (s style) dim(text string) string    { return s.paint("2", text) }
func (s style) red(text string) string    { return s.paint("31", text) }
func (s style) green(text string) string  { return s.paint("32", text) }
func (s style) yellow(text string) string { return s.paint("33", text) }

// pass returns the badge of a passing test.
func (s style) pass() string { return s.green("PASS") }

// fail returns the badge of a failing test.
func (s style) fail() string { return s.red("FAIL") }

// framing reports whether a line is the testing package's own framing
// rather than something a test said.
func framing(line string) bool {
	trimmed := strings.TrimSpace(line)
	for _, prefix := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- FAIL", "--- SKIP"} {
		if strings.HasPrefix(trimmed, prefix) {
			return true
		}
	}
	return false
}

// messages returns what a test said, without the framing, the file:line
// prefixes and the indentation testing adds. A continuation line of a
// message keeps two spaces of indentation, so each message stands out.
func messages(t *testResult) []string {
	// The file:line prefixes that testing puts before a message: more than
	// one when a message quotes another.
	fileLine := regexp.MustCompile(`^\s*([\w.\-]+\.go:\d+: ?)+`)
	var out []string
	for _, line := range t.output {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			break // a crash, which crashReport tells about
		}
		if framing(line) {
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

// A frame is one function call in a goroutine's stack.
type frame struct {
	goroutine string // "goroutine 12 [chan send]"
	function  string
	file      string // relative to the repository's root when inside it
	line      string
}

// state returns what the frame's goroutine was doing: "running", "chan
// send", "sync.WaitGroup.Wait", …
func (f frame) state() string {
	_, state, ok := strings.Cut(f.goroutine, "[")
	if !ok {
		return "running"
	}
	state, _, _ = strings.Cut(strings.TrimSuffix(state, "]"), ",")
	return strings.TrimSuffix(state, " (durable)")
}

// frames parses a goroutine dump into frames, keeping those whose file is
// inside the repository.
func frames(r repo, lines []string) []frame {
	var out []frame
	var g, fn string
	for _, line := range lines {
		switch {
		case strings.HasPrefix(line, "goroutine "):
			g, fn = strings.TrimSuffix(line, ":"), ""
		case strings.HasPrefix(line, "\t"):
			if fn == "" {
				continue
			}
			loc := strings.TrimSpace(line)
			if i := strings.LastIndex(loc, " +0x"); i >= 0 {
				loc = loc[:i]
			}
			i := strings.LastIndex(loc, ":")
			if i < 0 {
				continue
			}
			file, num := loc[:i], loc[i+1:]
			rel, err := filepath.Rel(r.root, file)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue
			}
			out = append(out, frame{goroutine: g, function: fn, file: rel, line: num})
		default:
			fn = strings.TrimSpace(line)
			if i := strings.LastIndex(fn, "("); i > 0 {
				fn = fn[:i]
			}
		}
	}
	return out
}

// crashReport explains in a few lines why a package's test binary died.
func crashReport(r repo, s step, p *pkgResult) []string {
	var out []string
	if p.timeout != "" {
		var running []string
		for _, t := range p.unfinished() {
			if t.topLevel() {
				running = append(running, t.name)
			}
		}
		out = append(out, fmt.Sprintf("the tests never finished (%s) while %s was running.",
			strings.TrimPrefix(p.timeout, "panic: "), firstNonEmpty(strings.Join(running, ", "), "a test")))
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
func goroutines(r repo, s step, dump []string) []string {
	dir := s.dir() + string(filepath.Separator)
	type place struct{ state, where string }
	count := make(map[place]int)
	var order []place
	seen := make(map[string]bool)
	for _, f := range frames(r, dump) {
		if seen[f.goroutine] || !strings.HasPrefix(f.file, dir) || strings.HasSuffix(f.file, "_test.go") {
			continue
		}
		seen[f.goroutine] = true
		pl := place{f.state(), fmt.Sprintf("%s at %s:%s", shortFunc(f.function), f.file, f.line)}
		if count[pl] == 0 {
			order = append(order, pl)
		}
		count[pl]++
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

// shortFunc drops the import path from a function name in a stack trace.
func shortFunc(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// limitLines keeps the first n lines and says how many it left out.
func limitLines(lines []string, n int, more string) []string {
	if len(lines) <= n {
		return lines
	}
	out := append([]string(nil), lines[:n]...)
	return append(out, fmt.Sprintf("… %d more lines (%s)", len(lines)-n, more))
}

// plural returns "1 test" or "2 tests".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// seconds formats a duration the way the runner shows times: "12.3s".
func seconds(d float64) string { return fmt.Sprintf("%.1fs", d) }

// wrap breaks the prose lines of text at width columns; lines that start
// with white space (code) are left alone, with tabs as four spaces.
func wrap(text string, width int) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			out = append(out, strings.ReplaceAll(line, "\t", "    "))
			continue
		}
		var cur string
		for _, word := range strings.Fields(line) {
			if cur != "" && len(cur)+1+len(word) > width {
				out = append(out, cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += word
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// condenseRaces replaces each data race report in a test's lines with a
// short account of it: which access happened where, in the repository's
// code. A report may be indented (a subtest's). It reports whether there
// was one.
func condenseRaces(r repo, lines []string) ([]string, bool) {
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
				rel, err := filepath.Rel(r.root, loc)
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

// raceOnly reports whether a failing top-level test and its failing
// subtests said nothing but the race detector's reports.
func raceOnly(p *pkgResult, name string) bool {
	found := false
	clean := func(t *testResult) bool {
		inReport := false
		for _, line := range messages(t) {
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
	if t := p.byName[name]; t == nil || !clean(t) {
		return false
	}
	for _, sub := range p.subtests(name) {
		if sub.action == "fail" && !clean(sub) {
			return false
		}
	}
	return found
}

// wrapLines wraps each line that is longer than width at its spaces, its
// continuation keeping the line's own indentation.
func wrapLines(lines []string, width int) []string {
	var out []string
	for _, line := range lines {
		body := strings.TrimLeft(line, " ")
		lead := line[:len(line)-len(body)]
		if len(line) <= width || strings.TrimSpace(body) == "" {
			out = append(out, line)
			continue
		}
		for _, part := range strings.Split(wrap(body, max(width-len(lead), 20)), "\n") {
			out = append(out, lead+part)
		}
	}
	return out
}

// condenseRepeats folds a run of three or more alike messages into the
// first, whole, followed by "(and 47 more like it: CS0002, CS0003, …)". Two
// messages are alike when they differ only in station ids and numbers; a
// message is a line with the more indented lines that follow it.
func condenseRepeats(lines []string) []string {
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

// durationWords formats a duration for people, to the second: "12s".
func durationWords(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
}
