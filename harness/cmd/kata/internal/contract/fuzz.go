package contract

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunFuzz fuzzes the OCPP codec for a while: each fuzz target of
// harness/ocpp in turn, fuzztime each. It is not part of make test:
// building for the fuzzer instruments every package anew, which costs more
// than a step's suite, and make test must stay within CI's budget. The
// targets' seed corpora run with the harness tests in make test.
func RunFuzz(args []string) error {
	fs := base.NewFlags("fuzz", "[-fuzztime D]")
	fuzztime := fs.Duration("fuzztime", 30*time.Second, "how long to fuzz each of harness/ocpp's fuzz targets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	targets, err := fuzzTargets(r)
	if err != nil {
		return err
	}
	st := term.StyleFor(os.Stdout)
	fmt.Printf("%s fuzzing harness/ocpp's %s for %v each (the build for the fuzzer takes a while first)\n",
		st.Bold("kata fuzz:"), strings.Join(targets, ", "), *fuzztime)
	var t tally
	for _, target := range targets {
		t.add(checkFuzz(r, st, target, *fuzztime, len("FuzzUnmarshalFast")))
	}
	for _, b := range t.breaches {
		fmt.Printf("  %s %s\n", st.Red("✗"), term.IndentAfterFirst(b.what, "    "))
		fmt.Printf("    %s %s\n", st.Dim("what to do:"), term.IndentAfterFirst(b.todo, "      "))
	}
	fmt.Printf("%d passed, %d failed\n", t.passed, t.failed)
	if t.failed > 0 {
		return base.ErrFailed
	}
	return nil
}

// fuzzTargets lists harness/ocpp's fuzz targets, so that a new one is
// fuzzed without a word here.
func fuzzTargets(r step.Repo) ([]string, error) {
	cmd := exec.Command("go", "test", "-list", "^Fuzz", "./harness/ocpp")
	cmd.Dir = r.Root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list harness/ocpp's fuzz targets: %w", err)
	}
	var targets []string
	for _, line := range strings.Fields(string(out)) {
		if strings.HasPrefix(line, "Fuzz") {
			targets = append(targets, line)
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("harness/ocpp has no fuzz target: add FuzzDecode")
	}
	return targets, nil
}

// checkFuzz runs one fuzz target of harness/ocpp for fuzztime.
func checkFuzz(r step.Repo, st term.Style, target string, fuzztime time.Duration, width int) tally {
	var t tally
	st.Status(os.Stdout, fmt.Sprintf("fuzzing with %s for %v…", target, fuzztime))
	g := gotest.GoTest{
		Pkgs:    []string{"./harness/ocpp"},
		Timeout: fuzztime + 2*time.Minute,
		Flags:   []string{"-run=^$", "-fuzz=^" + target + "$", "-fuzztime=" + fuzztime.String()},
	}
	tr := g.Run(context.Background(), r)
	st.Clear(os.Stdout)
	p := tr.Only()
	fuzz := p.ByName[target]
	switch {
	case tr.Err != nil:
		t.breach(false, "the fuzz run could not start: "+tr.Err.Error(), "go test -run='^$' -fuzz="+target+" ./harness/ocpp")
	case tr.BuildFailed():
		t.breach(false, "harness/ocpp does not compile for fuzzing:\n"+strings.Join(gotest.CompilerLines(tr), "\n"), "fix the compiler's complaint")
	case fuzz == nil:
		t.breach(false, "harness/ocpp has no "+target+" to run", "go test -list ^Fuzz ./harness/ocpp lists the targets")
	case fuzz.Action == "pass":
		t.passed++
		fmt.Printf("%-*s  found nothing in %v%s  %s\n", width, target, fuzztime, execs(fuzz),
			st.Dim("("+term.Seconds(tr.Elapsed.Seconds())+")"))
		return t
	default:
		t.failed++
		t.breaches = append(t.breaches, breach{
			what: target + " found an input that breaks the codec:\n" +
				term.Indent(strings.Join(term.LimitLines(gotest.Messages(fuzz), 15, "go test ./harness/ocpp shows them all"), "\n"), "  "),
			todo: "the input is saved under harness/ocpp/testdata/fuzz/" + target + "/; go test ./harness/ocpp replays it",
		})
	}
	fmt.Printf("%-*s  %s\n", width, target, st.Red("failed"))
	return t
}

// execs returns ", 1234567 inputs" from a fuzz run's last progress line.
func execs(t *gotest.TestResult) string {
	for _, line := range slices.Backward(t.Output) {
		_, rest, ok := strings.Cut(line, "execs: ")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, " ")
		return " (" + n + " inputs)"
	}
	return ""
}
