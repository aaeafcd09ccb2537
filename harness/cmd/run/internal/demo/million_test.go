package demo

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/internal/term"
)

// millionResult returns a run of step 11's demo of 1,000 stations whose
// server held, per idle station, goroutines, and stack and heap KiB.
func millionResult(variant string, goroutines int, stackKiB, heapKiB float64) *runResult {
	const n = 1000
	before := procFigures{Goroutines: 20, Threads: 8, Heap: 2 << 20, Stacks: 256 << 10, RSS: 12 << 20}
	idle := procFigures{
		Goroutines: before.Goroutines + goroutines*n, Threads: 9,
		Heap:   before.Heap + uint64(heapKiB*1024*n),
		Stacks: before.Stacks + uint64(stackKiB*1024*n),
		RSS:    before.RSS + uint64(2*(heapKiB+stackKiB)*1024*n),
	}
	m := &millionRun{Before: before, Idle: idle, After: idle, Burst: 300 * time.Millisecond, BurstGoroutines: idle.Goroutines + 150, Poller: true}
	return &runResult{
		Run:     chart.Run{Variant: variant, Stations: n, Wall: 5 * time.Second, Phases: []chart.Phase{{Name: "connect"}}},
		Workers: 10, Planned: n, Answered: n, Million: m,
	}
}

func TestShowMillion(t *testing.T) {
	tests := []struct {
		name           string
		r              *runResult
		want, unwanted []string
	}{
		{"the starter", millionResult("your code", 1, 4, 3.5), []string{
			"Config.Workers 10 · 1,000 stations",
			"per idle station: 1.00 goroutine, 4.0 KiB of stack, 3.5 KiB of heap, 15.0 KiB of RSS",
			"1000/1000 Heartbeats answered in 0.3s · goroutines: 1,170 while they were answered, 1,020 once idle again",
			"goroutines", "stacks MiB", "↑connect",
		}, []string{"failed", "\x1b["}},
		{"the solution", millionResult("solution", 0, 0, 3), []string{
			"per idle station: 0.00 goroutines, 0.0 KiB of stack, 3.0 KiB of heap, 6.0 KiB of RSS",
		}, []string{"\x1b["}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			showMillion(&out, term.Style{}, tt.r)
			got := out.String()
			checkText(t, "the run's picture", got, tt.want, tt.unwanted)
		})
	}
}

func TestMillionSummary(t *testing.T) {
	runs := []*runResult{millionResult("your code", 1, 4, 3.5), millionResult("solution", 0, 0, 3)}
	want := "per idle station · your code: 1.00 goroutine, 4.0 KiB stack, 3.5 KiB heap, 15.0 KiB RSS  →  " +
		"solution: 0.00 goroutines, 0.0 KiB stack, 3.0 KiB heap, 6.0 KiB RSS"
	if got := millionSummary(runs); got != want {
		t.Errorf("millionSummary =\n  %q\nwant\n  %q", got, want)
	}
}

func TestMillionNotes(t *testing.T) {
	starter := func() *runResult { return millionResult("your code", 1, 4, 3.5) }
	solution := func() *runResult { return millionResult("solution", 0, 0, 3) }
	same := starter()
	same.SameAsSolution = true
	done := millionResult("your code", 0, 0, 3)
	noPoller := millionResult("solution", 1, 4, 3.5)
	noPoller.Million.Poller = false
	noRSS := starter()
	noRSS.Million.Idle.RSS = 0
	tests := []struct {
		name           string
		runs           []*runResult
		want, unwanted []string
	}{
		{"the starter", []*runResult{starter(), solution()}, []string{
			"Heartbeats sent all at once, answered: your code 1000/1000 in 0.3s, solution 1000/1000 in 0.3s.",
			"What an idle station still costs the solution, 3.0 KiB of heap, is its connection",
			"For a million idle stations, that is 14.3 GiB of memory (RSS) for your code, 5.7 GiB for the solution",
			"(at most 150 at once here)",
		}, nil},
		{"no RSS on this system", []*runResult{noRSS, solution()}, []string{
			"that is 7.2 GiB of stack and heap for your code, 2.9 GiB for the solution",
		}, []string{"RSS"}},
		{"the learner is done", []*runResult{done, solution()}, []string{"Your code holds no goroutine for an idle station either"}, []string{"a million"}},
		{"the solution itself", []*runResult{same, solution()}, []string{"Your code is the solution's"}, []string{"a million"}},
		{"no poller", []*runResult{starter(), noPoller}, []string{"no poller", "use WSL"}, []string{"a million"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(millionNotes(tt.runs), "\n")
			checkText(t, "the notes", got, tt.want, tt.unwanted)
			var out strings.Builder
			compareMillion(&out, term.Style{}, tt.runs)
			for i, line := range strings.Split(out.String(), "\n")[2:] { // under the summary
				if n := utf8.RuneCountInString(line); n > millionNoteWidth {
					t.Errorf("line %d of the notes has %d runes, over %d: %q", i+1, n, millionNoteWidth, line)
				}
			}
		})
	}
}

