package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// typeCheck type-checks packages (patterns for go list, run in dir) and
// their tests as they are built for platform p with tags, from source,
// with go/types: the go command lists the files a build would compile,
// and nothing is compiled. Dependencies outside dir's module are checked
// without their function bodies, which is all their importers need of
// them; the module's own packages are checked whole. It returns what is
// wrong, one "file:line:col: message" line each (files relative to dir
// where they are inside it), or an error if the go command could not list
// the packages at all.
//
// It stands in for go vet with GOOS and GOARCH set, which would compile
// the standard library and every dependency for the platform first: a
// minute of CPU per platform on a fresh machine, for a check that only
// needs the types.
//
// src holds the files, read through the overlay and parsed once for every
// platform checked with it: most of them are the same for all platforms
// (nats-server alone has 143,000 lines), and parsing is most of the work.
func typeCheck(src *sources, dir string, p platform, tags string, patterns []string) ([]string, error) {
	pkgs, err := listForCheck(dir, p, tags, src.overlay, patterns)
	if err != nil {
		return nil, err
	}
	c := &typeChecker{
		src:   src,
		sizes: types.SizesFor("gc", p.goarch),
		pkgs:  make(map[string]*listedPackage),
		sem:   make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)),
		seen:  make(map[string]bool),
	}
	if c.sizes == nil {
		return nil, fmt.Errorf("type-check for %s/%s: go/types knows no sizes for GOARCH=%s", p.goos, p.goarch, p.goarch)
	}
	for i, pkg := range pkgs {
		pkg.index = i
		pkg.done = make(chan struct{})
		c.pkgs[pkg.ImportPath] = pkg
	}
	var wg sync.WaitGroup
	for _, pkg := range pkgs {
		if pkg.Error != nil {
			msg := pkg.Error.Err
			path, _, _ := strings.Cut(pkg.ImportPath, " ") // not "p [p.test]": said once for both
			if pkg.Error.Pos == "" && !strings.Contains(msg, path) {
				msg = "package " + path + ": " + msg
			}
			c.report(pkg.Error.Pos, msg, dir)
		}
		wg.Go(func() { c.check(pkg, dir) })
	}
	wg.Wait()
	slices.Sort(c.problems)
	return c.problems, nil
}

// A listedPackage is what go list -json says of a package, and what
// typeCheck made of it.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	ImportMap  map[string]string
	Imports    []string
	Standard   bool
	Module     *struct {
		Path      string
		Main      bool
		GoVersion string
	}
	Error *struct {
		Pos string
		Err string
	}

	index int           // its place in go list's order: after what it imports
	done  chan struct{} // closed once types is set
	types *types.Package
}

// listForCheck lists patterns, their tests and every dependency of both
// for platform p, each package after those it imports. It leaves out the generated main packages of the test
// binaries, which hold nothing of the module's.
func listForCheck(dir string, p platform, tags, overlay string, patterns []string) ([]*listedPackage, error) {
	args := []string{"list", "-e", "-deps", "-test",
		"-json=ImportPath,Name,Dir,GoFiles,ImportMap,Imports,Standard,Module,Error"}
	if tags != "" {
		args = append(args, "-tags="+tags)
	}
	if overlay != "" {
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+p.goos, "GOARCH="+p.goarch, "CGO_ENABLED=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("GOOS=%s GOARCH=%s go list: %w: %s", p.goos, p.goarch, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []*listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		pkg := new(listedPackage)
		if err := dec.Decode(pkg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("GOOS=%s GOARCH=%s go list: read its output: %w", p.goos, p.goarch, err)
		}
		if pkg.Name == "main" && strings.HasSuffix(pkg.ImportPath, ".test") {
			continue
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}

// sources are Go files parsed once for several type-checks (see typeCheck),
// read through an overlay.
type sources struct {
	fset    *token.FileSet
	overlay string            // the overlay file, for go list ("" for none)
	replace map[string]string // the overlay: file on disk → file read instead

	mu    sync.Mutex
	files map[string]*sourceFile // by path on disk
}

// A sourceFile is one file of sources, parsed on first use.
type sourceFile struct {
	once sync.Once
	f    *ast.File // nil if it could not be read
	err  error     // why it could not be read or parsed; f may still be partial
}

// newSources returns an empty set of sources read through overlay (a file
// for go build's -overlay, or "" for none).
func newSources(overlay string) (*sources, error) {
	replace, err := readOverlay(overlay)
	if err != nil {
		return nil, err
	}
	return &sources{fset: token.NewFileSet(), overlay: overlay, replace: replace, files: make(map[string]*sourceFile)}, nil
}

// parse returns the file at path, parsed, through the overlay: the same
// *ast.File to every caller, which go/types only reads.
func (s *sources) parse(path string) (*ast.File, error) {
	s.mu.Lock()
	sf := s.files[path]
	if sf == nil {
		sf = new(sourceFile)
		s.files[path] = sf
	}
	s.mu.Unlock()
	sf.once.Do(func() {
		read := path
		if alt, ok := s.replace[path]; ok && alt != "" {
			read = alt
		}
		src, err := os.ReadFile(read)
		if err != nil {
			sf.err = err
			return
		}
		sf.f, sf.err = parser.ParseFile(s.fset, path, src, parser.SkipObjectResolution)
	})
	return sf.f, sf.err
}

// readOverlay reads the Replace map of an overlay file for go build's
// -overlay ("" for none).
func readOverlay(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the overlay: %w", err)
	}
	var o struct{ Replace map[string]string }
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("read the overlay %s: %w", path, err)
	}
	return o.Replace, nil
}

