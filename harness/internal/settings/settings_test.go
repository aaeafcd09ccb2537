package settings

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDeclaredOnce keeps what the table says and what people read in
// step: the Makefile passes every setting but a Secret, make help and the
// README's make serve line name each one, and no name is taken twice.
func TestDeclaredOnce(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	makefile, readme := read("Makefile"), read("README.md")

	m := regexp.MustCompile(`(?m)^serve-settings := (.*)$`).FindStringSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no serve-settings list: make serve would pass no setting on")
	}
	passed := strings.Fields(m[1])
	var want []string
	seen := make(map[string]bool)
	for _, s := range All() {
		for _, name := range []string{"make " + s.Make, "flag " + s.Flag, "env " + s.Env} {
			if !strings.HasSuffix(name, " ") && seen[name] {
				t.Errorf("%s is declared twice", name)
			}
			seen[name] = true
		}
		if s.Kind != Secret {
			want = append(want, s.Make)
		}
		if !strings.Contains(makefile, "["+s.Make+"=") {
			t.Errorf("make help does not name %s: add [%s=…] to the make serve lines of the help target", s.Make, s.Make)
		}
		serveLine := regexp.MustCompile("(?m)^\\| `make serve .*$").FindString(readme)
		if !strings.Contains(serveLine, "["+s.Make+"=") {
			t.Errorf("the README's make serve line does not name %s", s.Make)
		}
	}
	if !slices.Equal(passed, want) {
		t.Errorf("the Makefile's serve-settings are %v, want %v (harness/internal/settings, less the secrets, in its order)", passed, want)
	}
}

func TestByMake(t *testing.T) {
	if s, err := ByMake("DB"); err != nil || s.Flag != "db" {
		t.Errorf(`ByMake("DB") = %+v, %v; want the db setting`, s, err)
	}
	if _, err := ByMake("DBB"); err == nil || !strings.Contains(err.Error(), "ADDR, WORKERS") {
		t.Errorf(`ByMake("DBB") = %v, want an error that lists the settings`, err)
	}
}
