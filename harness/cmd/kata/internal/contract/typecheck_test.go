package contract

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// TestTypeCheck proves that the type-check for other platforms catches what
// would not compile there, and only there. Each case is a package of one
// module that builds on Linux, in its own directory (the case's name), so
// that one type-check per platform serves every case.
func TestTypeCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	tests := []struct {
		name    string
		files   map[string]string // in the case's directory
		overlay map[string]string // file → what the overlay puts in its place
		want    map[string][]string
	}{
		{
			name: "clean",
			files: map[string]string{
				"ok.go":      "package clean\n\nfunc F() int { return 1 }\n",
				"ok_test.go": "package clean\n\nvar _ = F()\n",
			},
		},
		{
			name:  "windowsonly",
			files: map[string]string{"w_windows.go": "//go:build windows\n\npackage windowsonly\n\nvar _ = undefinedOnWindows\n"},
			want:  map[string][]string{"windows": {"windowsonly/w_windows.go:5:9: undefined: undefinedOnWindows"}},
		},
		{
			name:  "unixcall",
			files: map[string]string{"limit.go": "package unixcall\n\nimport \"syscall\"\n\nfunc limit() error {\n\tvar r syscall.Rlimit\n\treturn syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)\n}\n"},
			want: map[string][]string{"windows": {
				"unixcall/limit.go:6:16: undefined: syscall.Rlimit",
				"unixcall/limit.go:7:17: undefined: syscall.Getrlimit",
				"unixcall/limit.go:7:35: undefined: syscall.RLIMIT_NOFILE",
			}},
		},
		{
			name: "darwintest",
			files: map[string]string{
				"d.go":             "package darwintest\n\nfunc F() int { return 1 }\n",
				"d_darwin_test.go": "package darwintest\n\nfunc d() string { return F() }\n",
			},
			want: map[string][]string{"darwin": {"darwintest/d_darwin_test.go:3:26: cannot use F() (value of type int) as string value in return statement"}},
		},
		{
			name: "xtest",
			files: map[string]string{
				"x.go":      "package xtest\n",
				"x_test.go": "package xtest_test\n\nimport \"syscall\"\n\nvar _ = syscall.Sysinfo\n",
			},
			want: map[string][]string{
				"darwin":  {"xtest/x_test.go:5:17: undefined: syscall.Sysinfo"},
				"windows": {"xtest/x_test.go:5:17: undefined: syscall.Sysinfo"},
			},
		},
		{
			name: "nofiles",
			files: map[string]string{
				"uses.go":      "package nofiles\n\nimport _ \"example.com/m/nofiles/unix\"\n",
				"unix/unix.go": "//go:build unix\n\npackage unix\n\nconst X = 1\n",
			},
			want: map[string][]string{"windows": {"package example.com/m/nofiles/unix: build constraints exclude all Go files in"}},
		},
		{
			name: "cycle",
			files: map[string]string{
				"a/a.go": "package a\n\nimport _ \"example.com/m/cycle/b\"\n",
				"b/b.go": "package b\n\nimport _ \"example.com/m/cycle/a\"\n",
			},
			want: map[string][]string{
				"darwin":  {"package example.com/m/cycle/a: import cycle not allowed"},
				"windows": {"package example.com/m/cycle/a: import cycle not allowed"},
			},
		},
		{
			name:    "overlay",
			files:   map[string]string{"o.go": "package overlay\n\nfunc F() int { return 1 }\n", "o_windows.go": "package overlay\n\nvar _ = F()\n"},
			overlay: map[string]string{"o_windows.go": "package overlay\n\nvar _ string = F()\n"},
			want:    map[string][]string{"windows": {"overlay/o_windows.go:3:16: cannot use F() (value of type int) as string value in variable declaration"}},
		},
	}
	dir := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "go.mod"), "module example.com/m\n\ngo 1.26\n")
	replace := make(map[string]string)
	for _, tt := range tests {
		for name, src := range tt.files {
			write(filepath.Join(dir, tt.name, name), src)
		}
		for name, src := range tt.overlay {
			alt := filepath.Join(dir, "overlaid", tt.name, name)
			write(alt, src)
			replace[filepath.Join(dir, tt.name, name)] = alt
		}
	}
	overlay, err := step.WriteReplace(replace, filepath.Join(dir, "overlay.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for _, tt := range tests {
		pkgs = append(pkgs, "./"+tt.name+"/...")
	}
	src, err := newSources(overlay)
	if err != nil {
		t.Fatal(err)
	}
	said := make(map[string][]string)
	for _, p := range crossPlatforms {
		if said[p.goos], err = typeCheck(src, dir, p, "", pkgs); err != nil {
			t.Fatalf("%s: %v", p.goos, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range crossPlatforms {
				var got []string
				for _, line := range said[p.goos] {
					if strings.HasPrefix(line, tt.name+string(filepath.Separator)) || strings.HasPrefix(line, "package example.com/m/"+tt.name+"/") {
						got = append(got, line)
					}
				}
				want := tt.want[p.goos]
				if !slices.EqualFunc(got, want, strings.HasPrefix) {
					t.Errorf("for %s/%s it says:\n%s\nwant lines starting with:\n%s",
						p.goos, p.goarch, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}