// A typeChecker type-checks listed packages, each once its imports are.
type typeChecker struct {
	src   *sources
	sizes types.Sizes
	pkgs  map[string]*listedPackage // by import path, as go list resolved it
	sem   chan struct{}             // bounds how many packages are checked at once

	mu       sync.Mutex
	problems []string
	seen     map[string]bool
}

// check type-checks pkg, once every package it imports is, and reports
// what is wrong with it; dir is the module's root.
func (c *typeChecker) check(pkg *listedPackage, dir string) {
	defer close(pkg.done)
	for _, imp := range pkg.Imports {
		if dep := c.before(pkg, imp); dep != nil {
			<-dep.done
		}
	}
	if pkg.ImportPath == "unsafe" {
		pkg.types = types.Unsafe
		return
	}
	c.sem <- struct{}{}
	defer func() { <-c.sem }()

	own := pkg.Module != nil && pkg.Module.Main
	var files []*ast.File
	for _, name := range pkg.GoFiles {
		f, err := c.src.parse(filepath.Join(pkg.Dir, name))
		if err != nil {
			var list scanner.ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					c.report(e.Pos.String(), e.Msg, dir)
				}
			} else {
				c.report("", err.Error(), dir)
			}
		}
		if f != nil {
			files = append(files, f)
		}
	}
	conf := types.Config{
		Importer:         importerFunc(func(path string) (*types.Package, error) { return c.imported(pkg, path) }),
		Sizes:            c.sizes,
		IgnoreFuncBodies: !own,
		Error: func(err error) {
			var te types.Error
			if errors.As(err, &te) {
				if te.Soft && !own {
					return // an unused import, say, where bodies go unchecked
				}
				if c.reportedImport(pkg, te.Msg) {
					return
				}
				c.report(c.src.fset.Position(te.Pos).String(), te.Msg, dir)
				return
			}
			c.report("", err.Error(), dir)
		},
	}
	if pkg.Module != nil && pkg.Module.GoVersion != "" {
		conf.GoVersion = "go" + pkg.Module.GoVersion
	}
	path, _, _ := strings.Cut(pkg.ImportPath, " ") // "p [p.test]" is p, with its tests
	pkg.types, _ = conf.Check(path, c.src.fset, files, nil)
}

// imported returns the package that pkg's import of path stands for.
func (c *typeChecker) imported(pkg *listedPackage, path string) (*types.Package, error) {
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	if mapped, ok := pkg.ImportMap[path]; ok {
		path = mapped
	}
	dep := c.before(pkg, path)
	if dep == nil || dep.types == nil {
		return nil, fmt.Errorf("package %s is not known to go list", path)
	}
	return dep.types, nil
}

// before returns the listed package of import path (as resolved) if go list
// put it before pkg, as it does what pkg imports; nil otherwise. Waiting only
// for those cannot deadlock, even on an import cycle (which go list reports).
func (c *typeChecker) before(pkg *listedPackage, path string) *listedPackage {
	if dep := c.pkgs[path]; dep != nil && dep.index < pkg.index {
		return dep
	}
	return nil
}

// reportedImport reports whether msg is the type-checker's complaint about
// an import of pkg that go list already found wrong (and said why).
func (c *typeChecker) reportedImport(pkg *listedPackage, msg string) bool {
	path, ok := strings.CutPrefix(msg, "could not import ")
	if !ok {
		return false
	}
	path, _, _ = strings.Cut(path, " ")
	if mapped, ok := pkg.ImportMap[path]; ok {
		path = mapped
	}
	dep := c.pkgs[path]
	return dep != nil && dep.Error != nil
}

// report records a problem at pos ("file:line:col", or "" if it has none),
// once: a package and its test variant share their files, and so their
// mistakes.
func (c *typeChecker) report(pos, msg, dir string) {
	if pos != "" {
		if rel, err := filepath.Rel(dir, pos); err == nil && !strings.HasPrefix(rel, "..") {
			pos = rel
		}
		msg = pos + ": " + msg
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[msg] {
		return
	}
	c.seen[msg] = true
	c.problems = append(c.problems, msg)
}

// importerFunc makes a function a types.Importer.
type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
