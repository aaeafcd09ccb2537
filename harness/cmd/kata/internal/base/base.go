// Package base holds what every kata command shares: its flag set, the
// step its -step flag names, and the error for a failure the command has
// already explained to the learner.
package base

import (
	"errors"
	"flag"
	"fmt"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

// FirstErr returns the first of errs that is not nil.
func FirstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrFailed reports a failure that the command has already explained to the
// learner: main only sets the exit status.
var ErrFailed = errors.New("failed")

// ParseStep parses a subcommand's flags and finds the step that its -step
// flag (num) names.
func ParseStep(fs *flag.FlagSet, num *string, args []string) (step.Step, error) {
	if err := fs.Parse(args); err != nil {
		return step.Step{}, err
	}
	r, err := step.FindRepo()
	if err != nil {
		return step.Step{}, err
	}
	return step.Find(r, *num)
}

// ParseSteps parses a subcommand's flags and loads every step.
func ParseSteps(fs *flag.FlagSet, args []string) (step.Repo, []step.Step, error) {
	if err := fs.Parse(args); err != nil {
		return step.Repo{}, nil, err
	}
	r, err := step.FindRepo()
	if err != nil {
		return step.Repo{}, nil, err
	}
	steps, err := step.Load(r)
	return r, steps, err
}

// NewFlags returns a flag set for a subcommand that reports errors instead
// of exiting, and prints its usage on -h.
func NewFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("kata "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kata %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}
