package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 11's demo: a few thousand stations connect, boot and stay idle; then
// every one sends a Heartbeat, all at once, and they go idle again. The
// stations run in a process of their own, the fleet (this program again:
// run demo -fleet), so that what a run reads of its own process, the
// server's, is the server's alone: its goroutines, OS threads, heap, stacks
// and resident memory. Each station costs a descriptor on either side.
const (
	millionFleet  = 5000
	millionMargin = 200                    // descriptors left to the rest of a process when the open-files limit is near
	millionIdle   = time.Second            // each idle spell, before the server settles and is read
	millionEvery  = 50 * time.Millisecond  // the gauges' pace
	millionQuiet  = 200 * time.Millisecond // settle waits for the goroutines to stay as many for this long,
	millionSettle = 5 * time.Second        // or this long at most
	millionTopKiB = 16                     // a full block of a memory row: this much per station
)

// millionRun is what one run of step 11's demo measured of the server's
// process.
type millionRun struct {
	// Before, Idle and After are its figures with no station connected,
	// with every station connected, booted and idle, and once they are
	// idle again after their Heartbeats.
	Before, Idle, After procFigures
	// Burst is how long the Heartbeats took, from the first sent to the
	// last answered, as the fleet timed them; BurstGoroutines the most
	// goroutines read while they were answered.
	Burst           time.Duration `json:"burst"`
	BurstGoroutines int           `json:"burstGoroutines"`
	// Poller reports that this system has the poller step 11 builds on
	// (netpoll: Linux and macOS). Without it, the solution reads every
	// station with a goroutine of its own, as step 10 did.
	Poller bool `json:"poller"`
	// Cut says why the fleet is smaller than millionFleet, if it is.
	Cut string `json:"cut,omitempty"`
}

// procFigures are what a process holds at one moment, read after a
// garbage collection: the heap is what is live, and RSS what the runtime
// kept once it gave the rest back.
type procFigures struct {
	Goroutines int    `json:"goroutines"`
	Threads    int    `json:"threads"`
	Heap       uint64 `json:"heap"`   // bytes of live objects
	Stacks     uint64 `json:"stacks"` // bytes of goroutine stacks
	RSS        uint64 `json:"rss"`    // resident bytes; 0: not read on this system
}

func millionScenario() scenario {
	intro := fmt.Sprintf(`%s stations connect over loopback, boot, and stay idle. Then every one sends a Heartbeat,
all at once, and they go idle again. The stations run in a process of their own, so that what
is read of the server's process is the server's alone: its goroutines, OS threads, heap and
stacks (runtime/metrics) and its RSS, the memory the system gives it, every %v. The figures
per idle station are read after a garbage collection, less what the server held before the
stations came.`, term.Thousands(millionFleet), millionEvery)
	return scenario{
		intro:   intro,
		unit:    "steps (boot, answer)",
		run:     runMillion,
		show:    showMillion,
		compare: compareMillion,
	}
}

