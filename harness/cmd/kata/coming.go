package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// A comingStep is a step the kata announces but does not ship yet.
type comingStep struct {
	num   int
	name  string // "05-backpressure"
	title string // what it will teach
}

// comingSteps returns the steps still to come, as the README's map of steps
// lists them. A step here counts only while exercises/ has no directory of
// that number.
func comingSteps() []comingStep {
	return []comingStep{
		{5, "05-backpressure", "bounded queues, and a station that floods"},
		{6, "06-batching", "many producers, batched concurrent consumers"},
		{7, "07-server-calls", "asking a station and waiting for its answer"},
		{8, "08-shutdown", "stop without losing anything"},
		{9, "09-hardening", "the real server, as chargers in the field expect it"},
	}
}

// stillComing returns the coming steps that exercises/ does not hold yet.
func stillComing(steps []step) []comingStep {
	have := make(map[int]bool)
	for _, s := range steps {
		have[s.num] = true
	}
	var out []comingStep
	for _, c := range comingSteps() {
		if !have[c.num] {
			out = append(out, c)
		}
	}
	return out
}

// comingMessage says that step n is coming, or returns "" if it is not one
// of the steps still to come.
func comingMessage(steps []step, n int) string {
	for _, c := range stillComing(steps) {
		if c.num == n {
			return fmt.Sprintf("step %02d (%s) is coming: %s. It is not in the kata yet; %s are.",
				c.num, c.name[3:], c.title, stepRange(steps))
		}
	}
	return ""
}

// stepRange names the steps that exist: "steps 01 to 04".
func stepRange(steps []step) string {
	switch len(steps) {
	case 0:
		return "no steps"
	case 1:
		return fmt.Sprintf("step %02d", steps[0].num)
	}
	return fmt.Sprintf("steps %02d to %02d", steps[0].num, steps[len(steps)-1].num)
}

// comingLine says which steps are still to come after the last one, or ""
// if none is.
func comingLine(steps []step) string {
	coming := stillComing(steps)
	if len(coming) == 0 {
		return ""
	}
	names := make([]string, len(coming))
	for i, c := range coming {
		names[i] = c.name
	}
	return fmt.Sprintf("That was the last step so far. Still to come: %s.", strings.Join(names, ", "))
}

// findStepOrComing is findStep, except that a step still to come is said to
// be coming rather than missing.
func findStepOrComing(r repo, arg string) (step, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(arg)); err == nil {
		if steps, err := loadSteps(r); err == nil {
			if msg := comingMessage(steps, n); msg != "" {
				return step{}, comingError(msg)
			}
		}
	}
	return findStep(r, arg)
}

// A comingError says that a step is coming: not a failure of the kata.
type comingError string

func (e comingError) Error() string { return string(e) }

// parseStepOrComing is parseStep, except that a step still to come is said
// to be coming: it prints so and returns errFailed.
func parseStepOrComing(fs *flag.FlagSet, num *string, args []string) (step, error) {
	if err := fs.Parse(args); err != nil {
		return step{}, err
	}
	r, err := findRepo()
	if err != nil {
		return step{}, err
	}
	s, err := findStepOrComing(r, *num)
	var coming comingError
	if errors.As(err, &coming) {
		fmt.Println(coming.Error())
		return step{}, errFailed
	}
	return s, err
}
