package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runReset puts a step's starter back as the kata shipped it (its non-test
// .go files as committed upstream, or at HEAD; see asShipped), after showing
// what that discards and asking, unless -force.
func runReset(args []string) error {
	fs := newFlags("reset", "-step N [-force]")
	num := fs.String("step", "", "the step to reset: 1 or 01")
	force := fs.Bool("force", false, "discard your changes without asking")
	s, err := parseStep(fs, num, args)
	if err != nil {
		return err
	}
	rev, about := s.asShipped()
	shipped, err := s.shippedFilesAt(rev)
	if err != nil {
		return fmt.Errorf("cannot reset %s: %w; the starter as the kata ships it comes from git (a fresh clone has it)", s.dir(), err)
	}
	changes, err := resetChanges(s, rev, shipped)
	if err != nil {
		return err
	}
	st := styleFor(os.Stdout)
	if len(changes) == 0 {
		fmt.Printf("%s is the starter as the kata shipped it (%s): nothing to reset.\n", s.dir(), about)
		return nil
	}
	fmt.Printf("%s\nmake reset puts back the starter as the kata shipped it (%s), discarding your changes:\n", st.bold(s.label()), about)
	for _, c := range changes {
		fmt.Printf("  %-20s %s\n", c.name, c.summary())
	}
	if !*force {
		fmt.Println(st.dim("(git diff " + rev + " -- " + filepath.ToSlash(s.dir()) + " shows them line by line)"))
		if !terminal(os.Stdin) {
			fmt.Printf("%s there is no terminal to ask whether to discard them: make reset STEP=%d FORCE=1 discards them without asking.\n",
				st.red("Nothing reset:"), s.num)
			return errFailed
		}
		fmt.Print("Discard these changes? [y/N] ")
		if !yes(os.Stdin) {
			fmt.Println("Nothing reset.")
			return nil
		}
	}
	saved, err := saveChanges(s, changes)
	if err != nil {
		return err
	}
	for _, c := range changes {
		path := filepath.Join(s.repo.root, s.dir(), c.name)
		if c.shipped == nil {
			err = os.Remove(path)
		} else {
			err = os.WriteFile(path, c.shipped, 0o644)
		}
		if err != nil {
			return fmt.Errorf("reset %s: %w", filepath.Join(s.dir(), c.name), err)
		}
	}
	fmt.Printf("%s %s is the starter again. Your version is kept in %s: cp %s/*.go %s/ brings it back.\n",
		st.green("Done:"), s.dir(), filepath.ToSlash(saved), filepath.ToSlash(saved), filepath.ToSlash(s.dir()))
	return nil
}

// A fileChange is how one of the exercise's files differs from the starter
// as shipped.
type fileChange struct {
	name          string
	mine, shipped []byte // nil: the file does not exist there
	added, gone   int    // lines: yours that reset removes, the starter's that it brings back
}

// summary describes the change in a few words.
func (c fileChange) summary() string {
	switch {
	case c.shipped == nil:
		return fmt.Sprintf("yours, not the kata's: deleted (%s)", plural(c.added, "line"))
	case c.mine == nil:
		return fmt.Sprintf("missing: restored (%s)", plural(c.gone, "line"))
	}
	return fmt.Sprintf("changed: %s of yours discarded, %s restored", plural(c.added, "line"), plural(c.gone, "line"))
}

// resetChanges compares the exercise's non-test .go files on disk with
// those shipped, at rev, and returns those that differ, by name.
func resetChanges(s step, rev string, shipped []string) ([]fileChange, error) {
	mine, err := goFiles(s.repo, s.dir())
	if err != nil {
		return nil, err
	}
	var changes []fileChange
	for _, name := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(mine), shipped...)))) {
		c := fileChange{name: name}
		if slices.Contains(mine, name) {
			if c.mine, err = os.ReadFile(filepath.Join(s.repo.root, s.dir(), name)); err != nil {
				return nil, fmt.Errorf("read %s: %w", filepath.Join(s.dir(), name), err)
			}
		}
		if slices.Contains(shipped, name) {
			if c.shipped, err = s.shippedFileAt(rev, name); err != nil {
				return nil, err
			}
		}
		if c.mine != nil && c.shipped != nil && string(c.mine) == string(c.shipped) {
			continue
		}
		for _, h := range unifiedDiff(splitLines(string(c.mine)), splitLines(string(c.shipped)), 0) {
			for _, line := range h.lines {
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

// saveChanges copies the learner's versions of the changed files into
// .kata/reset/NN-name-TIME/ (ignored by git), so nothing is lost for good,
// and returns that directory, relative to the root.
func saveChanges(s step, changes []fileChange) (string, error) {
	base := filepath.Join(".kata", "reset", s.name+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(filepath.Join(s.repo.root, ".kata", "reset"), 0o755); err != nil {
		return "", fmt.Errorf("keep your version: %w", err)
	}
	// A second reset within the same second keeps its own copy.
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(filepath.Join(s.repo.root, dir), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("keep your version: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	for _, c := range changes {
		if c.mine == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(s.repo.root, dir, c.name), c.mine, 0o644); err != nil {
			return "", fmt.Errorf("keep your version: %w", err)
		}
	}
	return dir, nil
}

// yes reads an answer from r and reports whether it is yes.
func yes(r io.Reader) bool {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

// terminal reports whether f is a terminal someone can answer from: a
// character device, but not the null device.
func terminal(f *os.File) bool {
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(info, null)
}