func runMillion(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, _ []string, workers int, progress func(done, total int)) (*runResult, error) {
	m := &millionRun{Poller: netpoll.Supported}
	n := millionFleet
	// Each station is a socket in the server's process, and one in the
	// fleet's.
	if limit := openFileLimit(); limit > 0 && n+millionMargin > limit {
		n = limit - millionMargin
		m.Cut = fmt.Sprintf("the open-files limit, %s, leaves room for %s", term.Thousands(int64(limit)), term.Thousands(int64(n)))
		if n < 100 {
			return nil, fmt.Errorf("%s stations: too few to measure one by", m.Cut)
		}
	}
	b := backend.New(backend.Options{NoRecords: true})
	opts, stop, err := onLoopback(newServer(steplink.Config{Backend: b, Workers: workers}))
	if err != nil {
		return nil, err
	}
	fleet, err := startFleet(ctx, opts.URL, n)
	if err != nil {
		return nil, errors.Join(err, stop())
	}
	defer fleet.stop()

	r := &runResult{Run: chart.Run{Variant: v, Stations: n}, Workers: workers, Planned: n, Million: m}
	settle()
	m.Before = readFigures()
	start := time.Now()
	gauges := chart.StartSampling(start, millionEvery, millionGauges)
	mark := func(name string) { r.Phases = append(r.Phases, chart.Phase{Name: name, At: time.Since(start)}) }

	mark("connect")
	err = fleet.do(ctx, "connect", func(ev fleetEvent) { progress(ev.N, 2*n) })
	if err == nil {
		mark("idle")
		time.Sleep(millionIdle)
		settle()
		m.Idle = readFigures()
		mark("heartbeats")
		var done fleetEvent
		err = fleet.do(ctx, "heartbeat", func(ev fleetEvent) {
			progress(n+ev.N+ev.Failed, 2*n)
			done = ev
		})
		r.Answered, r.Failed, m.Burst = done.N, done.Failed, done.Took
		mark("idle")
		time.Sleep(millionIdle)
		settle()
		m.After = readFigures()
	}
	r.Wall = time.Since(start)
	r.Samples = gauges.Stop()
	m.BurstGoroutines = burstPeak(r)
	if stopErr := fleet.stop(); err == nil {
		err = stopErr
	}
	if stopErr := stop(); err == nil {
		err = stopErr
	}
	return r, err
}

// burstPeak returns the most goroutines read from the Heartbeats' start to
// the idle spell after them.
func burstPeak(r *runResult) int {
	from, to := phaseAt(r, "heartbeats"), r.Wall
	if len(r.Phases) > 0 && r.Phases[len(r.Phases)-1].At > from {
		to = r.Phases[len(r.Phases)-1].At
	}
	top := 0
	for _, s := range r.Samples {
		if s.At >= from && s.At <= to+millionEvery {
			top = max(top, s.Goroutines)
		}
	}
	return top
}

// settle waits until the process's goroutines have been as many for
// millionQuiet, or millionSettle has passed: a reader that answered a
// station ends a moment after the answer is written, and the figures are
// the idle ones.
func settle() {
	n, quiet := runtime.NumGoroutine(), time.Duration(0)
	const tick = 10 * time.Millisecond
	for waited := time.Duration(0); quiet < millionQuiet && waited < millionSettle; waited += tick {
		time.Sleep(tick)
		if m := runtime.NumGoroutine(); m == n {
			quiet += tick
		} else {
			n, quiet = m, 0
		}
	}
}

// readFigures collects the garbage, gives the free memory back to the
// system, and reads what the process holds.
func readFigures() procFigures {
	debug.FreeOSMemory()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	f := procFigures{Goroutines: runtime.NumGoroutine(), Heap: metricBytes(s[0]), Stacks: metricBytes(s[1])}
	f.Threads, _ = chart.Threads()
	if rss, err := readRSS(); err == nil {
		f.RSS = rss
	}
	return f
}

// millionGauges reads the gauges of step 11's pictures: goroutines, OS
// threads, the heap (live objects and garbage not yet collected), stacks,
// and RSS where it is cheap to read.
func millionGauges() chart.Sample {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	g := chart.ProcessGauges()
	g.HeapMiB, g.StackMiB = toMiB(metricBytes(s[0])), toMiB(metricBytes(s[1]))
	if rssSampled {
		if rss, err := readRSS(); err == nil {
			g.RSSMiB = toMiB(rss)
		}
	}
	return g
}

