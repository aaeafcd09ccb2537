package kit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
)

var bubbleOf = regexp.MustCompile(`^goroutine \d+ \[[^\]]*synctest bubble (\d+)`)

// stacks returns the traceback of every goroutine, the caller's first.
func stacks() [][]byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Split(bytes.TrimRight(buf, "\n"), []byte("\n\n"))
}

// bubbled returns the tracebacks of the other goroutines of the caller's
// synctest bubble, or of the whole process when the caller is in none, and
// whether the caller is in a bubble.
func bubbled() (others [][]byte, inBubble bool) {
	all := stacks()
	// runtime.Stack lists the caller's goroutine first.
	m := bubbleOf.FindSubmatch(all[0])
	if m == nil {
		return all[1:], false
	}
	for _, block := range all[1:] {
		if b := bubbleOf.FindSubmatch(block); b != nil && bytes.Equal(b[1], m[1]) {
			others = append(others, block)
		}
	}
	return others, true
}

// Goroutines returns how many goroutines there are in the caller's synctest
// bubble, or in the whole process when the caller is in none.
//
// runtime.NumGoroutine counts the whole process, and a goroutine of the
// test framework or of a test that ran before may start or end at any
// moment; a bubble's own goroutines are the server's and its stations',
// and after synctest.Wait none of them is on its way in or out.
func Goroutines() int {
	others, in := bubbled()
	if !in {
		return runtime.NumGoroutine()
	}
	return len(others) + 1
}

// LeftBehind returns the tracebacks of the goroutines of the caller's
// synctest bubble (of the whole process when the caller is in none), other
// than the caller, that run code of one of the packages, given by import
// path, or were started by it. Call it after synctest.Wait, when no goroutine
// of the bubble is on its way in or out: those it returns are blocked.
func LeftBehind(pkgPaths ...string) []string {
	others, _ := bubbled()
	var left []string
	for _, block := range others {
		// The bubble's root waits in synctest.Run for the test to end: it
		// runs the test's code, not the server's.
		if bytes.Contains(block, []byte("\ninternal/synctest.Run(")) {
			continue
		}
		if inPackages(string(block), pkgPaths) {
			left = append(left, string(block))
		}
	}
	return left
}

// inPackages reports whether a goroutine's traceback has a frame, or a
// "created by" line, in one of the packages.
func inPackages(block string, pkgPaths []string) bool {
	for _, line := range strings.Split(block, "\n")[1:] {
		if line == "" || line[0] == '\t' {
			continue
		}
		fn := strings.TrimPrefix(line, "created by ")
		for _, p := range pkgPaths {
			if strings.HasPrefix(fn, funcPrefix(p)) {
				return true
			}
		}
	}
	return false
}

// funcPrefix is how the functions of a package begin in a traceback: the
// import path, with the dots of its last element escaped, and a dot.
func funcPrefix(pkgPath string) string {
	dir, last := "", pkgPath
	if i := strings.LastIndex(pkgPath, "/"); i >= 0 {
		dir, last = pkgPath[:i+1], pkgPath[i+1:]
	}
	return dir + strings.ReplaceAll(last, ".", "%2e") + "."
}

// NoneLeftBehind fails the test, calling the failure a leak, if a goroutine
// of srv's package is still in the synctest bubble once every goroutine of
// the bubble that can move has moved. Call it inside the bubble right after
// srv.Close has returned: a goroutine of the server that is still there then
// is blocked on something that nothing will ever end, and the bubble would
// otherwise end in a bare "deadlock" panic. (kit.Serve calls it after its
// Close.) A goroutine that was still on its way out when Close returned is
// not reported: kit.CloseWaits is the check that Close waits for them.
func NoneLeftBehind(t testing.TB, srv Server) {
	t.Helper()
	pkg := packageOf(srv)
	if pkg == "" {
		t.Fatalf("kit.NoneLeftBehind: %T is not a type of a package", srv)
	}
	if _, in := bubbled(); !in {
		t.Fatal("kit.NoneLeftBehind: call it inside the synctest bubble, right after Close")
	}
	synctest.Wait()
	reportLeft(t, pkg, LeftBehind(pkg))
}

func reportLeft(t testing.TB, pkg string, left []string) {
	t.Helper()
	if len(left) == 0 {
		return
	}
	what := fmt.Sprintf("%d goroutines of %s are", len(left), pkg)
	if len(left) == 1 {
		what = fmt.Sprintf("a goroutine of %s is", pkg)
	}
	t.Errorf("leak: %s still blocked after Close returned, and nothing will ever wake them:\n%s\n"+
		"A server must stop every goroutine it started before Close returns: a goroutine left behind holds memory, "+
		"and often a connection, forever.", what, listLeft(left, pkg))
}

