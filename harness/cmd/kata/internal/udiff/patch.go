package udiff

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A FilePatch is the part of a patch that changes one file.
type FilePatch struct {
	Name  string // the file's name in the step's package: "server.go"
	IsNew bool   // the file is not in the solution (--- /dev/null)
	Hunks []hunk
}

// caughtByPrefix starts the header line that names the test.
const caughtByPrefix = "caught by:"

// ParsePatch reads a wrong turn's patch: its note, the test that catches
// it, and what it changes, file by file.
func ParsePatch(text string) (note, caughtBy string, files []FilePatch, err error) {
	lines := SplitLines(text)
	i := 0
	var noteLines []string
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "--- "); i++ {
		line, ok := strings.CutPrefix(lines[i], "#")
		if !ok {
			if strings.TrimSpace(lines[i]) == "" {
				continue
			}
			return "", "", nil, fmt.Errorf("line %d: want '#' lines (what is wrong; %q and the test), then the diff", i+1, "# "+caughtByPrefix)
		}
		line = strings.TrimSpace(line)
		if test, ok := strings.CutPrefix(line, caughtByPrefix); ok {
			caughtBy = strings.TrimSpace(test)
			continue
		}
		noteLines = append(noteLines, line)
	}
	note = strings.Join(noteLines, " ")
	if note == "" || caughtBy == "" {
		return "", "", nil, fmt.Errorf("want a header of '#' lines: what is wrong, then %q and the test that fails on it", "# "+caughtByPrefix)
	}
	for i < len(lines) {
		var fp FilePatch
		if fp, i, err = parseFilePatch(lines, i); err != nil {
			return "", "", nil, err
		}
		files = append(files, fp)
	}
	if len(files) == 0 {
		return "", "", nil, errors.New("no diff after the header")
	}
	return note, caughtBy, files, nil
}

