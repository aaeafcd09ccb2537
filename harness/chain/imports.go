package chain

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// topLevelNames returns the names a package declares at top level, in all
// of its files (name to content).
func topLevelNames(dir string, files map[string][]byte) (map[string]bool, error) {
	names := make(map[string]bool)
	for name, src := range files {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), src, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("carry: the result does not parse: %w", err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						names[spec.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names, nil
}

// packageRefs returns the names f uses as packages: X of every X.Sel where
// Sel is exported and X is declared neither in the file (the parser
// resolves those to an object, as goimports relies on too) nor at the
// package's top level (pkgNames).
func packageRefs(f *ast.File, pkgNames map[string]bool) map[string]bool {
	refs := make(map[string]bool)
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Obj == nil && !pkgNames[x.Name] && ast.IsExported(sel.Sel.Name) {
			refs[x.Name] = true
		}
		return true
	})
	return refs
}

// importName returns the name an import gives its package in the file: its
// explicit name, else the name its path suggests ("rand" for math/rand/v2,
// "sqlite3" for github.com/ncruces/go-sqlite3), as goimports assumes it.
func importName(spec *ast.ImportSpec) string {
	if spec.Name != nil {
		return spec.Name.Name
	}
	p, _ := strconv.Unquote(spec.Path.Value)
	base := path.Base(p)
	if n, ok := strings.CutPrefix(base, "v"); ok {
		if _, err := strconv.Atoi(n); err == nil && path.Dir(p) != "." {
			base = path.Base(path.Dir(p))
		}
	}
	base = strings.TrimPrefix(base, "go-")
	if i := strings.IndexFunc(base, func(r rune) bool { return r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) }); i >= 0 {
		base = base[:i]
	}
	return base
}

// isStd reports whether an import path is the standard library's: its
// first element has no dot.
func isStd(importPath string) bool {
	first, _, _ := strings.Cut(importPath, "/")
	return !strings.Contains(first, ".")
}

// importSources returns the previous solution's files whose imports may
// give a package the carried code of file uses: the file of that name
// first, then the others.
func importSources(prev map[string]*source, file string) []*source {
	var srcs []*source
	if f := prev[file]; f != nil {
		srcs = append(srcs, f)
	}
	for _, name := range slices.Sorted(maps.Keys(prev)) {
		if name != file {
			srcs = append(srcs, prev[name])
		}
	}
	return srcs
}

// An importLine is an import spec as the file writes it: its text (doc
// comment and line comment included) and its path.
type importLine struct {
	text, path string
}

