package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
)

// runDiff shows the learner's code against the reference solution as a
// unified diff: lines starting with - are the learner's, + the solution's.
// It succeeds whether or not they differ.
func runDiff(args []string) error {
	fs := newFlags("diff", "-step N")
	num := fs.String("step", "", "the step: 1 or 01")
	s, err := parseStep(fs, num, args)
	if err != nil {
		return err
	}
	r := s.repo
	mine, err := goFiles(r, s.dir())
	if err != nil {
		return err
	}
	theirs, err := goFiles(r, s.solutionDir())
	if err != nil {
		return err
	}
	names := slices.Compact(slices.Sorted(slices.Values(append(mine, theirs...))))

	st := styleFor(os.Stdout)
	fmt.Printf("%s\n%s\n\n", st.bold(s.label()),
		st.dim(fmt.Sprintf("your code (%s, -) against the reference solution (%s, +)", s.dir(), s.solutionDir())))
	if s.unchanged() {
		fmt.Printf("%s\n\n", wrap(fmt.Sprintf("Your code in %s is still the starter as the kata shipped it, so this diff is the whole lesson: "+
			"every change the step asks for. (make check STEP=%d shows what the suite measures; make hint STEP=%d gives a hint.)",
			s.dir(), s.num, s.num), 76))
	}
	git, gitErr := exec.LookPath("git")
	same := true
	for _, name := range names {
		a, b := filepath.Join(s.dir(), name), filepath.Join(s.solutionDir(), name)
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
func gitDiff(r repo, git, a, b string) (bool, error) {
	cmd := exec.Command(git, "--no-pager", "diff", "--no-index", "--color=auto", "--", a, b)
	cmd.Dir = r.root
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
func plainDiff(r repo, st style, a, b string) (bool, error) {
	read := func(name string) ([]byte, error) {
		if name == os.DevNull {
			return nil, nil
		}
		data, err := os.ReadFile(filepath.Join(r.root, name))
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
	hunks := unifiedDiff(splitLines(string(x)), splitLines(string(y)), 3)
	if len(hunks) == 0 {
		return false, nil
	}
	fmt.Println(st.bold("--- " + a))
	fmt.Println(st.bold("+++ " + b))
	for _, h := range hunks {
		fmt.Println(st.paint("36", h.header()))
		for _, line := range h.lines {
			switch line[0] {
			case '-':
				fmt.Println(st.red(line))
			case '+':
				fmt.Println(st.green(line))
			default:
				fmt.Println(line)
			}
		}
	}
	return true, nil
}
