package udiff

import (
	"strings"
	"testing"
)

const solutionFile = `package p

func work() {
	for req := range queue {
		handle(req)
	}
}
`

const samplePatch = `# The worker quits at the first failed call,
# and the pool shrinks for good.
# caught by: TestWorkersOutlive
--- server.go
+++ server.go
@@ -2,6 +2,8 @@
 
 func work() {
 	for req := range queue {
-		handle(req)
+		if handle(req) != nil {
+			return
+		}
 	}
 }
--- /dev/null
+++ extra.go
@@ -0,0 +1,2 @@
+package p
+// added
`

func TestParseAndApplyPatch(t *testing.T) {
	note, caughtBy, files, err := ParsePatch(samplePatch)
	if err != nil {
		t.Fatal(err)
	}
	if note != "The worker quits at the first failed call, and the pool shrinks for good." || caughtBy != "TestWorkersOutlive" {
		t.Errorf("note %q, caught by %q", note, caughtBy)
	}
	if len(files) != 2 || files[0].Name != "server.go" || files[0].IsNew || files[1].Name != "extra.go" || !files[1].IsNew {
		t.Fatalf("files = %+v, want server.go changed and extra.go new", files)
	}
	got, err := files[0].Apply(SplitLines(solutionFile))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(solutionFile, "\t\thandle(req)\n", "\t\tif handle(req) != nil {\n\t\t\treturn\n\t\t}\n", 1)
	if strings.Join(got, "\n")+"\n" != want {
		t.Errorf("applied:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	added, err := files[1].Apply(nil)
	if err != nil || strings.Join(added, "\n") != "package p\n// added" {
		t.Errorf("the new file: %q, %v", added, err)
	}
}

func TestPatchThatNoLongerApplies(t *testing.T) {
	_, _, files, err := ParsePatch(samplePatch)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(solutionFile, "handle(req)", "process(req)", 1)
	_, err = files[0].Apply(SplitLines(moved))
	if err == nil || !strings.Contains(err.Error(), "line 5") || !strings.Contains(err.Error(), "process(req)") {
		t.Errorf("applying to a solution that changed there: %v, want an error naming line 5 and what it holds now", err)
	}
}

func TestPatchAppliesWhereLinesMoved(t *testing.T) {
	_, _, files, err := ParsePatch(samplePatch)
	if err != nil {
		t.Fatal(err)
	}
	// Lines more above the hunk: the hunk moves with them.
	for _, moved := range []string{
		strings.Replace(solutionFile, "package p\n", "package p\n\n// Package p works.\n", 1),
		strings.Replace(solutionFile, "package p\n", "package p\n\nimport \"fmt\"\n\nvar _ = fmt.Print\n", 1),
	} {
		got, err := files[0].Apply(SplitLines(moved))
		if err != nil {
			t.Fatalf("applying where lines moved: %v", err)
		}
		if !strings.Contains(strings.Join(got, "\n"), "if handle(req) != nil {\n\t\t\treturn") {
			t.Errorf("applied where lines moved:\n%s", strings.Join(got, "\n"))
		}
	}
}

func TestParsePatchRefuses(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"no header", "--- a.go\n+++ a.go\n@@ -1 +1 @@\n-x\n+y\n"},
		{"no caught by", "# wrong\n--- a.go\n+++ a.go\n@@ -1 +1 @@\n-x\n+y\n"},
		{"no diff", "# wrong\n# caught by: TestX\n"},
		{"text before the diff", "# wrong\n# caught by: TestX\nhello\n--- a.go\n+++ a.go\n@@ -1 +1 @@\n-x\n+y\n"},
		{"a path", "# wrong\n# caught by: TestX\n--- a.go\n+++ ../b.go\n@@ -1 +1 @@\n-x\n+y\n"},
		{"a hunk cut short", "# wrong\n# caught by: TestX\n--- a.go\n+++ a.go\n@@ -1,2 +1,2 @@\n-x\n"},
		{"no hunk", "# wrong\n# caught by: TestX\n--- a.go\n+++ a.go\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := ParsePatch(tc.text); err == nil {
				t.Errorf("parsePatch accepted it")
			}
		})
	}
}
