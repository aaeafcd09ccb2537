package bench

import (
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

func TestFormatTable(t *testing.T) {
	got := formatTable("make bench: test", []benchRow{
		{phase: "throughput", what: "final server, pair 1", result: "30,000 calls/s", repro: "make bench PHASE=throughput"},
		{phase: "idle", what: "10,000 stations × idle", result: "8 OS threads", repro: "make bench PHASE=idle"},
	})
	want := "make bench: test\n\n" +
		"phase       what                    result          reproduce with\n" +
		"throughput  final server, pair 1    30,000 calls/s  make bench PHASE=throughput\n" +
		"idle        10,000 stations × idle  8 OS threads    make bench PHASE=idle\n"
	if got != want {
		t.Errorf("formatTable:\n%s\nwant:\n%s", got, want)
	}
}

func TestAddMarksFailure(t *testing.T) {
	b := &bench{}
	b.add(benchRow{phase: "session", result: "the server did not start", failed: true})
	if got := b.rows[0].result; got != "FAILED: the server did not start" {
		t.Errorf("failed row's result = %q, want it to begin with FAILED:", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want float64
	}{
		{"none", nil, 0},
		{"odd, unsorted", []float64{0.9, 0.5, 0.7}, 0.7},
		{"even: the mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]float64(nil), tc.xs...)
			if got := median(tc.xs); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
			for i := range before {
				if before[i] != tc.xs[i] {
					t.Fatalf("median reordered its argument: %v, was %v", tc.xs, before)
				}
			}
		})
	}
}

func TestParseProcStatus(t *testing.T) {
	const status = "Name:\tkata-run\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1300000 kB\nVmRSS:\t   81234 kB\nRssAnon:\t   70000 kB\nRssFile:\t   11000 kB\nThreads:\t9\nSigQ:\t0/1000\n"
	t.Run("linux status", func(t *testing.T) {
		got, err := parseProcStatus(status)
		if err != nil {
			t.Fatal(err)
		}
		if want := (procStatus{threads: 9, rss: 81234 * 1024, rssFile: 11000 * 1024}); got != want {
			t.Errorf("parseProcStatus = %+v, want %+v", got, want)
		}
	})
	for _, tc := range []struct{ name, text string }{
		{"no Threads", "VmRSS:\t 10 kB\n"},
		{"no VmRSS (a kernel thread)", "Threads:\t1\n"},
		{"VmRSS in another unit", "VmRSS:\t 10 MB\nThreads:\t1\n"},
		{"Threads not a number", "VmRSS:\t 10 kB\nThreads:\tmany\n"},
		{"RssFile not a number", "VmRSS:\t 10 kB\nRssFile:\tsome kB\nThreads:\t1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := parseProcStatus(tc.text); err == nil {
				t.Errorf("parseProcStatus(%q) = %+v, want an error", tc.text, got)
			}
		})
	}
}

func TestParseMetric(t *testing.T) {
	const text = "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\n" +
		"go_goroutines 10126\ngo_goroutines_extra 3\ngo_threads 8\nprocess_resident_memory_bytes 1.23456789e+08\n" +
		"ocpp_calls_total{action=\"Heartbeat\",result=\"ok\"} 5\n"
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"go_goroutines", 10126},
		{"go_threads", 8},
		{"process_resident_memory_bytes", 123456789},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetric(text, tc.name)
			if err != nil || got != tc.want {
				t.Errorf("parseMetric(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, err := parseMetric(text, "go_gc_duration_seconds"); err == nil {
			t.Error("parseMetric of a metric not there: no error")
		}
	})
}

func TestCallID(t *testing.T) {
	for _, tc := range []struct {
		frame, id string
		ok        bool
	}{
		{`[2,"17","Heartbeat",{}]`, "17", true},
		{` [2, "a-b", "BootNotification", {"x":1}]`, "a-b", true},
		{`[3,"17",{}]`, "", false},
		{`[2,`, "", false},
		{`[2,"17`, "", false},
	} {
		t.Run(tc.frame, func(t *testing.T) {
			id, ok := callID([]byte(tc.frame))
			if string(id) != tc.id || ok != tc.ok {
				t.Errorf("callID = %q, %v; want %q, %v", id, ok, tc.id, tc.ok)
			}
		})
	}
}

