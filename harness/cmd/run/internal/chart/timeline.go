package chart

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/live"
)

// A Run is what the pictures of a run draw.
type Run struct {
	Variant  string        `json:"variant"`  // starter or solution; in the parent, its label: your code or solution
	Stations int           `json:"stations"` // simulated stations
	Wall     time.Duration `json:"wall"`
	Work     []Span        `json:"work"`              // the backend's records
	Sent     []Sending     `json:"sent"`              // when the stations sent their calls
	Samples  []Sample      `json:"samples,omitempty"` // gauges over the run (steps 2 and 4)
	Phases   []Phase       `json:"phases,omitempty"`  // what the stations were doing when
}

// TimelineWidth is how many columns a timeline spans, whatever the run's length.
const TimelineWidth = 72

// DrawTimeline draws a run as a lane per worker, time flowing right at the
// run's own scale: each cell holds the last digit of the station whose call
// the worker was answering then (CS0001 → 1 … CS0010 → 0), or · when it
// was idle. Under the workers, the queue: a sparkline of the calls that
// were waiting, sent by their station and not yet taken by a worker.
func DrawTimeline(w io.Writer, st term.Style, r *Run) {
	workers := LaneNames(r.Work)
	labelWidth := len("worker-10") // so that timelines of up to 99 workers line up

	for _, name := range workers {
		labelWidth = max(labelWidth, len(name))
	}
	cell := r.Wall / TimelineWidth
	if cell <= 0 {
		cell = time.Nanosecond
	}
	for _, name := range workers {
		lane := make([]styled, TimelineWidth)
		for c := range lane {
			from := time.Duration(c) * cell
			lane[c] = workerCell(r.Work, name, from, from+cell)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", labelWidth, name, cells(st, lane))
	}
	fmt.Fprintf(w, "  %-*s  %s\n", labelWidth, "queue", st.Paint("33", queueLane(r, cell, TimelineWidth)))
	ticks, labels := Axis(r.Wall, TimelineWidth)
	fmt.Fprintf(w, "  %-*s  %s\n", labelWidth, "", st.Dim(ticks))
	fmt.Fprintf(w, "  %-*s  %s\n", labelWidth, "", st.Dim(labels))
}

// LaneNames returns the workers that appear in the records, in natural
// order: worker-2 before worker-10.
func LaneNames(work []Span) []string {
	var names []string
	for _, s := range work {
		name := cmp.Or(s.Worker, "(unnamed)")
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, live.NaturalOrder)
	return names
}

// A styled is one cell of a timeline: a character and the SGR code that
// paints it.
type styled struct {
	code string
	char byte
}

// cells draws a row of cells, with one escape sequence per run of cells
// painted alike.
func cells(s term.Style, row []styled) string {
	var b strings.Builder
	for i := 0; i < len(row); {
		j := i
		var text []byte
		for j < len(row) && row[j].code == row[i].code {
			text = append(text, row[j].char)
			j++
		}
		b.WriteString(s.Paint(row[i].code, strings.ReplaceAll(string(text), ".", "·")))
		i = j
	}
	return b.String()
}

// workerCell draws the cell of one worker's lane that covers [from, to):
// the station it spent most of that time on, if it was busy at least a
// third of it; "." (drawn ·) when it was idle.
func workerCell(work []Span, worker string, from, to time.Duration) styled {
	var busy, best time.Duration
	station := ""
	for _, s := range work {
		if cmp.Or(s.Worker, "(unnamed)") != worker {
			continue
		}
		overlap := min(s.End, to) - max(s.Start, from)
		if overlap <= 0 {
			continue
		}
		busy += overlap
		if overlap > best {
			best, station = overlap, s.Station
		}
	}
	if busy*3 < to-from {
		return styled{code: "2", char: '.'}
	}
	digit := stationDigit(station)
	return styled{code: stationColor(digit), char: digit}
}

// stationDigit returns the last digit of a station's number: '7' for CS0007.
func stationDigit(station string) byte {
	if station != "" && station[len(station)-1] >= '0' && station[len(station)-1] <= '9' {
		return station[len(station)-1]
	}
	return '?'
}

// stationColor returns the SGR code that paints a station's cells: a
// background of its own, dark text.
func stationColor(digit byte) string {
	palette := [10]int{151, 203, 215, 227, 120, 87, 111, 183, 218, 180}
	if digit < '0' || digit > '9' {
		return "7"
	}
	return fmt.Sprintf("48;5;%d;38;5;16", palette[digit-'0'])
}

// queueLane draws width cells of the given length, each showing how many
// calls were waiting on average then: sent by their station and not yet
// started by the backend. A full block is every station waiting.
func queueLane(r *Run, cell time.Duration, width int) string {
	started := make(map[string]time.Duration, len(r.Work))
	for _, s := range r.Work {
		started[s.Station+"/"+s.Call] = s.Start
	}
	waits := make([][2]time.Duration, 0, len(r.Sent))
	for _, s := range r.Sent {
		end, ok := started[s.Station+"/"+s.Call]
		if !ok {
			end = r.Wall // never taken
		}
		if end > s.At {
			waits = append(waits, [2]time.Duration{s.At, end})
		}
	}
	blocks := []rune("▁▂▃▄▅▆▇█")
	var lane strings.Builder
	for c := range width {
		from, to := time.Duration(c)*cell, time.Duration(c+1)*cell
		var sum time.Duration
		for _, wt := range waits {
			if overlap := min(wt[1], to) - max(wt[0], from); overlap > 0 {
				sum += overlap
			}
		}
		avg := float64(sum) / float64(cell)
		level := int(math.Round(avg / float64(max(r.Stations, 1)) * float64(len(blocks))))
		if level <= 0 {
			lane.WriteByte(' ')
			continue
		}
		lane.WriteRune(blocks[min(level, len(blocks))-1])
	}
	return lane.String()
}

// Axis returns a time axis for a span of d over width columns: a line of
// ticks and a line of labels under them.
func Axis(d time.Duration, width int) (ticks, labels string) {
	step := tickStep(d, width)
	tickLine := []rune(strings.Repeat("─", width))
	labelLine := []rune(strings.Repeat(" ", width+6))
	next := 0 // the first column a label may use
	for t := time.Duration(0); t <= d; t += step {
		col := int(float64(t) / float64(d) * float64(width))
		if col >= width {
			break
		}
		tickLine[col] = '┬'
		label := formatTick(t)
		if col < next || col+len(label) > len(labelLine) {
			continue
		}
		copy(labelLine[col:], []rune(label))
		next = col + len(label) + 1
	}
	return string(tickLine), strings.TrimRight(string(labelLine), " ")
}

// tickStep picks a round interval between ticks: a few of them, and far
// enough apart for their labels.
func tickStep(d time.Duration, width int) time.Duration {
	for _, ms := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 15000, 30000, 60000} {
		step := time.Duration(ms) * time.Millisecond
		if d/step <= 8 && float64(step)/float64(d)*float64(width) >= 7 {
			return step
		}
	}
	return max(d/4, time.Millisecond)
}

// formatTick labels a tick: "0s", "0.5s", "1.25s", "15s".
func formatTick(t time.Duration) string {
	return strconv.FormatFloat(t.Round(time.Millisecond).Seconds(), 'f', -1, 64) + "s"
}

// DrawBars draws each run's wall time as a bar, all at one scale.
func DrawBars(w io.Writer, st term.Style, runs []*Run, width int) {
	longest := time.Duration(1)
	labelWidth := 0
	for _, r := range runs {
		longest = max(longest, r.Wall)
		labelWidth = max(labelWidth, len(r.Variant))
	}
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	for _, r := range runs {
		eighths := int(math.Round(float64(r.Wall) / float64(longest) * float64(width*8)))
		bar := strings.Repeat("█", eighths/8) + partial[eighths%8]
		pad := width - (eighths+7)/8
		fmt.Fprintf(w, "  %-*s  %s%s  %s\n", labelWidth, r.Variant, st.Paint("36", bar), strings.Repeat(" ", max(pad, 0)), term.Seconds(r.Wall.Seconds()))
	}
}
