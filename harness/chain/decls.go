package chain

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A source is one non-test .go file of a step's directory, cut into its
// top-level declarations.
type source struct {
	name  string // "server.go"
	src   []byte
	file  *ast.File
	fset  *token.FileSet
	decls []*decl // in the file's order, imports left out
	// body is where the declarations begin: just after the line that ends
	// the package clause or the last import declaration before the first
	// other declaration.
	body int
}

// A decl is one top-level declaration of a file, imports excepted. Its text
// runs from the end of the declaration before it (the package clause or an
// import for the first) to the end of its own last line: comments that
// float between two declarations belong to the one after them, and those
// after the last declaration to the last.
type decl struct {
	// key names it in its file: "read" (a function), "Server.read" (a
	// method, by its receiver's base type), "Config" (a type, var or
	// const), "DefaultIdleTimeout" (a group: its first name). A name
	// declared twice in a file ("init", "_") is keyed "init#2" the
	// second time, and so on.
	key string
	// names are what a lesson entry may call it by: its key, and for a
	// group every name it declares.
	names []string
	// what names it for people: "func (s *Server) read", "type Config",
	// "const (DefaultIdleTimeout, DefaultQueueLimit, …)".
	what       string
	start, end int    // its text's byte offsets in the file
	text       string // the text, trimmed of blank space at both ends
	line       int    // the line of its text's first non-blank byte
}

// names reports whether d answers to name.
func (d *decl) answers(name string) bool { return slices.Contains(d.names, name) }

// loadDir reads the non-test .go files of dir, by name.
func loadDir(dir string) (map[string]*source, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read the step's code: %w", err)
	}
	files := make(map[string]*source)
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read the step's code: %w", err)
		}
		f, err := parseSource(filepath.Join(dir, name), name, src)
		if err != nil {
			return nil, err
		}
		files[name] = f
	}
	return files, nil
}

// parseSource parses one file and cuts it into its declarations; path is
// the name its parse errors give it.
func parseSource(path, name string, src []byte) (*source, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse %w", err)
	}
	s := &source{name: name, src: src, file: f, fset: fset}
	tf := fset.File(f.Pos())
	prevEnd := lineEnd(src, tf.Offset(f.Name.End()))
	s.body = prevEnd
	seen := make(map[string]int)
	for _, d := range f.Decls {
		end := lineEnd(src, tf.Offset(d.End()))
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			if len(s.decls) == 0 {
				s.body = end
			}
			prevEnd = end
			continue
		}
		key, names, what := describe(src, tf, d)
		if key == "" {
			return nil, fmt.Errorf("%s:%d: a declaration that declares no name", path, fset.Position(d.Pos()).Line)
		}
		if seen[key]++; seen[key] > 1 {
			key = fmt.Sprintf("%s#%d", key, seen[key])
			names = []string{key}
		}
		text := src[prevEnd:end]
		lead := len(text) - len(bytes.TrimLeft(text, " \t\r\n"))
		s.decls = append(s.decls, &decl{
			key:   key,
			names: names,
			what:  what,
			start: prevEnd,
			end:   end,
			text:  string(bytes.TrimSpace(text)),
			line:  tf.Line(tf.Pos(prevEnd + lead)),
		})
		prevEnd = end
	}
	if n := len(s.decls); n > 0 && prevEnd < len(src) {
		// What follows the last declaration (a comment) is its.
		last := s.decls[n-1]
		last.end = len(src)
		last.text = string(bytes.TrimSpace(src[last.start:last.end]))
	}
	return s, nil
}

// lineEnd returns the offset just past the end of the line that holds off:
// past its newline, or the end of src.
func lineEnd(src []byte, off int) int {
	if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(src)
}

// describe returns a declaration's key, the names a lesson entry may call
// it by, and its name for people.
func describe(src []byte, tf *token.File, d ast.Decl) (key string, names []string, what string) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		key = d.Name.Name
		if d.Recv != nil && len(d.Recv.List) > 0 {
			key = receiverType(d.Recv.List[0].Type) + "." + key
		}
		what = string(src[tf.Offset(d.Pos()):tf.Offset(d.Name.End())])
		return key, []string{key}, what
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch spec := spec.(type) {
			case *ast.TypeSpec:
				names = append(names, spec.Name.Name)
			case *ast.ValueSpec:
				for _, n := range spec.Names {
					names = append(names, n.Name)
				}
			}
		}
		if len(names) == 0 {
			return "", nil, ""
		}
		what = d.Tok.String() + " " + names[0]
		if d.Lparen.IsValid() {
			shown := names
			if len(shown) > 3 {
				shown = append(slices.Clip(shown[:3]), "…")
			}
			what = d.Tok.String() + " (" + strings.Join(shown, ", ") + ")"
		}
		return names[0], names, what
	}
	return "", nil, ""
}

// receiverType returns the base type's name of a method's receiver:
// "Server" for s *Server, "Batcher" for b *Batcher[T].
func receiverType(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.ParenExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return "?"
		}
	}
}

// A pair is a declaration as two versions of a file have it; one side is
// nil where only the other has it.
type pair struct {
	old, new *decl
}

// key returns the pair's key as the new side has it, else the old.
func (p pair) key() string {
	if p.new != nil {
		return p.new.key
	}
	return p.old.key
}

// entryName is the name a lesson entry best calls p by: its key, but for
// a group the first name the new side has and the old one lacks, since
// that is what the lesson most likely added.
func (p pair) entryName() string {
	if p.old != nil && p.new != nil {
		for _, name := range p.new.names {
			if !p.old.answers(name) {
				return name
			}
		}
	}
	return p.key()
}

// same reports whether both sides have the declaration, word for word.
func (p pair) same() bool { return p.old != nil && p.new != nil && p.old.text == p.new.text }

// answers reports whether either side answers to name.
func (p pair) answers(name string) bool {
	return p.old != nil && p.old.answers(name) || p.new != nil && p.new.answers(name)
}

// pairDecls pairs the declarations of two versions of a file: by key
// first, then a group with one that shares a name with it (a group whose
// first name changed, a const that became a group). The pairs come in the
// new file's order, then the old file's declarations that the new lacks.
func pairDecls(old, new *source) []pair {
	var olds, news []*decl
	if old != nil {
		olds = old.decls
	}
	if new != nil {
		news = new.decls
	}
	match := make(map[*decl]*decl) // new to old
	taken := make(map[*decl]bool)  // old ones matched
	for _, n := range news {
		for _, o := range olds {
			if !taken[o] && o.key == n.key {
				match[n], taken[o] = o, true
				break
			}
		}
	}
	for _, n := range news {
		if match[n] != nil {
			continue
		}
		for _, o := range olds {
			if !taken[o] && slices.ContainsFunc(n.names, o.answers) {
				match[n], taken[o] = o, true
				break
			}
		}
	}
	var pairs []pair
	for _, n := range news {
		pairs = append(pairs, pair{old: match[n], new: n})
	}
	for _, o := range olds {
		if !taken[o] {
			pairs = append(pairs, pair{old: o})
		}
	}
	return pairs
}
