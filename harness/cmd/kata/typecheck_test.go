package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTypeCheck proves that the type-check for other platforms catches what
// would not compile there, and only there: each case is a tiny module that
// builds on Linux.
func TestTypeCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	const okGo = "package m\n\nfunc F() int { return 1 }\n"
	tests := []struct {
		name    string
		files   map[string]string // beside ok.go
		overlay map[string]string // file → what the overlay puts in its place
		want    map[string][]string
	}{
		{
			name:  "clean",
			files: map[string]string{"m_test.go": "package m\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { _ = F() }\n"},
			want:  map[string][]string{},
		},
		{
			name:  "windows-only file",
			files: map[string]string{"w_windows.go": "//go:build windows\n\npackage m\n\nvar _ = undefinedOnWindows\n"},
			want:  map[string][]string{"windows": {"w_windows.go:5:9: undefined: undefinedOnWindows"}},
		},
		{
			name:  "unix-only call in every build",
			files: map[string]string{"limit.go": "package m\n\nimport \"syscall\"\n\nfunc limit() error {\n\tvar r syscall.Rlimit\n\treturn syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)\n}\n"},
			want: map[string][]string{"windows": {
				"limit.go:6:16: undefined: syscall.Rlimit",
				"limit.go:7:17: undefined: syscall.Getrlimit",
				"limit.go:7:35: undefined: syscall.RLIMIT_NOFILE",
			}},
		},
		{
			name:  "darwin-only test",
			files: map[string]string{"d_darwin_test.go": "package m\n\nfunc d() string { return F() }\n"},
			want:  map[string][]string{"darwin": {"d_darwin_test.go:3:26: cannot use F() (value of type int) as string value in return statement"}},
		},
		{
			name:  "linux-only function in the external test package",
			files: map[string]string{"x_test.go": "package m_test\n\nimport \"syscall\"\n\nvar _ = syscall.Sysinfo\n"},
			want: map[string][]string{
				"darwin":  {"x_test.go:5:17: undefined: syscall.Sysinfo"},
				"windows": {"x_test.go:5:17: undefined: syscall.Sysinfo"},
			},
		},
		{
			name: "import with no files for the platform",
			files: map[string]string{
				"uses.go":         "package m\n\nimport _ \"example.com/m/unix\"\n",
				"unix/unix.go":    "//go:build unix\n\npackage unix\n",
				"unix/unix_x.go":  "//go:build unix\n\npackage unix\n\nconst X = 1\n",
				"unix/README.txt": "only for unix\n",
			},
			want: map[string][]string{"windows": {"package example.com/m/unix: build constraints exclude all Go files in"}},
		},
		{
			name: "import cycle",
			files: map[string]string{
				"a/a.go": "package a\n\nimport _ \"example.com/m/b\"\n",
				"b/b.go": "package b\n\nimport _ \"example.com/m/a\"\n",
			},
			want: map[string][]string{
				"darwin":  {"package example.com/m/a: import cycle not allowed"},
				"windows": {"package example.com/m/a: import cycle not allowed"},
			},
		},
		{
			name:    "the overlay is what is checked",
			files:   map[string]string{"w_windows.go": "//go:build windows\n\npackage m\n\nvar _ = F()\n"},
			overlay: map[string]string{"w_windows.go": "//go:build windows\n\npackage m\n\nvar _ string = F()\n"},
			want:    map[string][]string{"windows": {"w_windows.go:5:16: cannot use F() (value of type int) as string value in variable declaration"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"go.mod": "module example.com/m\n\ngo 1.26\n", "ok.go": okGo}
			for name, src := range tt.files {
				files[name] = src
			}
			for name, src := range files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			overlay := ""
			if tt.overlay != nil {
				replace := make(map[string]string)
				for name, src := range tt.overlay {
					alt := filepath.Join(t.TempDir(), filepath.Base(name))
					if err := os.WriteFile(alt, []byte(src), 0o644); err != nil {
						t.Fatal(err)
					}
					replace[filepath.Join(dir, name)] = alt
				}
				var err error
				if overlay, err = writeReplace(replace, filepath.Join(t.TempDir(), "overlay.json")); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range crossPlatforms {
				got, err := typeCheck(dir, p, "", overlay, []string{"./..."})
				if err != nil {
					t.Fatalf("%s: %v", p.goos, err)
				}
				want := tt.want[p.goos]
				if !matches(got, want) {
					t.Errorf("for %s/%s it says:\n%s\nwant lines starting with:\n%s",
						p.goos, p.goarch, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

// matches reports whether each line of got starts with the line of want at
// the same place.
func matches(got, want []string) bool {
	return slices.EqualFunc(got, want, func(g, w string) bool { return strings.HasPrefix(g, w) })
}