// listLeft lists the goroutines of tracebacks compactly, one line per
// place: what they wait for, the function of pkg (an import path) they wait
// in with its file:line, and where they were started. A thousand goroutines
// blocked at the same place read as one line and their number. Paths are
// relative to the module's root when the test runs inside it.
func listLeft(blocks []string, pkg string) string {
	root := moduleRoot()
	var order []string
	count := make(map[string]int)
	for _, b := range blocks {
		line := describeGoroutine(b, pkg, root)
		if count[line] == 0 {
			order = append(order, line)
		}
		count[line]++
	}
	var sb strings.Builder
	for i, line := range order {
		if i > 0 {
			sb.WriteString("\n")
		}
		n := count[line]
		if n == 1 {
			sb.WriteString("  1 goroutine " + line)
		} else {
			fmt.Fprintf(&sb, "  %d goroutines %s", n, line)
		}
	}
	return sb.String()
}

// A frame is one call of a traceback.
type frame struct{ function, file string } // file: "path:line"

// describeGoroutine says in a line where a goroutine of a traceback waits
// and where it was started: "waiting (chan receive) in
// step.(*Server).work at exercises/step/server.go:93, started by
// step.(*Server).start at exercises/step/server.go:60".
func describeGoroutine(block, pkg, root string) string {
	lines := strings.Split(strings.ReplaceAll(block, "\r\n", "\n"), "\n")
	state := "running"
	if m := goroutineState.FindStringSubmatch(lines[0]); m != nil {
		state = strings.TrimSuffix(m[1], " (durable)")
	}
	var frames []frame
	var creator *frame
	for i := 1; i+1 < len(lines); i++ {
		fn, loc := lines[i], lines[i+1]
		if fn == "" || fn[0] == '\t' || !strings.HasPrefix(loc, "\t") {
			continue
		}
		i++
		f := frame{file: pcOffset.ReplaceAllString(strings.TrimSpace(loc), "")}
		if by, ok := strings.CutPrefix(fn, "created by "); ok {
			f.function = creatorID.ReplaceAllString(by, "")
			creator = &f
			continue
		}
		f.function = frameArgs.ReplaceAllString(fn, "")
		frames = append(frames, f)
	}
	var at *frame
	for i, f := range frames {
		if strings.HasPrefix(f.function, funcPrefix(pkg)) {
			at = &frames[i]
			break
		}
	}
	if at == nil {
		for i, f := range frames {
			if !infrastructure(funcPackage(f.function)) {
				at = &frames[i]
				break
			}
		}
	}
	var sb strings.Builder
	if state == "running" || state == "runnable" {
		sb.WriteString(state)
	} else {
		sb.WriteString("waiting (" + state + ")")
	}
	if at != nil {
		fmt.Fprintf(&sb, " in %s at %s", shortFunction(at.function), relativeTo(root, at.file))
	}
	if creator != nil {
		fmt.Fprintf(&sb, ", started by %s", shortFunction(creator.function))
		if strings.HasPrefix(creator.function, funcPrefix(pkg)) {
			fmt.Fprintf(&sb, " at %s", relativeTo(root, creator.file))
		}
	}
	return sb.String()
}

var (
	goroutineState = regexp.MustCompile(`^goroutine \d+ (?:gp=\S+ m=\S+ )?\[([^,\]]*)`)
	frameArgs      = regexp.MustCompile(`\([^()]*\)$`)
	pcOffset       = regexp.MustCompile(` \+0x[0-9a-f]+$`)
	creatorID      = regexp.MustCompile(` in goroutine \d+$`)
)

// shortFunction drops a function's import path but for its last element:
// "01-workers.(*Server).work".
func shortFunction(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// moduleRoot returns the directory of the go.mod above the working
// directory (a test runs in its package's directory), or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// relativeTo returns loc ("/abs/path/file.go:12") relative to root when it
// lies below it, with forward slashes.
func relativeTo(root, loc string) string {
	if root == "" {
		return loc
	}
	rel, err := filepath.Rel(root, loc)
	if err != nil || strings.HasPrefix(rel, "..") {
		return loc
	}
	return filepath.ToSlash(rel)
}

// packageOf returns the import path of the package that defines v's type
// (of the package under test, for a type of its external test package).
func packageOf(v any) string {
	typ := reflect.TypeOf(v)
	for typ != nil && typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ == nil {
		return ""
	}
	return strings.TrimSuffix(typ.PkgPath(), "_test")
}
