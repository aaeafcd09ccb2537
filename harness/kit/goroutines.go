package kit

import (
	"bytes"
	"regexp"
	"runtime"
)

var bubbleOf = regexp.MustCompile(`^goroutine \d+ \[[^\]]*synctest bubble (\d+)`)

// Goroutines returns how many goroutines there are in the caller's synctest
// bubble, or in the whole process when the caller is in none.
//
// runtime.NumGoroutine counts the whole process, and a goroutine of the
// test framework or of a test that ran before may start or end at any
// moment; a bubble's own goroutines are the server's and its stations',
// and after synctest.Wait none of them is on its way in or out.
func Goroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var mine []byte
	counts := make(map[string]int)
	first := true
	for block := range bytes.SplitSeq(buf, []byte("\n\n")) {
		m := bubbleOf.FindSubmatch(block)
		if first {
			// runtime.Stack lists the caller's goroutine first.
			first = false
			if m == nil {
				return runtime.NumGoroutine()
			}
			mine = m[1]
		}
		if m != nil {
			counts[string(m[1])]++
		}
	}
	return counts[string(mine)]
}