// parseFilePatch reads one file's part of a patch from lines[i], which is
// its "--- " line, and returns it with the index of the line after it.
func parseFilePatch(lines []string, i int) (FilePatch, int, error) {
	var fp FilePatch
	from, ok := strings.CutPrefix(lines[i], "--- ")
	if !ok || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "+++ ") {
		return fp, i, fmt.Errorf("line %d: want a '--- FILE' line and a '+++ FILE' line", i+1)
	}
	to := strings.TrimPrefix(lines[i+1], "+++ ")
	from, _, _ = strings.Cut(from, "\t") // diff -u appends the file's time
	to, _, _ = strings.Cut(to, "\t")
	fp.IsNew = from == "/dev/null"
	fp.Name = to
	if fp.Name == "" || strings.ContainsAny(fp.Name, `/\`) || !strings.HasSuffix(fp.Name, ".go") {
		return fp, i, fmt.Errorf("line %d: %q: want the name of a .go file of the step's package", i+2, to)
	}
	i += 2
	for i < len(lines) && strings.HasPrefix(lines[i], "@@ ") {
		h, err := parseHunkHeader(lines[i])
		if err != nil {
			return fp, i, fmt.Errorf("line %d: %w", i+1, err)
		}
		i++
		for from, to := h.fromCount, h.toCount; from > 0 || to > 0; i++ {
			if i >= len(lines) {
				return fp, i, fmt.Errorf("the hunk %s of %s ends early", h.Header(), fp.Name)
			}
			line := lines[i]
			if line == "" {
				line = " " // an empty context line, its space trimmed by an editor
			}
			switch line[0] {
			case ' ':
				from, to = from-1, to-1
			case '-':
				from--
			case '+':
				to--
			case '\\': // "\ No newline at end of file"
				continue
			default:
				return fp, i, fmt.Errorf("line %d: %q in the hunk %s of %s: want ' ', '-' or '+' first", i+1, line, h.Header(), fp.Name)
			}
			if from < 0 || to < 0 {
				return fp, i, fmt.Errorf("line %d: the hunk %s of %s has more lines than its header says", i+1, h.Header(), fp.Name)
			}
			h.Lines = append(h.Lines, line)
		}
		fp.Hunks = append(fp.Hunks, h)
	}
	if len(fp.Hunks) == 0 {
		return fp, i, fmt.Errorf("line %d: %s: no hunk", i+1, fp.Name)
	}
	return fp, i, nil
}

// parseHunkHeader reads "@@ -a,b +c,d @@".
func parseHunkHeader(line string) (hunk, error) {
	var h hunk
	fields := strings.Fields(line)
	if len(fields) < 4 || fields[3] != "@@" || !strings.HasPrefix(fields[1], "-") || !strings.HasPrefix(fields[2], "+") {
		return h, fmt.Errorf("%q: want @@ -START,COUNT +START,COUNT @@", line)
	}
	var err1, err2 error
	h.fromLine, h.fromCount, err1 = parseRange(fields[1][1:])
	h.toLine, h.toCount, err2 = parseRange(fields[2][1:])
	if err := errors.Join(err1, err2); err != nil {
		return h, fmt.Errorf("%q: %w", line, err)
	}
	return h, nil
}

// parseRange reads "START,COUNT" or "START" (a count of 1).
func parseRange(s string) (start, count int, err error) {
	a, b, found := strings.Cut(s, ",")
	count = 1
	if found {
		if count, err = strconv.Atoi(b); err != nil || count < 0 {
			return 0, 0, fmt.Errorf("bad count %q", b)
		}
	}
	if start, err = strconv.Atoi(a); err != nil || start < 0 {
		return 0, 0, fmt.Errorf("bad start %q", a)
	}
	if count == 0 {
		start++ // an empty range names the line before it
	}
	return start, count, nil
}

// Apply returns old with fp's hunks applied. Each hunk must find its
// context and removed lines exactly; where its header says (shifted by
// what the hunks before it added or removed), or else at the nearest place
// after the hunk ahead of it, as patch(1) does when lines were added or
// removed elsewhere in the file. If they are nowhere, the solution has moved
// on from the patch, and apply says what differs where the hunk expected
// its lines.
func (fp FilePatch) Apply(old []string) ([]string, error) {
	var out []string
	next, shift := 0, 0 // the first line of old not yet copied; how far the hunks have moved
	for n, h := range fp.Hunks {
		var want []string // the lines the hunk expects: its context and removed lines
		for _, line := range h.Lines {
			if line[0] != '+' {
				want = append(want, line[1:])
			}
		}
		expected := h.fromLine - 1 + shift
		at := -1
		for d := 0; at < 0 && (expected-d >= next || expected+d+len(want) <= len(old)); d++ {
			for _, p := range []int{expected - d, expected + d} {
				if p >= next && p+len(want) <= len(old) && slices.Equal(old[p:p+len(want)], want) {
					at = p
					break
				}
			}
		}
		if at < 0 {
			return nil, fmt.Errorf("%s: hunk %d (%s) does not apply: %s", fp.Name, n+1, h.Header(), mismatch(old, want, max(expected, next)))
		}
		shift = at - (h.fromLine - 1)
		out = append(out, old[next:at]...)
		for _, line := range h.Lines {
			if line[0] != '-' {
				out = append(out, line[1:])
			}
		}
		next = at + len(want)
	}
	return append(out, old[next:]...), nil
}

// mismatch says where old differs from want, placed at line at.
func mismatch(old, want []string, at int) string {
	for i, line := range want {
		switch {
		case at+i >= len(old):
			return fmt.Sprintf("it wants line %d to be %q, and the file has %d lines", at+i+1, line, len(old))
		case old[at+i] != line:
			return fmt.Sprintf("it wants line %d to be %q, and the solution has %q", at+i+1, line, old[at+i])
		}
	}
	return "its lines are there, but after the hunk ahead of it"
}
