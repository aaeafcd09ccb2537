package bench

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A benchRow is one line of make bench's table: what was measured, what it
// gave, and the command line that measures it again.
type benchRow struct {
	phase  string // throughput, session, idle, before
	what   string // "final server, 200 stations × 100 Heartbeats, pair 1"
	result string // "31,204 calls/s · p50 5.1ms · p99 14ms", or why it failed
	repro  string // "make bench PHASE=throughput"
	failed bool
}

// formatTable lays the rows out in aligned columns under a header. The
// command that reproduces a row comes last, so that a long one does not push
// the figures out of sight.
func formatTable(title string, rows []benchRow) string {
	header := benchRow{phase: "phase", what: "what", result: "result", repro: "reproduce with"}
	all := append([]benchRow{header}, rows...)
	var wPhase, wWhat, wResult int
	for _, r := range all {
		wPhase = max(wPhase, utf8.RuneCountInString(r.phase))
		wWhat = max(wWhat, utf8.RuneCountInString(r.what))
		wResult = max(wResult, utf8.RuneCountInString(r.result))
	}
	var b strings.Builder
	if title != "" {
		b.WriteString(title + "\n\n")
	}
	for _, r := range all {
		line := pad(r.phase, wPhase) + "  " + pad(r.what, wWhat) + "  " + pad(r.result, wResult) + "  " + r.repro
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	return b.String()
}

// pad fills s with spaces to width runes.
func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// median is the middle of xs (the mean of the two middle ones for an even
// count), 0 for none. xs is left as it was.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// parseProcStat reads utime and stime from a Linux /proc/PID/stat line.
// The command's name, in parentheses, may hold spaces: the fields are
// counted from after its closing parenthesis.
func parseProcStat(text string) (time.Duration, error) {
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no command name in %q", text)
	}
	fields := strings.Fields(text[i+1:])
	// After the name come state (field 3) and on: utime is field 14, stime 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the name, want 13 or more", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: bad CPU time %q", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// parsePsTime reads ps's time column: "1:02.50", or "1:01:02.50" past an
// hour.
func parsePsTime(text string) (time.Duration, error) {
	var d time.Duration
	parts := strings.Split(strings.TrimSpace(text), ":")
	for i, p := range parts {
		unit := time.Minute
		if len(parts) == 3 && i == 0 {
			unit = time.Hour
		}
		if i == len(parts)-1 {
			secs, err := strconv.ParseFloat(p, 64)
			if err != nil {
				return 0, fmt.Errorf("ps time %q: %w", text, err)
			}
			d += time.Duration(secs * float64(time.Second))
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("ps time %q: %w", text, err)
		}
		d += time.Duration(n) * unit
	}
	return d, nil
}

// quartiles returns the first and third quartiles of xs, the ends of its
// interquartile range, as the medians of its lower and upper halves.
func quartiles(xs []float64) (q1, q3 float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n < 2 {
		return median(s), median(s)
	}
	return median(s[:n/2]), median(s[(n+1)/2:])
}

// procStatus is what make bench reads from /proc/PID/status.
type procStatus struct {
	threads int
	rss     int64 // bytes
	// rssFile is the part of rss that is pages of files, the program's
	// own code among them: read in once, not per station. 0 where the
	// system does not say.
	rssFile int64
}

// parseProcStatus reads the Threads, VmRSS and RssFile lines of a Linux
// /proc/PID/status file; RssFile may be missing (kernels before 4.5).
func parseProcStatus(text string) (procStatus, error) {
	var st procStatus
	var haveThreads, haveRSS bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		switch key {
		case "Threads":
			if len(fields) != 1 {
				return st, fmt.Errorf("/proc status: bad Threads line %q", sc.Text())
			}
			n, err := strconv.Atoi(fields[0])
			if err != nil {
				return st, fmt.Errorf("/proc status: bad Threads line %q: %w", sc.Text(), err)
			}
			st.threads, haveThreads = n, true
		case "VmRSS":
			n, err := statusBytes(fields, sc.Text())
			if err != nil {
				return st, err
			}
			st.rss, haveRSS = n, true
		case "RssFile":
			n, err := statusBytes(fields, sc.Text())
			if err != nil {
				return st, err
			}
			st.rssFile = n
		}
	}
	if !haveThreads || !haveRSS {
		return st, fmt.Errorf("/proc status: no Threads or no VmRSS line")
	}
	return st, nil
}

// statusBytes reads the value of a /proc/PID/status line in kB, such as
// VmRSS's, as bytes.
func statusBytes(fields []string, line string) (int64, error) {
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("/proc status: bad line %q", line)
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc status: bad line %q: %w", line, err)
	}
	return n * 1024, nil
}

// parseMetric returns the value of the unlabelled metric name in a
// Prometheus text exposition, such as go_goroutines.
func parseMetric(text, name string) (float64, error) {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, name)
		if !ok || !strings.HasPrefix(rest, " ") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: bad value in %q: %w", name, line, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("metric %s: not in /metrics", name)
}

// latency writes d readably: microseconds under 1 ms, milliseconds under
// 1 s, then seconds.
func latency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// parsePsRSS reads the output of ps -o rss= -p PID: the resident memory in
// KiB.
func parsePsRSS(out string) (int64, error) {
	kib, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ps -o rss=: %q is not a size in KiB", strings.TrimSpace(out))
	}
	return kib * 1024, nil
}

// psThreads counts the threads in the output of ps -M -p PID: a line each,
// under a header.
func psThreads(out string) int {
	n := 0
	for line := range strings.Lines(out) {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return max(n-1, 0)
}