// TestCeilingAnswersStations runs the ceiling's handler under a real
// station: the answer must be a CALLRESULT the station takes for one.
func TestCeilingAnswersStations(t *testing.T) {
	srv := httptest.NewServer(ceiling())
	t.Cleanup(srv.Close)
	s, err := station.Dial(t.Context(), "CS0001", station.Options{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for range 3 {
		var resp ocpp.HeartbeatResponse
		if err := s.Call(t.Context(), ocpp.ActionHeartbeat, nil, &resp); err != nil {
			t.Fatalf("Heartbeat to the ceiling: %v", err)
		}
		if resp.CurrentTime.IsZero() {
			t.Fatal("the ceiling's Heartbeat answer has no currentTime")
		}
	}
}

func TestParsePhases(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{"all", benchPhases},
		{"idle", []string{"idle"}},
		{"before, throughput,before", []string{"throughput", "before"}},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			got, err := parsePhases(tc.arg)
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("parsePhases(%q) = %v, %v; want %v", tc.arg, got, err, tc.want)
			}
		})
	}
	if _, err := parsePhases("throughput,memory"); err == nil {
		t.Error("parsePhases of an unknown phase: no error")
	}
}

func TestRepro(t *testing.T) {
	b := &bench{opts: benchOptions{set: map[string]string{"stations": "400", "calls": "50", "idle-stations": "2000", "workers": "10"}}}
	for _, tc := range []struct{ phase, want string }{
		{"throughput", "make bench PHASE=throughput BENCH='-calls 50 -stations 400 -workers 10'"},
		{"idle", "make bench PHASE=idle BENCH='-idle-stations 2000 -workers 10'"},
	} {
		if got := b.repro(tc.phase); got != tc.want {
			t.Errorf("repro(%s) = %q, want %q", tc.phase, got, tc.want)
		}
	}
	if got := (&bench{}).repro("session"); got != "make bench PHASE=session" {
		t.Errorf("repro with defaults = %q, want make bench PHASE=session", got)
	}
}