func TestParseStatm(t *testing.T) {
	tests := []struct {
		statm   string
		want    uint64
		wantErr bool
	}{
		{"2000 1500 300 100 0 900 0\n", 1500 * 4096, false},
		{"2000 0 0 0 0 0 0", 0, false},
		{"2000", 0, true},
		{"", 0, true},
		{"2000 many 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.statm), func(t *testing.T) {
			got, err := parseStatm(tt.statm, 4096)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseStatm(%q) = %d, %v; want %d, error %v", tt.statm, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// responder serves a bare OCPP central system on loopback that answers
// every CALL at once, BootNotification and Heartbeat alike, and returns
// its URL.
func responder(t *testing.T) string {
	t.Helper()
	up := websocket.Upgrader{Subprotocols: []string{"ocpp1.6"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			var call []json.RawMessage
			if err := ws.ReadJSON(&call); err != nil {
				return
			}
			if len(call) != 4 || string(call[0]) != "2" {
				continue
			}
			result := `{"currentTime":"2026-01-01T00:00:00.000Z"}`
			if string(call[2]) == `"BootNotification"` {
				result = `{"status":"Accepted","currentTime":"2026-01-01T00:00:00.000Z","interval":300}`
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`[3,`+string(call[1])+`,`+result+`]`)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp"
}

// The fleet does what it is told, says so line by line, and ends at the end
// of its commands, its stations closed.
func TestFleetMain(t *testing.T) {
	const n = 2*fleetEvery + 20
	url := responder(t)
	cmdR, cmdW := io.Pipe()
	outR, outW := io.Pipe()
	ended := make(chan error, 1)
	go func() {
		err := fleetMain(url, n, cmdR, outW)
		outW.Close()
		ended <- err
	}()
	t.Cleanup(func() { cmdW.Close(); outR.Close() })
	lines := bufio.NewScanner(outR)
	until := func(cmd, done string) []fleetEvent {
		t.Helper()
		fmt.Fprintln(cmdW, cmd)
		var got []fleetEvent
		for lines.Scan() {
			var ev fleetEvent
			if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
				t.Fatalf("%s: the fleet said %q: %v", cmd, lines.Text(), err)
			}
			got = append(got, ev)
			if ev.Event == done || ev.Event == "failed" {
				return got
			}
		}
		t.Fatalf("%s: the fleet ended after %+v, before %q", cmd, got, done)
		return nil
	}

	connected := until("connect", "ready")
	want := []fleetEvent{{Event: "booted", N: fleetEvery}, {Event: "booted", N: 2 * fleetEvery}, {Event: "ready", N: n}}
	if fmt.Sprint(connected) != fmt.Sprint(want) {
		t.Errorf("connect: the fleet said %+v, want %+v", connected, want)
	}
	answered := until("heartbeat", "heartbeats")
	last := answered[len(answered)-1]
	if last.Event != "heartbeats" || last.N != n || last.Failed != 0 || last.Took <= 0 {
		t.Errorf("heartbeat: the fleet ended with %+v, want %d answered, none failed, and how long they took", last, n)
	}
	if len(answered) != 3 {
		t.Errorf("heartbeat: the fleet said %+v, want two lines of progress, then the Heartbeats' end", answered)
	}
	cmdW.Close()
	if err := <-ended; err != nil {
		t.Errorf("the fleet, at the end of its commands: %v, want nil", err)
	}
}

// A command the fleet does not know ends it, and says why.
func TestFleetUnknownCommand(t *testing.T) {
	var out strings.Builder
	err := fleetMain(responder(t), 1, strings.NewReader("dance\n"), &out)
	if err == nil || !strings.Contains(out.String(), `"event":"failed"`) || !strings.Contains(out.String(), "dance") {
		t.Errorf("fleetMain with a command it does not know: %v, and it said %q; want an error, said as failed", err, out.String())
	}
}

// do hands each event to its caller until the command's end, and tells a
// fleet's failure and its early end from that end.
func TestFleetDo(t *testing.T) {
	tests := []struct {
		name    string
		events  []fleetEvent
		close   bool
		wantErr string
		wantN   []int
	}{
		{"done", []fleetEvent{{Event: "booted", N: 100}, {Event: "ready", N: 150}, {Event: "booted", N: 999}}, false, "", []int{100, 150}},
		{"failed", []fleetEvent{{Event: "booted", N: 100}, {Event: "failed", Err: "CS0101: connection refused"}}, false, "connect: CS0101: connection refused", []int{100}},
		{"ended", []fleetEvent{{Event: "booted", N: 100}}, true, "connect: it ended before it was done", []int{100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := make(chan fleetEvent, len(tt.events))
			for _, ev := range tt.events {
				events <- ev
			}
			if tt.close {
				close(events)
			}
			f := &fleetProc{in: nopWriteCloser{io.Discard}, events: events}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound, should do wait for ever
			defer cancel()
			var got []int
			err := f.do(ctx, "connect", func(ev fleetEvent) { got = append(got, ev.N) })
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("do = %v, want %q", err, tt.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantN) {
				t.Errorf("do handed on %v, want %v", got, tt.wantN)
			}
		})
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
