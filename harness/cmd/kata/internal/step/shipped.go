package step

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/udiff"
	"github.com/ocppkata/kata/harness/internal/term"
)

// A FileChange is how one of the exercise's files differs from the starter
// as shipped.
type FileChange struct {
	Name          string
	Mine, Shipped []byte // nil: the file does not exist there
	added, gone   int    // lines: yours that reset removes, the starter's that it brings back
}

// Summary describes the change in a few words.
func (c FileChange) Summary() string {
	switch {
	case c.Shipped == nil:
		return fmt.Sprintf("yours, not the kata's: deleted (%s)", term.Plural(c.added, "line"))
	case c.Mine == nil:
		return fmt.Sprintf("missing: restored (%s)", term.Plural(c.gone, "line"))
	}
	return fmt.Sprintf("changed: %s of yours discarded, %s restored", term.Plural(c.added, "line"), term.Plural(c.gone, "line"))
}

// ResetChanges compares the exercise's non-test .go files on disk with
// those shipped, at rev, and returns those that differ, by name.
func ResetChanges(s Step, rev string, shipped []string) ([]FileChange, error) {
	mine, err := GoFiles(s.Repo, s.Dir())
	if err != nil {
		return nil, err
	}
	var changes []FileChange
	for _, name := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(mine), shipped...)))) {
		c := FileChange{Name: name}
		if slices.Contains(mine, name) {
			if c.Mine, err = os.ReadFile(filepath.Join(s.Repo.Root, s.Dir(), name)); err != nil {
				return nil, fmt.Errorf("read %s: %w", filepath.Join(s.Dir(), name), err)
			}
		}
		if slices.Contains(shipped, name) {
			if c.Shipped, err = s.shippedFileAt(rev, name); err != nil {
				return nil, err
			}
		}
		if c.Mine != nil && c.Shipped != nil && string(c.Mine) == string(c.Shipped) {
			continue
		}
		for _, h := range udiff.UnifiedDiff(udiff.SplitLines(string(c.Mine)), udiff.SplitLines(string(c.Shipped)), 0) {
			for _, line := range h.Lines {
				switch line[0] {
				case '-':
					c.added++
				case '+':
					c.gone++
				}
			}
		}
		changes = append(changes, c)
	}
	return changes, nil
}
