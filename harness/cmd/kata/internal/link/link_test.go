package link

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// authRepo is a repository of three steps: 04, whose Config has no
// AuthKeys, 09, whose Config has it, and 10, whose Config has Node and NATS
// too.
func authRepo(t *testing.T) step.Repo {
	t.Helper()
	r := step.Repo{Root: t.TempDir(), Module: "example.test/kata"}
	files := map[string]string{
		"exercises/04-idle/step.json":    `{"title": "Idle"}`,
		"exercises/09-edge/step.json":    `{"title": "Edge"}`,
		"exercises/04-idle/server.go":    "package idle\n\ntype Config struct{ Workers int; IdleTimeout int }\n",
		"solutions/04-idle/server.go":    "package idle\n\ntype Config struct{ Workers int; IdleTimeout int }\n",
		"exercises/09-edge/server.go":    "package edge\n\ntype Config struct {\n\tQueueLimit int\n\tAuthKeys map[string]string\n}\n",
		"solutions/09-edge/server.go":    "package edge\n\ntype Config struct {\n\tQueueLimit int\n\tAuthKeys map[string]string\n}\n",
		"solutions/09-edge/edge_test.go": "package edge\n\ntype Config struct{ NotThis int }\n",
		"exercises/10-nodes/step.json":   `{"title": "Nodes"}`,
		"exercises/10-nodes/server.go":   "package nodes\n\ntype Config struct {\n\tAuthKeys map[string]string\n\tNode string\n\tNATS *nats.Conn\n}\n",
		"solutions/10-nodes/server.go":   "package nodes\n\ntype Config struct {\n\tAuthKeys map[string]string\n\tNode string\n\tNATS *nats.Conn\n}\n",
	}
	for name, text := range files {
		path := filepath.Join(r.Root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestCheckNeed(t *testing.T) {
	r := authRepo(t)
	auth, cluster := needs[0], needs[1]
	tests := []struct {
		step    step.Step
		need    need
		wantErr string
	}{
		{step.Step{Num: 4, Name: "04-idle", Repo: r}, auth, "step 04 has no authentication: AUTH_KEYS needs step 09 or later"},
		{step.Step{Num: 9, Name: "09-edge", Repo: r}, auth, ""},
		{step.Step{Num: 9, Name: "09-edge", Repo: r}, cluster, "step 09 has no cluster (its Config has no NATS): NATS_URL needs step 10 or later"},
		{step.Step{Num: 10, Name: "10-nodes", Repo: r}, cluster, ""},
	}
	for _, tt := range tests {
		t.Run(tt.step.Name+" "+tt.need.setting, func(t *testing.T) {
			err := checkNeed(tt.step, tt.need)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkNeed: %v; want none: the step's Config has %s", err, tt.need.field)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkNeed: %v; want %q: serving without what was asked for is worse than not serving", err, tt.wantErr)
			}
		})
	}
}

// The generated link is Go, copies the optional fields each variant's
// Config has, and tells run which ones they are.
func TestLinkStep(t *testing.T) {
	r := authRepo(t)
	tests := []struct {
		step step.Step
		want []string
	}{
		{step.Step{Num: 4, Name: "04-idle", Repo: r}, []string{
			"IdleTimeout: c.IdleTimeout})", `StarterFields: []string{"IdleTimeout"}`, `SolutionFields: []string{"IdleTimeout"}`}},
		{step.Step{Num: 9, Name: "09-edge", Repo: r}, []string{
			"QueueLimit: c.QueueLimit, AuthKeys: c.AuthKeys})", `SolutionFields: []string{"QueueLimit", "AuthKeys"}`}},
		{step.Step{Num: 10, Name: "10-nodes", Repo: r}, []string{
			"AuthKeys: c.AuthKeys, Node: c.Node, NATS: c.NATS})", `SolutionFields: []string{"AuthKeys", "Node", "NATS"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.step.Name, func(t *testing.T) {
			src, err := linkStep(tt.step, true, true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parser.ParseFile(token.NewFileSet(), "zz_step.go", src, 0); err != nil {
				t.Fatalf("the link does not parse: %v\n%s", err, src)
			}
			for _, want := range tt.want {
				if !strings.Contains(string(src), want) {
					t.Errorf("the link lacks %q:\n%s", want, src)
				}
			}
		})
	}
}
