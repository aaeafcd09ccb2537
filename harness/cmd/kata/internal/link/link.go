// Package link builds harness/cmd/run with a step linked in, for make serve
// and make demo: a generated file imports the step's starter and solution
// and hands their New to the run command, which imports nothing of testing.
package link

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/base"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/proc"
	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
	"github.com/ocppkata/kata/harness/internal/settings"
	"github.com/ocppkata/kata/harness/internal/term"
)

// RunServe runs a step's server in the foreground: by default the last
// step's solution, the final server. Its settings are harness/internal/settings'
// table, each given as -set NAME=value, as make serve passes them.
func RunServe(args []string) error {
	fs := base.NewFlags("serve", "[-step N] [-solution] [-set NAME=value]...")
	num := fs.String("step", "", "the step whose server to run: 1 or 01; default the last step's solution")
	solution := fs.Bool("solution", false, "run the reference solution instead of your code")
	set := settingsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	var s step.Step
	if *num == "" {
		steps, err := step.Load(r)
		if err != nil {
			return err
		}
		s, *solution = steps[len(steps)-1], true
	} else if s, err = step.Find(r, *num); err != nil {
		return err
	}
	variant := "starter"
	if *solution {
		variant = "solution"
	}
	flags, err := serveFlags(s, set)
	if err != nil {
		return err
	}
	return runLinked(s, !*solution, *solution, append([]string{"serve", "-variant", variant}, flags...)...)
}

// settingsFlag adds -set NAME=value to fs, for make serve's settings, and
// returns the settings it collects.
func settingsFlag(fs *flag.FlagSet) map[string]string {
	set := make(map[string]string)
	fs.Func("set", "a setting of make serve, NAME=value; the settings are listed below", func(v string) error {
		name, value, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=value, such as DB=memory", v)
		}
		st, err := settings.ByMake(name)
		if err != nil {
			return err
		}
		if st.Kind == settings.Secret {
			return fmt.Errorf("%s goes in the environment (make passes it there), never on a command line that ps shows", name)
		}
		set[name] = value
		return nil
	})
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(fs.Output(), "\nThe settings (make serve NAME=value), and the environment variable the server falls back on:")
		for _, s := range settings.All() {
			fmt.Fprintf(fs.Output(), "  %-12s %-17s %s\n", s.Make, s.Env, s.Usage)
		}
	}
	return set
}

// serveFlags turns make serve's settings into the run command's flags for
// step s: the defaults kata gives (WORKERS, SCALE) filled in, files made
// absolute, API_TOKEN moved into the environment the server reads.
func serveFlags(s step.Step, set map[string]string) ([]string, error) {
	workers, scale := DefaultServeWorkers, 1.0
	if v, ok := set["WORKERS"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("WORKERS=%s: want a number of workers, 1 or more (0 leaves the step's default)", v)
		}
		workers = n
	}
	if v, ok := set["SCALE"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("SCALE=%s: want 0 or more, a factor on the backend's latencies: 1 is the workshop's, 0.1 ten times faster, 0 none", v)
		}
		scale = f
	}
	set["WORKERS"], set["SCALE"] = fmt.Sprint(workers), fmt.Sprint(scale)
	for _, n := range needs {
		if set[n.setting] != "" {
			if err := checkNeed(s, n); err != nil {
				return nil, err
			}
		}
	}
	var args []string
	for _, st := range settings.All() {
		v, ok := set[st.Make]
		if !ok || v == "" {
			continue
		}
		switch st.Kind {
		case settings.Switch:
			if settings.On(v) {
				args = append(args, "-"+st.Flag)
			}
			continue
		case settings.File:
			// A database's URL may hold a password: it travels in the
			// environment, which other users cannot read in ps, as
			// API_TOKEN does.
			if st.Make == "DB" && (strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://")) {
				os.Setenv(st.Env, v)
				continue
			}
			// Files are named from where make ran; the server runs from
			// the repository's root.
			if st.Make != "DB" || (v != "memory" && !strings.Contains(v, "://")) {
				abs, err := filepath.Abs(v)
				if err != nil {
					return nil, fmt.Errorf("%s=%s: %w", st.Make, v, err)
				}
				v = abs
			}
		}
		args = append(args, "-"+st.Flag, v)
	}
	// make passes API_TOKEN=T in the environment, as it does every
	// variable set on its command line.
	if t := os.Getenv("API_TOKEN"); t != "" {
		os.Setenv("OCPP_API_TOKEN", t)
	}
	return args, nil
}

