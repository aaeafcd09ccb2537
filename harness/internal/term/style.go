// Package term shapes the kata's terminal output: colour only when the
// output is a terminal, wrapping, plurals and durations in words, and the
// terminal's foreground group for commands that Ctrl-C must reach alone.
package term

import (
	"fmt"
	"io"
	"os"
)

// A Style colours the runner's output when it goes to a terminal and
// NO_COLOR is unset, and shows transient status lines on a terminal.
type Style struct {
	Color bool // paint with ANSI colours
	TTY   bool // the output is a terminal
}

// StyleFor returns the style for output written to f.
func StyleFor(f *os.File) Style {
	tty := IsTerminal(f)
	return Style{Color: tty && os.Getenv("NO_COLOR") == "", TTY: tty}
}

// IsTerminal reports whether f is a terminal (a character device).
func IsTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Status says what is going on while it takes a while: on a terminal, a
// line that the next call to clear erases; elsewhere (a CI log), a line of
// its own.
func (s Style) Status(w io.Writer, msg string) {
	if s.TTY {
		fmt.Fprint(w, "\r\x1b[K"+s.Dim(msg))
		return
	}
	fmt.Fprintln(w, msg)
}

// Clear erases a status line.
func (s Style) Clear(w io.Writer) {
	if s.TTY {
		fmt.Fprint(w, "\r\x1b[K")
	}
}

// Paint wraps text in an SGR escape sequence when the style has colour.
func (s Style) Paint(code, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// Bold, dim, red, green and yellow paint text.
func (s Style) Bold(text string) string { return s.Paint("1", text) }

func (s Style) Dim(text string) string { return s.Paint("2", text) }

func (s Style) Red(text string) string { return s.Paint("31", text) }

func (s Style) Green(text string) string { return s.Paint("32", text) }

func (s Style) Yellow(text string) string { return s.Paint("33", text) }

// Pass returns the badge of a passing test.
func (s Style) Pass() string { return s.Green("PASS") }

// Fail returns the badge of a failing test.
func (s Style) Fail() string { return s.Red("FAIL") }
