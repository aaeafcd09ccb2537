package learn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunReset puts a step's starter back as the kata shipped it (its non-test
// .go files as committed upstream, or at HEAD; see AsShipped), after showing
// what that discards and asking, unless -force.
func RunReset(args []string) error {
	fs := base.NewFlags("reset", "-step N [-force]")
	num := fs.String("step", "", "the step to reset: 1 or 01")
	force := fs.Bool("force", false, "discard your changes without asking")
	s, err := base.ParseStep(fs, num, args)
	if err != nil {
		return err
	}
	rev, about := s.AsShipped()
	shipped, err := s.ShippedFilesAt(rev)
	if err != nil {
		return fmt.Errorf("cannot reset %s: %w; the starter as the kata ships it comes from git (a fresh clone has it)", s.Dir(), err)
	}
	changes, err := step.ResetChanges(s, rev, shipped)
	if err != nil {
		return err
	}
	st := term.StyleFor(os.Stdout)
	if len(changes) == 0 {
		fmt.Printf("%s is the starter as the kata shipped it (%s): nothing to reset.\n", s.Dir(), about)
		return nil
	}
	fmt.Printf("%s\nmake reset puts back the starter as the kata shipped it (%s), discarding your changes:\n", st.Bold(s.Label()), about)
	for _, c := range changes {
		fmt.Printf("  %-20s %s\n", c.Name, c.Summary())
	}
	if !*force {
		fmt.Println(st.Dim("(git diff " + rev + " -- " + filepath.ToSlash(s.Dir()) + " shows them line by line)"))
		if !terminal(os.Stdin) {
			fmt.Printf("%s there is no terminal to ask whether to discard them: make reset STEP=%d FORCE=1 discards them without asking.\n",
				st.Red("Nothing reset:"), s.Num)
			return base.ErrFailed
		}
		fmt.Print("Discard these changes? [y/N] ")
		if !Yes(os.Stdin) {
			fmt.Println("Nothing reset.")
			return nil
		}
	}
	saved, err := saveChanges(s, changes)
	if err != nil {
		return err
	}
	for _, c := range changes {
		path := filepath.Join(s.Repo.Root, s.Dir(), c.Name)
		if c.Shipped == nil {
			err = os.Remove(path)
		} else {
			err = os.WriteFile(path, c.Shipped, 0o644)
		}
		if err != nil {
			return fmt.Errorf("reset %s: %w", filepath.Join(s.Dir(), c.Name), err)
		}
	}
	fmt.Printf("%s %s is the starter again. Your version is kept in %s: cp %s/*.go %s/ brings it back.\n",
		st.Green("Done:"), s.Dir(), filepath.ToSlash(saved), filepath.ToSlash(saved), filepath.ToSlash(s.Dir()))
	return nil
}

// saveChanges copies the learner's versions of the changed files into
// .kata/reset/NN-name-TIME/ (ignored by git), so nothing is lost for good,
// and returns that directory, relative to the root.
func saveChanges(s step.Step, changes []step.FileChange) (string, error) {
	base := filepath.Join(".kata", "reset", s.Name+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(filepath.Join(s.Repo.Root, ".kata", "reset"), 0o755); err != nil {
		return "", fmt.Errorf("keep your version: %w", err)
	}
	// A second reset within the same second keeps its own copy.
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(filepath.Join(s.Repo.Root, dir), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("keep your version: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	for _, c := range changes {
		if c.Mine == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(s.Repo.Root, dir, c.Name), c.Mine, 0o644); err != nil {
			return "", fmt.Errorf("keep your version: %w", err)
		}
	}
	return dir, nil
}

// Yes reads an answer from r and reports whether it is yes.
func Yes(r io.Reader) bool {
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