// A need is a setting that only a step whose solution's Config has a field
// can use: another step's server would run without it, and say nothing.
type need struct {
	setting, field string
	lacks          string // what a step without the field has not: "no authentication"
	or             string // what the operator can do instead, after "or"
}

// needs are the settings that only some steps can use.
var needs = []need{
	{"AUTH_KEYS", "AuthKeys", "no authentication", "leave AUTH_KEYS out to serve without it"},
	{"NATS_URL", "NATS", "no cluster (its Config has no NATS)", "leave NATS_URL out to serve as one server"},
}

// checkNeed refuses n's setting for a step whose server cannot use it,
// rather than serve without it: without authentication every station, as
// a cluster of one the stations of one node. A step can when its
// solution's Config has the field; the learner's code is judged by the
// same step, and its build says so if the field is gone.
func checkNeed(s step.Step, n need) error {
	if slices.Contains(optionalFields(filepath.Join(s.Repo.Root, s.SolutionDir())), n.field) {
		return nil
	}
	first := "no step of the kata has it yet"
	if steps, err := step.Load(s.Repo); err == nil {
		for _, o := range steps {
			if slices.Contains(optionalFields(filepath.Join(o.Repo.Root, o.SolutionDir())), n.field) {
				first = fmt.Sprintf("%s needs step %02d or later", n.setting, o.Num)
				break
			}
		}
	}
	return fmt.Errorf("step %02d has %s: %s (or %s)", s.Num, n.lacks, first, n.or)
}

// DefaultServeWorkers is the pool make serve asks for. The backend's calls
// wait rather than compute (step 01's lesson), so the step's default of one
// worker per processor would keep a classroom's 100 stations queueing for
// a quarter of an hour.
const DefaultServeWorkers = 100

// RunDemo runs a step's demo: its starter and its solution side by side.
func RunDemo(args []string) error {
	fs := base.NewFlags("demo", "[-step N] [-workers W]")
	num := fs.String("step", "1", "the step to show: 1 or 01")
	workers := fs.Int("workers", 10, "Config.Workers for both runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	s, err := step.Find(r, *num)
	if err != nil {
		return err
	}
	args = []string{"demo", "-workers", fmt.Sprint(*workers)}
	if s.Unchanged() {
		args = append(args, "-shipped")
	}
	return runLinked(s, true, true, args...)
}

// linkSource is the file that links a step into harness/cmd/run. On disk,
// run's hook is nil; this file, added through an overlay, sets it.
const linkSource = `// Code generated by the kata command for make serve and make demo. DO NOT EDIT.

package main

import (
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
{{- if .Starter}}
	starter {{printf "%q" .StarterPath}}
{{- end}}
{{- if .Solution}}
	solution {{printf "%q" .SolutionPath}}
{{- end}}
)

func init() {
	linked = &steplink.Link{
		Step:  {{.Num}},
		Name:  {{printf "%q" .Name}},
		Title: {{printf "%q" .Title}},
{{- if .Starter}}
		Starter: func(c steplink.Config) steplink.Server {
			return starter.New(starter.Config{Backend: c.Backend, Workers: c.Workers, Logger: c.Logger{{range .StarterExtra}}, {{.}}: c.{{.}}{{end}}})
		},
		StarterFields: {{printf "%#v" .StarterExtra}},
{{- if .StarterErr}}
		StarterErrNotConnected: starter.ErrNotConnected,
{{- end}}
{{- end}}
{{- if .Solution}}
		Solution: func(c steplink.Config) steplink.Server {
			return solution.New(solution.Config{Backend: c.Backend, Workers: c.Workers, Logger: c.Logger{{range .SolutionExtra}}, {{.}}: c.{{.}}{{end}}})
		},
		SolutionFields: {{printf "%#v" .SolutionExtra}},
{{- if .SolutionErr}}
		SolutionErrNotConnected: solution.ErrNotConnected,
{{- end}}
{{- end}}
	}
}
`

// optionalConfig lists the fields of harness/cmd/run's Config that only some
// steps' Config has; the link copies those the step declares.
var optionalConfig = []string{"IdleTimeout", "QueueLimit", "AuthKeys", "MaxFrameSize", "Node", "NATS", "KeepAlive"}

// stepSource parses the non-test Go files of the step package in dir. It
// reads the source rather than compiling it: a package that does not parse
// gives nil, and the build reports why.
func stepSource(dir string) []*ast.File {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil
		}
		files = append(files, f)
	}
	return files
}