// metricBytes returns a sample's value, or 0 if this runtime has no such
// metric.
func metricBytes(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// toMiB rounds bytes to MiB.
func toMiB(b uint64) int { return int((b + 1<<19) >> 20) }

// parseStatm returns the resident bytes that /proc/PID/statm gives: its
// second field, in pages.
func parseStatm(statm string, pageSize int) (uint64, error) {
	fields := strings.Fields(statm)
	if len(fields) < 2 {
		return 0, fmt.Errorf("statm %q: want at least two fields", statm)
	}
	pages, err := strconv.ParseUint(fields[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm %q: resident pages: %w", statm, err)
	}
	return pages * uint64(pageSize), nil
}

// perStation returns what each of n stations added to a figure, from
// before to now. A figure that fell gives a negative share: noise, shown
// as it is.
func perStation(before, now uint64, n int) float64 {
	return (float64(now) - float64(before)) / float64(max(n, 1))
}

// idleCost is what an idle station costs a run's server: goroutines, and
// bytes of stack, heap and RSS (rss false: not read here).
type idleCost struct {
	goroutines, stack, heap, rss float64
	hasRSS                       bool
}

func (m *millionRun) idleCost(n int) idleCost {
	return idleCost{
		goroutines: float64(m.Idle.Goroutines-m.Before.Goroutines) / float64(max(n, 1)),
		stack:      perStation(m.Before.Stacks, m.Idle.Stacks, n),
		heap:       perStation(m.Before.Heap, m.Idle.Heap, n),
		rss:        perStation(m.Before.RSS, m.Idle.RSS, n),
		hasRSS:     m.Before.RSS > 0 && m.Idle.RSS > 0,
	}
}

// kib writes bytes in KiB, to a tenth.
func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// goroutinesEach writes goroutines per station, to a hundredth.
func goroutinesEach(g float64) string {
	if g > 0.995 && g < 1.005 {
		return "1.00 goroutine"
	}
	return fmt.Sprintf("%.2f goroutines", g)
}

func (c idleCost) String() string {
	text := fmt.Sprintf("%s, %s of stack, %s of heap", goroutinesEach(c.goroutines), kib(c.stack), kib(c.heap))
	if c.hasRSS {
		text += ", " + kib(c.rss) + " of RSS"
	}
	return text
}

func showMillion(w io.Writer, st term.Style, r *runResult) {
	m := r.Million
	detail := fmt.Sprintf("Config.Workers %d · %s stations", r.Workers, term.Thousands(int64(r.Stations)))
	if m.Cut != "" {
		detail += " (" + m.Cut + ")"
	}
	runHeader(w, st, r, detail)
	fmt.Fprintf(w, "per idle station: %s\n", m.idleCost(r.Stations))
	fmt.Fprintf(w, "%s in %s · goroutines: %s while they were answered, %s once idle again\n\n",
		answered(st, r, "Heartbeats"), term.Seconds(m.Burst.Seconds()),
		term.Thousands(int64(m.BurstGoroutines)), term.Thousands(int64(m.After.Goroutines)))
	// The memory rows share one scale in every run, so that the runs'
	// pictures compare: a full block is millionTopKiB per station.
	memTop := max(r.Stations*millionTopKiB/1024, 1)
	rows := []chart.GaugeRow{
		{Name: "goroutines", Gauge: func(s chart.Sample) int { return s.Goroutines }, Top: r.Stations, Color: "33"},
		{Name: "OS threads", Gauge: func(s chart.Sample) int { return s.Threads }, Top: r.Stations, Color: "33"},
		{Name: "heap MiB", Gauge: func(s chart.Sample) int { return s.HeapMiB }, Top: memTop, Color: "36"},
		{Name: "stacks MiB", Gauge: func(s chart.Sample) int { return s.StackMiB }, Top: memTop, Color: "36"},
	}
	if rssSampled {
		rows = append(rows, chart.GaugeRow{Name: "RSS MiB", Gauge: func(s chart.Sample) int { return s.RSSMiB }, Top: memTop, Color: "35"})
	}
	chart.DrawGauges(w, st, &r.Run, rows)
}

// compareMillion sums up step 11's runs: what an idle station costs each,
// and that the Heartbeats were answered all the same.
func compareMillion(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Bold(millionSummary(runs)))
	for _, text := range millionNotes(runs) {
		fmt.Fprintln(w, term.Wrap(text, millionNoteWidth))
	}
}

// millionNoteWidth is how wide the notes under the summary are wrapped.
const millionNoteWidth = 100

// millionSummary is the line that sums up the runs: what an idle station
// costs each.
func millionSummary(runs []*runResult) string {
	line := "per idle station · "
	for i, r := range runs {
		if i > 0 {
			line += "  →  "
		}
		c := r.Million.idleCost(r.Stations)
		line += fmt.Sprintf("%s: %s, %s stack, %s heap", r.Variant, goroutinesEach(c.goroutines), kib(c.stack), kib(c.heap))
		if c.hasRSS {
			line += ", " + kib(c.rss) + " RSS"
		}
	}
	return line
}

// millionNotes says, in a few paragraphs, what the runs' figures mean.
func millionNotes(runs []*runResult) []string {
	var answers []string
	for _, r := range runs {
		answers = append(answers, fmt.Sprintf("%s %d/%d in %s", r.Variant, r.Answered, r.Planned, term.Seconds(r.Million.Burst.Seconds())))
	}
	notes := []string{fmt.Sprintf("Heartbeats sent all at once, answered: %s.", strings.Join(answers, ", "))}
	last := runs[len(runs)-1]
	if last.Variant == "solution" && !last.Million.Poller {
		return append(notes, "This system has no poller for harness/netpoll (Linux and macOS have one; on Windows, use "+
			"WSL): the solution read every station with a goroutine of its own, as step 10 did.")
	}
	if len(runs) != 2 {
		return notes
	}
	mine, theirs := runs[0].Million.idleCost(runs[0].Stations), runs[1].Million.idleCost(runs[1].Stations)
	switch {
	case runs[0].SameAsSolution:
		notes = append(notes, "Your code is the solution's: the two runs should look alike.")
	case mine.goroutines < 0.5:
		notes = append(notes, "Your code holds no goroutine for an idle station either: a station costs its socket "+
			"and its state, and a goroutine only while it has something to say.")
	default:
		memory := "stack and heap"
		costs := func(c idleCost) float64 { return c.stack + c.heap }
		if mine.hasRSS && theirs.hasRSS {
			memory, costs = "memory (RSS)", func(c idleCost) float64 { return c.rss }
		}
		notes = append(notes, fmt.Sprintf("Your code parks a goroutine on every idle station's socket, with its stack. "+
			"For a million idle stations, that is %s of %s for your code, %s for the solution: it starts a goroutine "+
			"for a station only when the poller says the station has something to say (at most %s at once here), "+
			"and the goroutine ends once the station is answered. What an idle station still costs the solution, "+
			"%s of heap, is its connection and the server's state for it.",
			perMillion(costs(mine)), memory, perMillion(costs(theirs)), term.Thousands(int64(runs[1].Million.BurstGoroutines-runs[1].Million.Idle.Goroutines)),
			kib(theirs.heap)))
	}
	return notes
}

// perMillion writes what a million stations cost at b bytes each, in GiB.
func perMillion(b float64) string { return fmt.Sprintf("%.1f GiB", b*1e6/(1<<30)) }

// The fleet: the stations of step 11's demo, in a process of their own.
// It reads commands from its stdin, a line each, and writes what came of
// them to its stdout, a fleetEvent a line: "connect" dials and boots every
// station, "heartbeat" has each send a Heartbeat at once. At the end of its
// stdin, it closes the stations and ends.

// A fleetEvent is what the fleet says, on a line of JSON.
type fleetEvent struct {
	// Event is "booted" (N stations so far), "ready" (all N booted),
	// "answered" (N Heartbeats so far), "heartbeats" (N answered, Failed
	// not, in Took), or "failed" (Err).
	Event  string        `json:"event"`
	N      int           `json:"n,omitempty"`
	Failed int           `json:"failed,omitempty"`
	Took   time.Duration `json:"took,omitempty"`
	Err    string        `json:"err,omitempty"`
}

// fleetDone returns the event that ends a command.
func fleetDone(cmd string) string {
	switch cmd {
	case "connect":
		return "ready"
	case "heartbeat":
		return "heartbeats"
	}
	return ""
}

// fleetEvery is how often, in stations, the fleet reports its progress.
const fleetEvery = 100

// fleetMain is the fleet: n stations of url, told what to do by in, saying
// what they did on out.
func fleetMain(url string, n int, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), demoRunTimeout)
	defer cancel()
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	say := func(ev fleetEvent) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev) // the server's process reads it; if it is gone, so is the run
	}
	fail := func(err error) error {
		say(fleetEvent{Event: "failed", Err: err.Error()})
		return err
	}
	var stations []*station.Station
	defer func() { closeAll(stations) }()
	commands := bufio.NewScanner(in)
	for commands.Scan() {
		switch cmd := commands.Text(); cmd {
		case "connect":
			var err error
			stations, err = bootAll(ctx, station.Options{URL: url}, n, func(k int) {
				if k%fleetEvery == 0 {
					say(fleetEvent{Event: "booted", N: k})
				}
			})
			if err != nil {
				return fail(err)
			}
			say(fleetEvent{Event: "ready", N: n})
		case "heartbeat":
			var r runResult
			start := time.Now()
			err := heartbeats(ctx, stations, func(k int) {
				if k%fleetEvery == 0 {
					say(fleetEvent{Event: "answered", N: k})
				}
			}, &r)
			if err != nil {
				return fail(err)
			}
			say(fleetEvent{Event: "heartbeats", N: r.Answered, Failed: r.Failed, Took: time.Since(start)})
		default:
			return fail(fmt.Errorf("unknown command %q: want connect or heartbeat", cmd))
		}
	}
	return commands.Err()
}