func TestThousandsAndLatency(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 31204: "31,204", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := term.Thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{468 * time.Microsecond: "468µs", 3300 * time.Microsecond: "3.3ms", 234 * time.Millisecond: "234ms", 1592 * time.Millisecond: "1.59s"} {
		if got := latency(d); got != want {
			t.Errorf("latency(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestExpectedStore(t *testing.T) {
	ok := func(action string) station.CallRecord { return station.CallRecord{Action: action} }
	failed := func(action string) station.CallRecord {
		return station.CallRecord{Action: action, Err: errors.New("no answer")}
	}
	rep := &station.Report{Stations: []station.StationReport{
		{Calls: []station.CallRecord{ok(ocpp.ActionStartTransaction), ok(ocpp.ActionMeterValues), ok(ocpp.ActionMeterValues), ok(ocpp.ActionStopTransaction)}},
		{Calls: []station.CallRecord{ok(ocpp.ActionStartTransaction), ok(ocpp.ActionMeterValues), failed(ocpp.ActionMeterValues)}},
		{Calls: []station.CallRecord{failed(ocpp.ActionStartTransaction)}},
	}}
	want := storeCount{transactions: 2, stopped: 1, samples: 3 * samplesPerMeterValues}
	if got := expectedStore(rep); got != want {
		t.Errorf("expectedStore = %+v, want %+v", got, want)
	}
}

// TestChildThatDoesNotStart runs, as the "server", this test binary with no
// test to run: it says PASS and exits at once, and the bench must say that
// the server did not start, with what it said, rather than wait.
func TestChildThatDoesNotStart(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{root: t.TempDir(), tmp: t.TempDir()}
	t.Cleanup(b.stopChildren)
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.startChild("final server", addr, self, "-test.run=^$")
	if err != nil {
		t.Fatal(err)
	}
	err = c.ready(t.Context(), "http://"+addr+"/metrics")
	if err == nil || !strings.Contains(err.Error(), "the final server did not start") || !strings.Contains(err.Error(), "PASS") {
		t.Errorf("ready for a child that exited = %v; want it to say the final server did not start, and what it said (PASS)", err)
	}
}

func TestParsePs(t *testing.T) {
	rss, err := parsePsRSS("  81234\n")
	if err != nil || rss != 81234*1024 {
		t.Errorf("parsePsRSS = %d, %v; want %d", rss, err, 81234*1024)
	}
	if _, err := parsePsRSS(""); err == nil {
		t.Error("parsePsRSS of nothing (the process is gone): no error")
	}
	const threads = "USER   PID   TT  %CPU STAT PRI     STIME     UTIME COMMAND\n" +
		"me   4011 s000   0.0 S    31T   0:00.01   0:00.02 final serve\n" +
		"     4011        0.0 S    31T   0:00.00   0:00.00\n" +
		"     4011        0.0 S    31T   0:00.00   0:00.00\n"
	if got := psThreads(threads); got != 3 {
		t.Errorf("psThreads = %d, want 3", got)
	}
}

func TestSlowestAction(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	call := func(action string, ms int) station.CallRecord {
		return station.CallRecord{Action: action, Sent: at, Received: at.Add(time.Duration(ms) * time.Millisecond)}
	}
	rep := &station.Report{Stations: []station.StationReport{
		{Calls: []station.CallRecord{call(ocpp.ActionBootNotification, 40), call(ocpp.ActionHeartbeat, 2)}},
		{Calls: []station.CallRecord{call(ocpp.ActionBootNotification, 900), call(ocpp.ActionHeartbeat, 3)}},
	}}
	if got, want := slowestAction(rep), "BootNotification, p99 900ms"; got != want {
		t.Errorf("slowestAction = %q, want %q", got, want)
	}
	if got := slowestAction(&station.Report{}); got != "none answered" {
		t.Errorf("slowestAction of no calls = %q, want none answered", got)
	}
}

func TestParseProcStat(t *testing.T) {
	// A name with a space and a parenthesis, as a process may name itself.
	line := "4242 (run (x) y) S 1 4242 4242 0 -1 4194560 3200 0 0 0 250 70 0 0 20 0 9 0 1234 1000000 2000 18446744073709551615"
	got, err := parseProcStat(line)
	if err != nil || got != 3200*time.Millisecond {
		t.Errorf("parseProcStat = %v, %v; want 3.2s (250 + 70 ticks)", got, err)
	}
	if _, err := parseProcStat("4242 (run) S 1 2"); err == nil {
		t.Error("parseProcStat of a short line: no error")
	}
}

func TestParsePsTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0:01.50\n", 1500 * time.Millisecond},
		{"  2:03.25", 2*time.Minute + 3250*time.Millisecond},
		{"1:00:02.00", time.Hour + 2*time.Second},
	}
	for _, tt := range tests {
		if got, err := parsePsTime(tt.in); err != nil || got != tt.want {
			t.Errorf("parsePsTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := parsePsTime("soon"); err == nil {
		t.Error(`parsePsTime("soon"): no error`)
	}
}

func TestQuartiles(t *testing.T) {
	tests := []struct {
		xs     []float64
		q1, q3 float64
	}{
		{[]float64{1}, 1, 1},
		{[]float64{4, 1, 3, 2}, 1.5, 3.5},
		{[]float64{5, 1, 4, 2, 3}, 1.5, 4.5},
		{[]float64{7, 1, 6, 2, 5, 3, 4}, 2, 6},
	}
	for _, tt := range tests {
		if q1, q3 := quartiles(tt.xs); q1 != tt.q1 || q3 != tt.q3 {
			t.Errorf("quartiles(%v) = %v, %v; want %v, %v", tt.xs, q1, q3, tt.q1, tt.q3)
		}
	}
}