// optionalFields returns the optional Config fields that the step package
// in dir declares.
func optionalFields(dir string) []string {
	declared := make(map[string]bool)
	for _, f := range stepSource(dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != "Config" {
				return true
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, field := range st.Fields.List {
					for _, name := range field.Names {
						declared[name.Name] = true
					}
				}
			}
			return false
		})
	}
	var fields []string
	for _, name := range optionalConfig {
		if declared[name] {
			fields = append(fields, name)
		}
	}
	return fields
}

// declares reports whether the step package in dir declares a
// package-level variable of that name.
func declares(dir, name string) bool {
	for _, f := range stepSource(dir) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				if slices.ContainsFunc(spec.(*ast.ValueSpec).Names, func(n *ast.Ident) bool { return n.Name == name }) {
					return true
				}
			}
		}
	}
	return false
}

// linkStep returns the source of the zz_step.go that links the step's
// starter and/or solution into harness/cmd/run.
func linkStep(s step.Step, withStarter, withSolution bool) ([]byte, error) {
	var src bytes.Buffer
	tmpl, err := template.New("zz_step.go").Parse(linkSource)
	if err != nil {
		return nil, fmt.Errorf("link step %s: %w", s.Name, err)
	}
	err = tmpl.Execute(&src, map[string]any{
		"Num": s.Num, "Name": s.Name, "Title": s.Meta.Title,
		"Starter": withStarter, "StarterPath": s.ImportPath(),
		"StarterExtra": optionalFields(filepath.Join(s.Repo.Root, s.Dir())),
		"Solution":     withSolution, "SolutionPath": s.SolutionImportPath(),
		"SolutionExtra": optionalFields(filepath.Join(s.Repo.Root, s.SolutionDir())),
		"StarterErr":    declares(filepath.Join(s.Repo.Root, s.Dir()), "ErrNotConnected"),
		"SolutionErr":   declares(filepath.Join(s.Repo.Root, s.SolutionDir()), "ErrNotConnected"),
	})
	if err != nil {
		return nil, fmt.Errorf("link step %s: %w", s.Name, err)
	}
	return src.Bytes(), nil
}

// runLinked builds harness/cmd/run with the step's starter and/or solution
// linked in, then runs it with args in the foreground.
func runLinked(s step.Step, withStarter, withSolution bool, args ...string) error {
	r := s.Repo
	tmp, err := os.MkdirTemp("", "kata-run-")
	if err != nil {
		return fmt.Errorf("make a temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	bin, err := BuildLinked(s, withStarter, withSolution, tmp, "kata-run", args[0])
	if err != nil {
		return err
	}

	cmd := exec.Command(bin, args...)
	cmd.Dir = r.Root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The program runs in a process group of its own, which a terminal's
	// Ctrl-C does not reach: kata passes on every INT, TERM and HUP it gets
	// to that group, once, whether it came from the terminal or from a
	// kill. The program stops gracefully on the first and forces on the
	// second.
	proc.OwnGroup(cmd)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		signal.Stop(signals)
		return fmt.Errorf("start step %s: %w", s.Name, err)
	}
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for sig := range signals {
			proc.SignalGroup(cmd.Process.Pid, sig)
		}
	}()
	err = cmd.Wait()
	signal.Stop(signals)
	close(signals)
	<-forwarded
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return base.ErrFailed // the program said why
		}
		return fmt.Errorf("run step %s: %w", s.Name, err)
	}
	return nil
}