// bootAll dials n stations, a few at a time, and boots each.
func bootAll(ctx context.Context, opts station.Options, n int, progress func(int)) ([]*station.Station, error) {
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}
	return dialAll(ctx, opts, n, func(st *station.Station) error {
		return st.Call(ctx, ocpp.ActionBootNotification, boot, nil)
	}, progress)
}

// fleetProc is the fleet's process, seen from the server's.
type fleetProc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	events chan fleetEvent // closed when the fleet's stdout ends

	once sync.Once
	err  error
}

// startFleet starts a fleet of n stations of url. The fleet waits for its
// first command.
func startFleet(ctx context.Context, url string, n int) (*fleetProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to run the stations: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "demo", "-fleet", url, "-stations", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("the stations' process: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("the stations' process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the stations' process: %w", err)
	}
	f := &fleetProc{cmd: cmd, in: in, events: make(chan fleetEvent)}
	go func() {
		defer close(f.events)
		dec := json.NewDecoder(out)
		for {
			var ev fleetEvent
			if err := dec.Decode(&ev); err != nil {
				if !errors.Is(err, io.EOF) {
					f.events <- fleetEvent{Event: "failed", Err: fmt.Sprintf("reading what it says: %v", err)}
				}
				return
			}
			f.events <- ev
		}
	}()
	return f, nil
}

// do sends the fleet a command and hands each event that follows to each,
// until the one that ends the command.
func (f *fleetProc) do(ctx context.Context, cmd string, each func(fleetEvent)) error {
	if _, err := fmt.Fprintln(f.in, cmd); err != nil {
		return fmt.Errorf("the stations' process, %s: %w", cmd, err)
	}
	for {
		select {
		case ev, ok := <-f.events:
			switch {
			case !ok:
				return fmt.Errorf("the stations' process, %s: it ended before it was done", cmd)
			case ev.Event == "failed":
				return fmt.Errorf("the stations' process, %s: %s", cmd, ev.Err)
			}
			each(ev)
			if ev.Event == fleetDone(cmd) {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("the stations' process, %s: %w", cmd, ctx.Err())
		}
	}
}

// stop has the fleet close its stations and end, and waits for it. It
// returns the same each time.
func (f *fleetProc) stop() error {
	f.once.Do(func() {
		f.in.Close()
		for range f.events { // what it still says; its end lets Wait return
		}
		if err := f.cmd.Wait(); err != nil {
			f.err = fmt.Errorf("the stations' process: %w", err)
		}
	})
	return f.err
}
