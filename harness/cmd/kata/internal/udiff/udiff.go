// Package udiff writes unified diffs (make diff, make reset) and parses and
// applies them: a wrong turn is a patch to its step's solution, applied
// strictly, so that one that no longer fits fails by name.
package udiff

import (
	"fmt"
	"strings"
)

// A hunk is one stretch of a unified diff.
type hunk struct {
	fromLine, fromCount int // 1-based start and length in the old file
	toLine, toCount     int // the same in the new file
	Lines               []string
}

// Header returns the hunk's @@ line.
func (h hunk) Header() string {
	return fmt.Sprintf("@@ -%s +%s @@", hunkRange(h.fromLine, h.fromCount), hunkRange(h.toLine, h.toCount))
}

// hunkRange formats one side of a hunk header: "4,7", "12", "0,0".
func hunkRange(start, count int) string {
	if count == 0 {
		start-- // an empty range names the line before it
	}
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}

// SplitLines splits text into lines without their newlines.
func SplitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

// UnifiedDiff returns the hunks that turn a into b, with context lines of
// context around each change. It finds a longest common subsequence, which
// is plenty for files the size of a step's.
func UnifiedDiff(a, b []string, context int) []hunk {
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	// An edit script: one op per line, ' ' kept, '-' removed, '+' added.
	type op struct {
		kind byte
		i, j int // the line's index in a and b before the op
	}
	var ops []op
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, op{' ', i, j})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', i, j})
			i++
		default:
			ops = append(ops, op{'+', i, j})
			j++
		}
	}
	var hunks []hunk
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		// A change at k: the hunk starts context lines before it and ends
		// when more than 2*context unchanged lines follow a change.
		start := max(k-context, 0)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		h := hunk{fromLine: ops[start].i + 1, toLine: ops[start].j + 1}
		for _, o := range ops[start:end] {
			switch o.kind {
			case ' ':
				h.Lines = append(h.Lines, " "+a[o.i])
				h.fromCount++
				h.toCount++
			case '-':
				h.Lines = append(h.Lines, "-"+a[o.i])
				h.fromCount++
			case '+':
				h.Lines = append(h.Lines, "+"+b[o.j])
				h.toCount++
			}
		}
		hunks = append(hunks, h)
		k = end
	}
	return hunks
}