// BuildLinked builds harness/cmd/run with the step's starter and/or
// solution linked in, as the program dir/name, and returns its path. what
// is the command it is built for (serve, demo, bench): a build that fails
// is explained to the learner in its terms, and ErrFailed returned. flags
// go to go build, such as -race.
func BuildLinked(s step.Step, withStarter, withSolution bool, dir, name, what string, flags ...string) (string, error) {
	r, tmp := s.Repo, dir
	src, err := linkStep(s, withStarter, withSolution)
	if err != nil {
		return "", err
	}
	linkFile := filepath.Join(tmp, name+"_zz_step.go")
	if err := os.WriteFile(linkFile, src, 0o644); err != nil {
		return "", fmt.Errorf("link step %s: %w", s.Name, err)
	}
	overlay := fmt.Sprintf(`{"Replace": {%q: %q}}`, filepath.Join(r.Root, "harness", "cmd", "run", "zz_step.go"), linkFile)
	overlayFile := filepath.Join(tmp, name+"_overlay.json")
	if err := os.WriteFile(overlayFile, []byte(overlay), 0o644); err != nil {
		return "", fmt.Errorf("link step %s: %w", s.Name, err)
	}

	st := term.StyleFor(os.Stderr)
	if st.Color {
		fmt.Fprint(os.Stderr, st.Dim("compiling step "+s.Name+"…")+"\r")
	}
	bin := filepath.Join(tmp, name)
	if runtime.GOOS == "windows" {
		bin += ".exe" // Windows runs a program by its extension
	}
	args := append([]string{"build"}, flags...)
	build := exec.Command("go", append(args, "-overlay="+overlayFile, "-o", bin, "./harness/cmd/run")...)
	build.Dir = r.Root
	out, err := build.CombinedOutput()
	if st.Color {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return "", fmt.Errorf("go build: %w", err)
		}
		var kept []string
		for line := range strings.Lines(strings.TrimSpace(string(out))) {
			if !strings.HasPrefix(line, "# ") {
				kept = append(kept, strings.TrimRight(line, "\n"))
			}
		}
		text := strings.Join(kept, "\n")
		if withStarter && strings.Contains(text, s.Dir()) {
			next := fmt.Sprintf("make serve STEP=%d SOLUTION=1 runs the reference solution", s.Num)
			if what == "demo" {
				next = "the demo runs your code as its starter: fix it, or set it aside with git stash"
			}
			fmt.Fprintf(os.Stderr, "%s\n%s\n\nmake check STEP=%d explains it; %s.\n",
				st.Red("your code in "+s.Dir()+" does not compile:"), term.Indent(text, "  "), s.Num, next)
		} else {
			fmt.Fprintf(os.Stderr, "%s\n%s\n", st.Red("step "+s.Name+" does not build:"), term.Indent(text, "  "))
		}
		return "", base.ErrFailed
	}
	return bin, nil
}

// RunCluster runs make cluster: the final server as several nodes on this
// machine, each a process of its own, over a NATS server that the run
// command embeds, sharing one store. Its settings are make serve's, for
// every node; ADDR is the first node's address, and each next node listens
// on the next port.
func RunCluster(args []string) error {
	fs := base.NewFlags("cluster", "[-nodes 3] [-nats 127.0.0.1:4222] [-set NAME=value]...")
	nodes := fs.Int("nodes", 3, "how many nodes, 1 to 9")
	natsAddr := fs.String("nats", "127.0.0.1:4222", "where the nodes' NATS server listens")
	set := settingsFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 9 {
		return fmt.Errorf("NODES=%d: want 1 to 9 nodes on one machine", *nodes)
	}
	for _, name := range []string{"NATS_URL", "NODE"} {
		if set[name] != "" {
			return fmt.Errorf("make cluster runs its own NATS and names its nodes: leave %s out (it is for make serve, one node of a cluster you run yourself)", name)
		}
	}
	switch db := set["DB"]; {
	case db == "":
		set["DB"] = filepath.Join(".kata", "cluster.db")
	case db == "memory":
		return errors.New("DB=memory: each node would keep a store of its own, and no node would see the others' transactions; give a file (DB=.kata/cluster.db) or a PostgreSQL URL")
	}
	addr := set["ADDR"]
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	delete(set, "ADDR")
	r, err := step.FindRepo()
	if err != nil {
		return err
	}
	steps, err := step.Load(r)
	if err != nil {
		return err
	}
	s := steps[len(steps)-1]
	if !slices.Contains(optionalFields(filepath.Join(r.Root, s.SolutionDir())), "NATS") {
		return fmt.Errorf("the final server (step %02d) cannot join a cluster: its Config has no NATS", s.Num)
	}
	flags, err := serveFlags(s, set)
	if err != nil {
		return err
	}
	args = []string{"cluster", "-nodes", fmt.Sprint(*nodes), "-addr", addr, "-nats", *natsAddr, "--", "-variant", "solution"}
	return runLinked(s, false, true, append(args, flags...)...)
}
