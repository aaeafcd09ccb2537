package kit

import (
	"bytes"
	"fmt"
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
	t.Errorf("leak: %s still blocked after Close returned, and nothing will ever wake them:\n\n%s\n\n"+
		"A server must stop every goroutine it started before Close returns: a goroutine left behind holds memory, "+
		"and often a connection, forever.", what, groupStacks(left))
}

// groupStacks lists tracebacks, each kind once: a thousand goroutines
// blocked at the same place read as one traceback and their number.
func groupStacks(blocks []string) string {
	var order []string
	count := make(map[string]int)
	first := make(map[string]string)
	for _, b := range blocks {
		sig := stackSignature(b)
		if count[sig] == 0 {
			order = append(order, sig)
			first[sig] = b
		}
		count[sig]++
	}
	var sb strings.Builder
	for i, sig := range order {
		if i > 0 {
			sb.WriteString("\n\n")
		}
		if n := count[sig]; n > 1 {
			fmt.Fprintf(&sb, "%d goroutines like this one:\n", n)
		}
		sb.WriteString(first[sig])
	}
	return sb.String()
}

var (
	goroutineID = regexp.MustCompile(`^goroutine \d+ `)
	frameArgs   = regexp.MustCompile(`\(.*\)$`)
	pcOffset    = regexp.MustCompile(` \+0x[0-9a-f]+$`)
	creatorID   = regexp.MustCompile(` in goroutine \d+$`)
)

// stackSignature is a traceback without what differs between goroutines
// blocked at the same place: ids, arguments, offsets.
func stackSignature(block string) string {
	lines := strings.Split(block, "\n")
	for i, l := range lines {
		l = goroutineID.ReplaceAllString(l, "goroutine ")
		l = pcOffset.ReplaceAllString(l, "")
		l = creatorID.ReplaceAllString(l, "")
		if i > 0 && l != "" && l[0] != '\t' {
			l = frameArgs.ReplaceAllString(l, "()")
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
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
