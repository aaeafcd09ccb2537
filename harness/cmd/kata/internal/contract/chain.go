package contract

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ocppkata/kata/harness/chain"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// judgeChain holds a step's starter to the chain of steps: the previous
// step's solution plus the lesson its step.json declares (harness/chain).
// starter is the starter as shipped (nil: as on disk); kata is every step,
// so that make test -step N finds the step before N. It returns what the
// step's line says of the chain, "" for the first step.
func judgeChain(t *tally, st term.Style, kata []step.Step, s step.Step, starter step.CodeSet) string {
	i := slices.IndexFunc(kata, func(o step.Step) bool { return o.Num == s.Num })
	if i <= 0 {
		return ""
	}
	prev := kata[i-1]
	starterDir := filepath.Join(s.Repo.Root, s.Dir())
	for _, path := range starter {
		starterDir = filepath.Dir(path) // ShippedStarter writes a step's files in one directory
		break
	}
	diffs, err := chain.Compare(filepath.Join(s.Repo.Root, prev.SolutionDir()), starterDir, s.Meta.Lesson)
	if err != nil {
		t.breach(false, fmt.Sprintf("%s: the chain from %s could not be checked: %v", s.Name, filepath.ToSlash(prev.SolutionDir()), err),
			"fix the lesson in step.json, or the code that does not parse")
		return st.Red("chain unchecked")
	}
	if len(diffs) == 0 {
		t.passed++
		return "on the chain"
	}
	stepJSON := filepath.ToSlash(filepath.Join(s.Dir(), "step.json"))
	for _, d := range diffs {
		d.Starter.Dir, d.Solution.Dir = filepath.ToSlash(s.Dir()), filepath.ToSlash(prev.SolutionDir())
		var todo string
		switch d.Kind {
		case chain.Stale:
			todo = fmt.Sprintf("remove %q from the lesson in %s", d.Entry, stepJSON)
		default:
			field := "decls"
			if d.Kind == chain.FileOnlyInStarter || d.Kind == chain.FileOnlyInSolution {
				field = "files"
			}
			todo = fmt.Sprintf("if the lesson of %s makes this change, add %q to the lesson's %s in %s; "+
				"if not, make the two agree: a fix in %s is carried on by make carry STEP=%d, and a fix in the starter belongs in %s first",
				s.Name, d.Entry, field, stepJSON, filepath.ToSlash(prev.SolutionDir()), prev.Num, filepath.ToSlash(prev.SolutionDir()))
		}
		t.breach(false, d.String(), todo)
	}
	return st.Red(fmt.Sprintf("%s off the chain", term.Plural(len(diffs), "difference")))
}

// RunCarry carries a fix made in step N's solution through the steps after
// it (make carry STEP=N): for N→N+1, then N+1→N+2, … to the last step, it
// runs harness/chain's Carry and prints what it did, file by file, and any
// wrong turn of a changed solution that no longer applies. It stops after
// a step where something is left for the maintainer (a conflict, imports
// to check): the fix must be carried there by hand first, then make carry
// STEP=N+1 goes on.
func RunCarry(args []string) error {
	fs := base.NewFlags("carry", "-step N")
	num := fs.String("step", "", "the step whose solution has the fix")
	r, steps, err := base.ParseSteps(fs, args)
	if err != nil {
		return err
	}
	from, err := step.Find(r, *num)
	if err != nil {
		return err
	}
	st := term.StyleFor(os.Stdout)
	i := slices.IndexFunc(steps, func(s step.Step) bool { return s.Num == from.Num })
	if i == len(steps)-1 {
		fmt.Printf("step %02d is the last: there is no step to carry its fix into\n", from.Num)
		return nil
	}
	tmp, err := os.MkdirTemp("", "kata-carry-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	rel := func(dir string) string {
		if p, err := filepath.Rel(r.Root, dir); err == nil {
			return filepath.ToSlash(p)
		}
		return dir
	}
	changed := false
	for ; i+1 < len(steps); i++ {
		prev, next := steps[i], steps[i+1]
		if next.MetaErr != nil {
			return next.MetaErr
		}
		fmt.Printf("%s %s → %s, %s\n", st.Bold("carry:"), filepath.ToSlash(prev.SolutionDir()), filepath.ToSlash(next.Dir()), filepath.ToSlash(next.SolutionDir()))
		rep, err := chain.Carry(filepath.Join(r.Root, prev.SolutionDir()), filepath.Join(r.Root, next.Dir()),
			filepath.Join(r.Root, next.SolutionDir()), next.Meta.Lesson)
		if err != nil {
			return fmt.Errorf("carry %s into step %s: %w", filepath.ToSlash(prev.SolutionDir()), next.Name, err)
		}
		solutionChanged := false
		changed = changed || len(rep.Changes) > 0
		for _, c := range rep.Changes {
			c.Place.Dir = rel(c.Place.Dir)
			line := "  " + c.String()
			switch c.Action {
			case chain.Conflict, chain.ImportsToCheck:
				line = st.Red(line)
			default:
				solutionChanged = solutionChanged || c.Place.Dir == filepath.ToSlash(next.SolutionDir())
			}
			fmt.Println(line)
		}
		for _, d := range rep.Stale {
			d.Starter.Dir = filepath.ToSlash(next.Dir())
			fmt.Println(st.Yellow("  " + d.String()))
		}
		if len(rep.Changes) == 0 && len(rep.Stale) == 0 {
			fmt.Println(st.Dim("  nothing to carry"))
		}
		if solutionChanged {
			turns, err := next.WrongTurns()
			if err != nil {
				fmt.Println(st.Red("  " + err.Error()))
			}
			for _, w := range turns {
				if _, err := next.WrongCode(w, filepath.Join(tmp, next.Name, w.Name)); err != nil {
					fmt.Println(st.Red("  " + err.Error() + ": remake it (MAINTAINING.md, Adding things: a wrong turn)"))
				}
			}
		}
		if len(rep.Open()) > 0 {
			fmt.Printf("%s step %s: carry the fix by hand where it says so, then make carry STEP=%d to go on\n",
				st.Red("stopped at"), next.Name, next.Num)
			return base.ErrFailed
		}
	}
	if !changed {
		fmt.Println("nothing changed: every step after it already has the fix")
		return nil
	}
	fmt.Println("review it with git diff, then commit and run make test (make test STEP=N proves one step's contract first)")
	return nil
}