// settleImports makes an edited file's imports follow its code: an import
// the code used before the edit and no longer uses is removed, and a
// package the code now uses and nothing imports is imported as one of
// sources imports it. An import whose name Carry cannot tell is left
// alone: it was not seen in use before. It returns the file and what it
// did or could not do.
func settleImports(path string, before, after []byte, pkgNames map[string]bool, sources []*source) ([]byte, []Change, error) {
	oldFile, err := parser.ParseFile(token.NewFileSet(), path, before, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("carry: parse %w", err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, after, parser.ParseComments)
	if err != nil {
		return nil, nil, fmt.Errorf("carry: the result does not parse: %w", err)
	}
	usedBefore, used := packageRefs(oldFile, pkgNames), packageRefs(f, pkgNames)

	var changes []Change
	provided := make(map[string]bool)
	drop := make(map[*ast.ImportSpec]bool)
	for _, spec := range f.Imports {
		name := importName(spec)
		p, _ := strconv.Unquote(spec.Path.Value)
		if name != "_" && name != "." && p != "C" && usedBefore[name] && !used[name] {
			drop[spec] = true
			changes = append(changes, Change{Action: ImportRemoved, Entry: p})
			continue
		}
		provided[name] = true
	}
	var add []importLine
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if provided[name] {
			continue
		}
		spec := findImport(sources, name)
		if spec == nil {
			changes = append(changes, Change{Action: ImportsToCheck,
				Why: fmt.Sprintf("the code uses %s, which no import of the file or of the previous solution gives", name)})
			continue
		}
		p, _ := strconv.Unquote(spec.Path.Value)
		text := spec.Path.Value
		if spec.Name != nil {
			text = spec.Name.Name + " " + text
		}
		add = append(add, importLine{text: text, path: p})
		changes = append(changes, Change{Action: ImportAdded, Entry: p})
	}
	if len(drop) == 0 && len(add) == 0 {
		return after, changes, nil
	}

	var decls []*ast.GenDecl
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			decls = append(decls, g)
		}
	}
	if len(decls) > 1 {
		// Regrouping several declarations could lose what their layout
		// says; the maintainer settles them.
		var what []string
		for _, c := range changes {
			if c.Action != ImportsToCheck {
				what = append(what, fmt.Sprintf("%v %q", c.Action, c.Entry))
			}
		}
		changes = slices.DeleteFunc(changes, func(c Change) bool { return c.Action != ImportsToCheck })
		changes = append(changes, Change{Action: ImportsToCheck,
			Why: fmt.Sprintf("the file has %d import declarations; settle them by hand: %s", len(decls), strings.Join(what, ", "))})
		return after, changes, nil
	}

	tf := fset.File(f.Pos())
	groups := importGroups(after, tf, decls, drop)
	for _, imp := range add {
		i := slices.IndexFunc(groups, func(g []importLine) bool { return isStd(g[0].path) == isStd(imp.path) })
		switch {
		case i >= 0:
			groups[i] = append(groups[i], imp)
		case isStd(imp.path):
			groups = slices.Insert(groups, 0, []importLine{imp})
		default:
			groups = append(groups, []importLine{imp})
		}
	}
	var block strings.Builder
	switch n := len(slices.Concat(groups...)); {
	case n == 0:
	case n == 1 && (len(decls) == 0 || !decls[0].Lparen.IsValid()):
		block.WriteString("import " + groups[0][0].text + "\n")
	default:
		block.WriteString("import (\n")
		for i, g := range groups {
			if i > 0 {
				block.WriteString("\n")
			}
			for _, imp := range g {
				block.WriteString("\t" + imp.text + "\n")
			}
		}
		block.WriteString(")\n")
	}
	var start, end int
	if len(decls) == 0 {
		start = lineEnd(after, tf.Offset(f.Name.End()))
		end = start
		if block.Len() > 0 {
			return slices.Concat(after[:start], []byte("\n"+block.String()), after[end:]), changes, nil
		}
		return after, changes, nil
	}
	d := decls[0]
	start = lineStart(after, tf.Offset(d.Pos()))
	if d.Doc != nil {
		start = lineStart(after, tf.Offset(d.Doc.Pos()))
	}
	end = lineEnd(after, tf.Offset(d.End()))
	return slices.Concat(after[:start], []byte(block.String()), after[end:]), changes, nil
}

// importGroups returns the specs of the import declarations, but for
// those to drop, in groups as the file has them: a blank line (or a
// comment on a line of its own) ends a group.
func importGroups(src []byte, tf *token.File, decls []*ast.GenDecl, drop map[*ast.ImportSpec]bool) [][]importLine {
	var groups [][]importLine
	lastLine := -1
	for _, d := range decls {
		for _, s := range d.Specs {
			spec := s.(*ast.ImportSpec)
			from := spec.Pos()
			if spec.Doc != nil {
				from = spec.Doc.Pos()
			}
			if tf.Line(from) > lastLine+1 || len(groups) == 0 {
				groups = append(groups, nil)
			}
			lastLine = tf.Line(spec.End())
			if drop[spec] {
				continue
			}
			to := spec.End()
			if spec.Comment != nil {
				to = spec.Comment.End()
			}
			p, _ := strconv.Unquote(spec.Path.Value)
			text := strings.TrimSpace(string(src[tf.Offset(from):tf.Offset(to)]))
			groups[len(groups)-1] = append(groups[len(groups)-1], importLine{text: text, path: p})
		}
	}
	return slices.DeleteFunc(groups, func(g []importLine) bool { return len(g) == 0 })
}

// findImport returns the first import of sources that names its package
// name, or nil.
func findImport(sources []*source, name string) *ast.ImportSpec {
	for _, s := range sources {
		for _, spec := range s.file.Imports {
			if importName(spec) == name {
				return spec
			}
		}
	}
	return nil
}

// lineStart returns the offset of the start of the line that holds off.
func lineStart(src []byte, off int) int {
	for off > 0 && src[off-1] != '\n' {
		off--
	}
	return off
}
