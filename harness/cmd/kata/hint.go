package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// runHint prints the next hint of a step and remembers, in .kata/, how many
// the learner has seen.
func runHint(args []string) error {
	fs := newFlags("hint", "-step N [-level L]")
	num := fs.String("step", "", "the step: 1 or 01")
	level := fs.Int("level", 0, "show this hint (1 is the gentlest) instead of the next one")
	s, err := parseStep(fs, num, args)
	if err != nil {
		return err
	}
	_, hints := s.meta.firstHints()
	n := len(hints)
	if n == 0 {
		fmt.Printf("%s has no hints: its README.md is all there is.\n", s.label())
		return nil
	}
	seen := hintsSeen(s)
	show := min(seen+1, n)
	if *level != 0 {
		if *level < 1 || *level > n {
			return fmt.Errorf("%s has hints 1 to %d, not %d", s.label(), n, *level)
		}
		show = *level
	}
	if err := rememberHints(s, max(seen, show)); err != nil {
		return err
	}

	st := styleFor(os.Stdout)
	fmt.Printf("%s · %s\n\n", st.bold(s.label()), st.yellow(fmt.Sprintf("hint %d of %d: %s", show, n, tierName(show))))
	fmt.Printf("    %s\n\n", indentAfterFirst(wrap(hints[show-1], 76), "    "))
	switch {
	case show < n:
		fmt.Printf("Stuck still? make hint STEP=%d gives hint %d: %s.\n", s.num, show+1, tierName(show+1))
	case seen >= n && *level == 0:
		fmt.Printf("That was already the last hint. make hint STEP=%d LEVEL=1 shows the first again; make diff STEP=%d shows the solution.\n", s.num, s.num)
	default:
		fmt.Printf("That was the last hint. Check your code with make check STEP=%d.\n", s.num)
	}
	return nil
}

// tierName names hint i (from 1) of a step by how much it gives away.
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

// hintsFile is where kata remembers how many hints of a step were shown.
func hintsFile(s step) string {
	return filepath.Join(s.repo.root, ".kata", fmt.Sprintf("hints-%02d", s.num))
}

// hintsSeen returns how many hints of the step the learner has seen.
func hintsSeen(s step) int {
	data, err := os.ReadFile(hintsFile(s))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// rememberHints records that the learner has seen n hints of the step.
func rememberHints(s step, n int) error {
	path := hintsFile(s)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("remember the hints shown: %w", err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		return fmt.Errorf("remember the hints shown: %w", err)
	}
	return nil
}
