package learn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunHint prints the next hint for the test of a step that failed last in
// make check (or the step's first lesson test), and remembers, in .kata/,
// how many of that test's hints the learner has seen.
func RunHint(args []string) error {
	fs := base.NewFlags("hint", "-step N [-level L]")
	num := fs.String("step", "", "the step: 1 or 01")
	levelArg := fs.String("level", "", "show this hint instead of the next one: nudge, direction or near-solution (or 1, 2, 3)")
	s, err := base.ParseStep(fs, num, args)
	if err != nil {
		return err
	}
	level, err := parseLevel(*levelArg)
	if err != nil {
		return err
	}
	state := loadHintState(s)
	test := state.LastFailed
	hints := s.Meta.HintsFor(test)
	if len(hints) == 0 {
		test, hints = s.Meta.FirstHints()
	}
	n := len(hints)
	if n == 0 {
		fmt.Printf("%s has no hints: its README.md is all there is.\n", s.Label())
		return nil
	}
	seen := state.Seen[test]
	show := nextHint(n, seen, level)
	if show == 0 {
		return fmt.Errorf("%s has hints 1 to %d for %s, not %d", s.Label(), n, test, level)
	}
	state.see(test, show)
	if err := state.save(s); err != nil {
		return err
	}

	st := term.StyleFor(os.Stdout)
	about := "for " + test
	if test == state.LastFailed {
		about += ", which failed in your last make check"
	}
	if passes(s) {
		fmt.Printf("%s\n", st.Green(fmt.Sprintf("Your code passes step %02d's suite (your last make check, and nothing has changed since): no hint needed. Here it is all the same.", s.Num)))
	}
	fmt.Printf("%s · %s\n%s\n\n", st.Bold(s.Label()), st.Yellow(fmt.Sprintf("hint %d of %d: %s", show, n, tierName(show))), st.Dim(about))
	fmt.Printf("    %s\n\n", term.IndentAfterFirst(term.Wrap(hints[show-1], 76), "    "))
	fmt.Println(hintFollowUp(s, n, seen, show, level))
	return nil
}

// parseLevel reads make hint's LEVEL: a tier's name (nudge, direction,
// near-solution) or its number; "" is 0, the next hint.
func parseLevel(arg string) (int, error) {
	arg = strings.ToLower(strings.TrimSpace(arg))
	if arg == "" {
		return 0, nil
	}
	for i := 1; i <= 3; i++ {
		if arg == tierName(i) || arg == strings.ReplaceAll(tierName(i), "-", "") || arg == strings.ReplaceAll(tierName(i), "-", "_") {
			return i, nil
		}
	}
	if n, err := strconv.Atoi(arg); err == nil && n >= 1 {
		return n, nil
	}
	return 0, fmt.Errorf("LEVEL=%s: want nudge, direction or near-solution (or 1, 2, 3)", arg)
}

// passes reports whether the learner's code passed the step's suite in the
// last make check (or progress, or watch), and nothing has changed since.
func passes(s step.Step) bool {
	v, ok := loadVerdicts(s.Repo).Steps[s.Name]
	if !ok || v.Kind != "passing" {
		return false
	}
	key, err := suiteKey(s)
	return err == nil && key == v.Key
}

// nextHint returns which hint (from 1) to show of n, when seen have been
// shown before and level asks for one (0: the next). It returns 0 for a
// level out of range.
func nextHint(n, seen, level int) int {
	if level != 0 {
		if level < 1 || level > n {
			return 0
		}
		return level
	}
	return min(seen+1, n)
}

// hintFollowUp says what make hint will show next, after hint show of n was
// shown, seen having been shown before it. What it promises is what the
// next make hint does.
func hintFollowUp(s step.Step, n, seen, show, level int) string {
	seenNow := max(seen, show)
	switch {
	case seenNow < n:
		return fmt.Sprintf("Stuck still? make hint STEP=%d gives hint %d: %s.", s.Num, seenNow+1, tierName(seenNow+1))
	case level == 0 && seen >= n:
		return fmt.Sprintf("That was already the last hint. make hint STEP=%d LEVEL=1 shows the first again; make diff STEP=%d shows the solution.", s.Num, s.Num)
	case show < n:
		return fmt.Sprintf("You have seen all %d hints: make hint STEP=%d shows the last again (LEVEL=L shows hint L).", n, s.Num)
	}
	return fmt.Sprintf("That was the last hint. Check your code with make check STEP=%d.", s.Num)
}

// tierName names hint i (from 1) of a test by how much it gives away.
func tierName(i int) string {
	switch i {
	case 1:
		return "nudge"
	case 2:
		return "direction"
	case 3:
		return "near-solution"
	}
	return "more"
}

// hintState is what kata remembers of a step's hints in .kata/: how many
// hints of each test the learner has seen, and which test failed in the
// last make check.
type hintState struct {
	Seen       map[string]int `json:"seen"`
	LastFailed string         `json:"last_failed,omitempty"`
}

// see records that hint show of the test was shown.
func (h *hintState) see(test string, show int) {
	h.Seen[test] = max(h.Seen[test], show)
}

// total returns how many hints were seen, over every test.
func (h hintState) total() int {
	n := 0
	for _, k := range h.Seen {
		n += k
	}
	return n
}

// hintsFile is where kata remembers a step's hints.
func hintsFile(s step.Step) string {
	return filepath.Join(s.Repo.Root, ".kata", fmt.Sprintf("hints-%02d.json", s.Num))
}

// loadHintState reads what kata remembers of a step's hints. The first
// format, a count of hints seen in .kata/hints-NN, counts for the first
// lesson test.
func loadHintState(s step.Step) hintState {
	h := hintState{Seen: make(map[string]int)}
	if data, err := os.ReadFile(hintsFile(s)); err == nil {
		if json.Unmarshal(data, &h) == nil && h.Seen != nil {
			return h
		}
		return hintState{Seen: make(map[string]int)}
	}
	data, err := os.ReadFile(strings.TrimSuffix(hintsFile(s), ".json"))
	if err != nil {
		return h
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && n > 0 {
		if test, _ := s.Meta.FirstHints(); test != "" {
			h.Seen[test] = n
		}
	}
	return h
}

// save writes the state to .kata/.
func (h hintState) save(s step.Step) error {
	path := hintsFile(s)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("remember the hints shown: %w", err)
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("remember the hints shown: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("remember the hints shown: %w", err)
	}
	return nil
}

// hintTest picks the test whose hint a red check shows: the first failing
// lesson test that has hints, else the first failing test that has some;
// failing lists the failing top-level tests in the order they ran. It
// returns "" when no failing test has hints.
func hintTest(m step.Meta, failing []string) string {
	lesson := make(map[string]bool)
	for _, name := range m.LessonTests {
		lesson[name] = true
	}
	for _, name := range failing {
		if lesson[name] && len(m.HintsFor(name)) > 0 {
			return name
		}
	}
	for _, name := range failing {
		if len(m.HintsFor(name)) > 0 {
			return name
		}
	}
	return ""
}
