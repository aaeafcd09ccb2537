package udiff

import (
	"slices"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	a := strings.Split("a b c d e f g h i j k l m", " ")
	b := strings.Split("a b c D e f g h i j k l m n", " ")
	var got []string
	for _, h := range UnifiedDiff(a, b, 3) {
		got = append(got, h.Header())
		got = append(got, h.Lines...)
	}
	want := []string{
		"@@ -1,7 +1,7 @@", " a", " b", " c", "-d", "+D", " e", " f", " g",
		"@@ -11,3 +11,4 @@", " k", " l", " m", "+n",
	}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h := UnifiedDiff(a, a, 3); len(h) != 0 {
		t.Errorf("diff of equal files has %d hunks, want 0", len(h))
	}
	if h := UnifiedDiff(nil, []string{"x"}, 3); len(h) != 1 || h[0].Header() != "@@ -0,0 +1 @@" {
		t.Errorf("diff of a new file = %+v, want one hunk @@ -0,0 +1 @@", h)
	}
}
