package learn

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/udiff"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunDiff shows the learner's code against the reference solution as a
// unified diff: lines starting with - are the learner's, + the solution's.
// It succeeds whether or not they differ.
func RunDiff(args []string) error {
	fs := base.NewFlags("diff", "-step N")
	num := fs.String("step", "", "the step: 1 or 01")
	s, err := base.ParseStep(fs, num, args)
	if err != nil {
		return err
	}
	r := s.Repo
	mine, err := step.GoFiles(r, s.Dir())
	if err != nil {
		return err
	}
	theirs, err := step.GoFiles(r, s.SolutionDir())
	if err != nil {
		return err
	}
	names := slices.Compact(slices.Sorted(slices.Values(append(mine, theirs...))))

	st := term.StyleFor(os.Stdout)
	fmt.Printf("%s\n%s\n\n", st.Bold(s.Label()),
		st.Dim(fmt.Sprintf("your code (%s, -) against the reference solution (%s, +)", s.Dir(), s.SolutionDir())))
	if s.Unchanged() {
		fmt.Printf("%s\n\n", term.Wrap(fmt.Sprintf("Your code in %s is still the starter as the kata shipped it, so this diff is the whole lesson: "+
			"every change the step asks for. (make check STEP=%d shows what the suite measures; make hint STEP=%d gives a hint.)",
			s.Dir(), s.Num, s.Num), 76))
	}
	git, gitErr := exec.LookPath("git")
	same := true
	for _, name := range names {
		a, b := filepath.Join(s.Dir(), name), filepath.Join(s.SolutionDir(), name)
		if !slices.Contains(mine, name) {
			a = os.DevNull
		}
		if !slices.Contains(theirs, name) {
			b = os.DevNull
		}
		var differ bool
		if gitErr == nil {
			differ, err = gitDiff(r, git, a, b)
		} else {
			differ, err = plainDiff(r, st, a, b)
		}
		if err != nil {
			return err
		}
		same = same && !differ
	}
	if same {
		fmt.Println("Your code is the same as the reference solution.")
	}
	return nil
}

// gitDiff prints git's diff of two files and reports whether they differ.
func gitDiff(r step.Repo, git, a, b string) (bool, error) {
	cmd := exec.Command(git, "--no-pager", "diff", "--no-index", "--color=auto", "--", a, b)
	cmd.Dir = r.Root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return true, nil // git diff's way of saying the files differ
	}
	return false, fmt.Errorf("git diff %s %s: %w", a, b, err)
}

// plainDiff prints a unified diff of two files without git, and reports
// whether they differ.
func plainDiff(r step.Repo, st term.Style, a, b string) (bool, error) {
	read := func(name string) ([]byte, error) {
		if name == os.DevNull {
			return nil, nil
		}
		data, err := os.ReadFile(filepath.Join(r.Root, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return data, nil
	}
	x, err := read(a)
	if err != nil {
		return false, err
	}
	y, err := read(b)
	if err != nil {
		return false, err
	}
	hunks := udiff.UnifiedDiff(udiff.SplitLines(string(x)), udiff.SplitLines(string(y)), 3)
	if len(hunks) == 0 {
		return false, nil
	}
	fmt.Println(st.Bold("--- " + a))
	fmt.Println(st.Bold("+++ " + b))
	for _, h := range hunks {
		fmt.Println(st.Paint("36", h.Header()))
		for _, line := range h.Lines {
			switch line[0] {
			case '-':
				fmt.Println(st.Red(line))
			case '+':
				fmt.Println(st.Green(line))
			default:
				fmt.Println(line)
			}
		}
	}
	return true, nil
}
