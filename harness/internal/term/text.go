package term

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Thousands writes n with commas between groups of three digits: 31,204.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// IndentAfterFirst indents every line of text but the first.
func IndentAfterFirst(text, indent string) string {
	return strings.ReplaceAll(strings.ReplaceAll(text, "\t", "    "), "\n", "\n"+indent)
}

// LimitLines keeps the first n lines and says how many it left out.
func LimitLines(lines []string, n int, more string) []string {
	if len(lines) <= n {
		return lines
	}
	out := append([]string(nil), lines[:n]...)
	return append(out, fmt.Sprintf("… %d more lines (%s)", len(lines)-n, more))
}

// Plural returns "1 test" or "2 tests".
func Plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Seconds formats a duration the way the runner shows times: "12.3s".
func Seconds(d float64) string { return fmt.Sprintf("%.1fs", d) }

// Wrap breaks the prose lines of text at width columns; lines that start
// with white space (code) are left alone, with tabs as four spaces.
func Wrap(text string, width int) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			out = append(out, strings.ReplaceAll(line, "\t", "    "))
			continue
		}
		var cur string
		for _, word := range strings.Fields(line) {
			if cur != "" && len(cur)+1+len(word) > width {
				out = append(out, cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += word
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// WrapLines wraps each line that is longer than width at its spaces, its
// continuation keeping the line's own indentation.
func WrapLines(lines []string, width int) []string {
	var out []string
	for _, line := range lines {
		body := strings.TrimLeft(line, " ")
		lead := line[:len(line)-len(body)]
		if len(line) <= width || strings.TrimSpace(body) == "" {
			out = append(out, line)
			continue
		}
		for _, part := range strings.Split(Wrap(body, max(width-len(lead), 20)), "\n") {
			out = append(out, lead+part)
		}
	}
	return out
}

// DurationWords formats a duration for people, to the second: "12s".
func DurationWords(d time.Duration) string {
	return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
}

// Indent indents every line of text.
func Indent(text, prefix string) string {
	text = strings.TrimRight(text, "\n")
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
