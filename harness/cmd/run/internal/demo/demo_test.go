package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSpeedup(t *testing.T) {
	s := time.Second
	tests := []struct {
		name              string
		starter, solution time.Duration
		same              bool
		want              string
	}{
		{"solution much faster", 19 * s, 1900 * time.Millisecond, false, "10.0× faster"},
		{"solution slower", 2 * s, 3 * s, false, "1.5× slower"},
		{"noise", 1950 * time.Millisecond, 1900 * time.Millisecond, false, "about the same: the difference is measurement noise"},
		{"noise the other way", 1900 * time.Millisecond, 2300 * time.Millisecond, false, "about the same: the difference is measurement noise"},
		{"just beyond noise", 2 * s, 2500 * time.Millisecond, false, "1.2× slower"},
		{"the solution itself", 1900 * time.Millisecond, 1950 * time.Millisecond, true, "about the same, as expected: your code is the solution's"},
		{"the solution, but a slow run", 4 * s, 2 * s, true, "2.0× faster, though your code is the solution's: the machine was busy, try again"},
		{"no time at all", 0, 0, false, "about the same: the difference is measurement noise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := speedup(tt.starter, tt.solution, tt.same); got != tt.want {
				t.Errorf("speedup(%v, %v, %v) = %q, want %q", tt.starter, tt.solution, tt.same, got, tt.want)
			}
		})
	}
}

func TestStarterIsSolution(t *testing.T) {
	const code = "package x\n"
	tests := []struct {
		name     string
		exercise map[string]string
		solution map[string]string
		wantSame bool
	}{
		{"the same", map[string]string{"a.go": code, "b.go": code}, map[string]string{"a.go": code, "b.go": code}, true},
		{"tests aside", map[string]string{"a.go": code, "a_test.go": "package x // test\n"}, map[string]string{"a.go": code}, true},
		{"edited", map[string]string{"a.go": code + "// mine\n"}, map[string]string{"a.go": code}, false},
		{"a file more", map[string]string{"a.go": code, "b.go": code}, map[string]string{"a.go": code}, false},
		{"a file less", map[string]string{"a.go": code}, map[string]string{"a.go": code, "b.go": code}, false},
		{"no code", map[string]string{}, map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write := func(dir string, files map[string]string) {
				path := filepath.Join(root, dir, "01-x")
				if err := os.MkdirAll(path, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, text := range files {
					if err := os.WriteFile(filepath.Join(path, name), []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			write("exercises", tt.exercise)
			write("solutions", tt.solution)
			t.Chdir(root)
			if got := starterIsSolution("01-x"); got != tt.wantSame {
				t.Errorf("starterIsSolution() = %v, want %v", got, tt.wantSame)
			}
		})
	}
}

// checkText fails t for each of want that got lacks and each of unwanted
// that it has; what names got in the message ("the run's picture").
func checkText(t *testing.T, what, got string, want, unwanted []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(got, u) {
			t.Errorf("%s has %q, which it should not:\n%s", what, u, got)
		}
	}
}
