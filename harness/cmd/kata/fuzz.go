package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// runFuzz fuzzes the OCPP decoder for a while. It is not part of make test:
// building for the fuzzer instruments every package anew, which costs more
// than a step's suite, and make test must stay within CI's budget. Its seed
// corpus runs with the harness tests in make test.
func runFuzz(args []string) error {
	fs := newFlags("fuzz", "[-fuzztime D]")
	fuzztime := fs.Duration("fuzztime", 30*time.Second, "how long to fuzz the OCPP decoder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := findRepo()
	if err != nil {
		return err
	}
	st := styleFor(os.Stdout)
	fmt.Printf("%s fuzzing ocpp.Decode for %v (the build for the fuzzer takes a while first)\n", st.bold("kata fuzz:"), *fuzztime)
	t := checkFuzz(r, st, *fuzztime, len("fuzz"))
	if len(t.breaches) > 0 {
		for _, b := range t.breaches {
			fmt.Printf("  %s %s\n", st.red("✗"), indentAfterFirst(b.what, "    "))
			fmt.Printf("    %s %s\n", st.dim("what to do:"), indentAfterFirst(b.todo, "      "))
		}
	}
	fmt.Printf("%d passed, %d failed\n", t.passed, t.failed)
	if t.failed > 0 {
		return errFailed
	}
	return nil
}

// checkFuzz fuzzes the OCPP decoder for a short while.
func checkFuzz(r repo, st style, fuzztime time.Duration, width int) tally {
	var t tally
	st.status(os.Stdout, fmt.Sprintf("fuzzing ocpp.Decode for %v…", fuzztime))
	g := goTest{
		pkgs:    []string{"./harness/ocpp"},
		timeout: fuzztime + 2*time.Minute,
		flags:   []string{"-run=^$", "-fuzz=^FuzzDecode$", "-fuzztime=" + fuzztime.String()},
	}
	tr := g.run(context.Background(), r)
	st.clear(os.Stdout)
	p := tr.only()
	fuzz := p.byName["FuzzDecode"]
	switch {
	case tr.err != nil:
		t.breach(false, "the fuzz run could not start: "+tr.err.Error(), "go test -run='^$' -fuzz=FuzzDecode ./harness/ocpp")
	case tr.buildFailed():
		t.breach(false, "harness/ocpp does not compile for fuzzing:\n"+strings.Join(compilerLines(tr), "\n"), "fix the compiler's complaint")
	case fuzz == nil:
		t.breach(false, "harness/ocpp has no FuzzDecode to run", "add FuzzDecode to harness/ocpp")
	case fuzz.action == "pass":
		t.passed++
		fmt.Printf("%-*s  FuzzDecode found nothing in %v%s  %s\n", width, "fuzz", fuzztime, execs(fuzz),
			st.dim("("+seconds(tr.elapsed.Seconds())+")"))
		return t
	default:
		t.failed++
		t.breaches = append(t.breaches, breach{
			what: "FuzzDecode found an input that breaks ocpp.Decode:\n" +
				indent(strings.Join(limitLines(messages(fuzz), 15, "go test ./harness/ocpp shows them all"), "\n"), "  "),
			todo: "the input is saved under harness/ocpp/testdata/fuzz/FuzzDecode/; go test ./harness/ocpp replays it",
		})
	}
	fmt.Printf("%-*s  %s\n", width, "fuzz", st.red("FuzzDecode failed"))
	return t
}

// execs returns ", 1234567 inputs" from a fuzz run's last progress line.
func execs(t *testResult) string {
	for _, line := range slices.Backward(t.output) {
		_, rest, ok := strings.Cut(line, "execs: ")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, " ")
		return " (" + n + " inputs)"
	}
	return ""
}

// indent indents every line of text.
func indent(text, prefix string) string {
	text = strings.TrimRight(text, "\n")
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
