package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCommandsListedEverywhere keeps the three lists of commands in step:
// every make target is in make help and in the README's table, and every
// target the Makefile hands to kata is a command of kata's table.
func TestCommandsListedEverywhere(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	makefile, readme := read("Makefile"), read("README.md")
	phony := regexp.MustCompile(`(?m)^\.PHONY: (.*)$`).FindStringSubmatch(makefile)
	if phony == nil {
		t.Fatal("the Makefile has no .PHONY line to list its targets")
	}
	var kata []string
	for _, c := range slices.Concat(learnerCommands, maintainerCommands) {
		kata = append(kata, c.name)
	}
	for _, target := range strings.Fields(phony[1]) {
		if target == "help" {
			continue
		}
		if !regexp.MustCompile(`(?m)^\t@echo '  make ` + target + `\b`).MatchString(makefile) {
			t.Errorf("make help does not list make %s", target)
		}
		if !strings.Contains(readme, "| `make "+target) {
			t.Errorf("the README's table of commands does not list make %s", target)
		}
	}
	for _, m := range regexp.MustCompile(`\$\(KATA\) ([a-z-]+)`).FindAllStringSubmatch(makefile, -1) {
		if !slices.Contains(kata, m[1]) {
			t.Errorf("the Makefile runs kata %s, which kata's command table does not have", m[1])
		}
	}
}
