package kit

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/ocppkata/kata/harness/internal/stackdump"
)

// bubbled returns the other goroutines of the caller's synctest bubble, or
// of the whole process when the caller is in none, and whether the caller
// is in a bubble.
func bubbled() (others []stackdump.Goroutine, inBubble bool) {
	all := stackdump.Parse(string(stackdump.Take(nil)))
	// runtime.Stack lists the caller's goroutine first.
	me := all[0]
	if me.Bubble == 0 {
		return all[1:], false
	}
	for _, g := range all[1:] {
		if g.Bubble == me.Bubble {
			others = append(others, g)
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
	var left []string
	for _, g := range leftBehind(pkgPaths...) {
		left = append(left, g.Text)
	}
	return left
}

// leftBehind is LeftBehind, with the goroutines parsed.
func leftBehind(pkgPaths ...string) []stackdump.Goroutine {
	others, _ := bubbled()
	var left []stackdump.Goroutine
	for _, g := range others {
		// The bubble's root waits in synctest.Run for the test to end: it
		// runs the test's code, not the server's.
		if g.Calls("internal/synctest.Run") {
			continue
		}
		if inPackages(g, pkgPaths) {
			left = append(left, g)
		}
	}
	return left
}

// inPackages reports whether a goroutine has a frame, or was created by a
// function, in one of the packages.
func inPackages(g stackdump.Goroutine, pkgPaths []string) bool {
	for _, f := range g.Frames {
		if slices.Contains(pkgPaths, f.Package()) {
			return true
		}
	}
	return g.CreatedBy.Func != "" && slices.Contains(pkgPaths, g.CreatedBy.Package())
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
	reportLeft(t, pkg, leftBehind(pkg))
}

func reportLeft(t testing.TB, pkg string, left []stackdump.Goroutine) {
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

// listLeft lists goroutines compactly, one line per place: what they wait
// for, the function of pkg (an import path) they wait in with its
// file:line, and where they were started. A thousand goroutines blocked at
// the same place read as one line and their number. Paths are relative to
// the module's root when the test runs inside it.
func listLeft(gs []stackdump.Goroutine, pkg string) string {
	root := moduleRoot()
	var order []string
	count := make(map[string]int)
	for _, g := range gs {
		line := describeGoroutine(g, pkg, root)
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

// describeGoroutine says in a line where a goroutine waits and where it
// was started: "waiting (chan receive) in step.(*Server).work at
// exercises/step/server.go:93, started by step.(*Server).start at
// exercises/step/server.go:60". Where it waits is its innermost frame in
// pkg, or else outside the runtime and the testing packages.
func describeGoroutine(g stackdump.Goroutine, pkg, root string) string {
	at := slices.IndexFunc(g.Frames, func(f stackdump.Frame) bool { return f.Package() == pkg })
	if at < 0 {
		at = slices.IndexFunc(g.Frames, func(f stackdump.Frame) bool { return !infrastructure(f.Package()) })
	}
	var sb strings.Builder
	if g.State == "running" || g.State == "runnable" {
		sb.WriteString(g.State)
	} else {
		sb.WriteString("waiting (" + g.State + ")")
	}
	if at >= 0 {
		f := g.Frames[at]
		fmt.Fprintf(&sb, " in %s at %s", f.Short(), relativeTo(root, f.Pos()))
	}
	if by := g.CreatedBy; by.Func != "" {
		fmt.Fprintf(&sb, ", started by %s", by.Short())
		if by.Package() == pkg {
			fmt.Fprintf(&sb, " at %s", relativeTo(root, by.Pos()))
		}
	}
	return sb.String()
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
