package contract

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/gotest"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunFuzz fuzzes the OCPP decoder for a while. It is not part of make test:
// building for the fuzzer instruments every package anew, which costs more
// than a step's suite, and make test must stay within CI's budget. Its seed
// corpus runs with the harness tests in make test.
func RunFuzz(args []string) error {
	fs := base.NewFlags("fuzz", "[-fuzztime D]")
	fuzztime := fs.Duration("fuzztime", 30*time.Second, "how long to fuzz the OCPP decoder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	st := term.StyleFor(os.Stdout)
	fmt.Printf("%s fuzzing ocpp.Decode for %v (the build for the fuzzer takes a while first)\n", st.Bold("kata fuzz:"), *fuzztime)
	t := checkFuzz(r, st, *fuzztime, len("fuzz"))
	if len(t.breaches) > 0 {
		for _, b := range t.breaches {
			fmt.Printf("  %s %s\n", st.Red("✗"), term.IndentAfterFirst(b.what, "    "))
			fmt.Printf("    %s %s\n", st.Dim("what to do:"), term.IndentAfterFirst(b.todo, "      "))
		}
	}
	fmt.Printf("%d passed, %d failed\n", t.passed, t.failed)
	if t.failed > 0 {
		return base.ErrFailed
	}
	return nil
}

// checkFuzz fuzzes the OCPP decoder for a short while.
func checkFuzz(r step.Repo, st term.Style, fuzztime time.Duration, width int) tally {
	var t tally
	st.Status(os.Stdout, fmt.Sprintf("fuzzing ocpp.Decode for %v…", fuzztime))
	g := gotest.GoTest{
		Pkgs:    []string{"./harness/ocpp"},
		Timeout: fuzztime + 2*time.Minute,
		Flags:   []string{"-run=^$", "-fuzz=^FuzzDecode$", "-fuzztime=" + fuzztime.String()},
	}
	tr := g.Run(context.Background(), r)
	st.Clear(os.Stdout)
	p := tr.Only()
	fuzz := p.ByName["FuzzDecode"]
	switch {
	case tr.Err != nil:
		t.breach(false, "the fuzz run could not start: "+tr.Err.Error(), "go test -run='^$' -fuzz=FuzzDecode ./harness/ocpp")
	case tr.BuildFailed():
		t.breach(false, "harness/ocpp does not compile for fuzzing:\n"+strings.Join(gotest.CompilerLines(tr), "\n"), "fix the compiler's complaint")
	case fuzz == nil:
		t.breach(false, "harness/ocpp has no FuzzDecode to run", "add FuzzDecode to harness/ocpp")
	case fuzz.Action == "pass":
		t.passed++
		fmt.Printf("%-*s  FuzzDecode found nothing in %v%s  %s\n", width, "fuzz", fuzztime, execs(fuzz),
			st.Dim("("+term.Seconds(tr.Elapsed.Seconds())+")"))
		return t
	default:
		t.failed++
		t.breaches = append(t.breaches, breach{
			what: "FuzzDecode found an input that breaks ocpp.Decode:\n" +
				term.Indent(strings.Join(term.LimitLines(gotest.Messages(fuzz), 15, "go test ./harness/ocpp shows them all"), "\n"), "  "),
			todo: "the input is saved under harness/ocpp/testdata/fuzz/FuzzDecode/; go test ./harness/ocpp replays it",
		})
	}
	fmt.Printf("%-*s  %s\n", width, "fuzz", st.Red("FuzzDecode failed"))
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
