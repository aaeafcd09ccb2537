package demo

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/internal/term"
)

// clusterResult returns a run of step 10's demo whose rounds went as
// rounds says, and whose killed node's stations moved half to each other
// node.
func clusterResult(variant string, rounds []clusterRound) *runResult {
	c := &clusterRun{
		Nodes: []string{"node-1", "node-2", "node-3"}, PerNode: 100, KilledAt: 30 * time.Millisecond,
		Rounds: rounds, MovedTo: map[string]int{"node-1": 50, "node-2": 50}, MovedBy: 450 * time.Millisecond,
	}
	return &runResult{Run: chart.Run{Variant: variant, Stations: clusterStations, Wall: 6 * time.Second}, Cluster: c}
}

// starterRounds are the starter's: node-1 answers its own stations, and
// half of the killed node's once they moved.
func starterRounds() []clusterRound {
	var rounds []clusterRound
	for i := range clusterRounds {
		if i < clusterKillRound {
			rounds = append(rounds, clusterRound{Answered: 100, NotConnected: 200, Doomed: 100})
		} else {
			rounds = append(rounds, clusterRound{Answered: 150, NotConnected: 150, Doomed: 100, DoomedAnswered: 50})
		}
	}
	return rounds
}

// solutionRounds are the solution's: every call answered but those in
// flight on the killed node, which fail after two KeepAlives.
func solutionRounds() []clusterRound {
	var rounds []clusterRound
	for i := range clusterRounds {
		switch {
		case i+1 == clusterKillRound:
			rounds = append(rounds, clusterRound{Answered: 200, Failed: 100, Disconnected: 100, FailedBy: 2040 * time.Millisecond, Doomed: 100,
				Why: "GetConfiguration to CS0300: the node that holds it said nothing for 2s: station disconnected before answering"})
		case i+1 > clusterKillRound:
			rounds = append(rounds, clusterRound{Answered: 300, Doomed: 100, DoomedAnswered: 100})
		default:
			rounds = append(rounds, clusterRound{Answered: 300, Doomed: 100, DoomedAnswered: 100})
		}
	}
	return rounds
}

func TestShowCluster(t *testing.T) {
	tests := []struct {
		name           string
		r              *runResult
		want, unwanted []string
	}{
		{"the starter", clusterResult("your code", starterRounds()), []string{
			"3 nodes · 300 stations · operator on node-1 · 6 rounds in 6.0s",
			"round  calls from node-1               answered  not connected  failed  node-3's stations answered",
			"1      ██████████░░░░░░░░░░░░░░░░░░░░       100            200       0    0/100 on node-3",
			"3 ✝    ██████████░░░░░░░░░░░░░░░░░░░░       100            200       0    0/100 on node-3",
			"4      ███████████████░░░░░░░░░░░░░░░       150            150       0   50/100 moved",
			"✝ node-3 killed 0.03s into round 3",
			"(node-1 50, node-2 50), the last 0.45s after the kill",
			"node-1 reaches only the stations connected to it: 100 of 300 before the kill, 150 after",
			"409",
		}, []string{"✗ round", "e.g.", "\x1b["}},
		{"the solution", clusterResult("solution", solutionRounds()), []string{
			"1      ██████████████████████████████       300              0       0  100/100 on node-3",
			"3 ✝    ████████████████████✗✗✗✗✗✗✗✗✗✗       200              0     100    0/100 on node-3",
			"4      ██████████████████████████████       300              0       0  100/100 moved",
			"✗ round 3: 100 calls failed, the last 2.04s into the round: they were in flight on node-3 when",
			"ErrDisconnected",
			"e.g. GetConfiguration to CS0300",
		}, []string{"░ ", "409", "\x1b["}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			showCluster(&out, term.Style{}, tt.r)
			got := out.String()
			checkText(t, "the run's picture", got, tt.want, tt.unwanted)
			for line := range strings.Lines(got) {
				if n := utf8.RuneCountInString(strings.TrimRight(line, "\n")); n > clusterNoteWidth {
					t.Errorf("a line of %d runes, over %d: %q", n, clusterNoteWidth, line)
				}
			}
		})
	}
}

// The notes explain what is not answered by what the rounds show: calls
// on their way to a node that moved, and calls that waited for their
// deadline rather than for two KeepAlives.
func TestClusterNotes(t *testing.T) {
	between := solutionRounds()
	between[clusterKillRound-1].NotConnected, between[clusterKillRound-1].Answered = 30, 170
	waited := solutionRounds()
	waited[clusterKillRound-1].FailedBy = clusterDeadline + 10*time.Millisecond
	waited[clusterKillRound-1].Disconnected = 0
	tests := []struct {
		name   string
		rounds []clusterRound
		want   string
	}{
		{"between nodes", between, "░ round 3: 30 calls not connected: no node held the station when the call came"},
		{"the deadline", waited, "they waited for their 5s deadline; a dead node's callers must not wait for it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var texts []string
			for _, n := range clusterNotes(clusterResult("solution", tt.rounds).Cluster) {
				texts = append(texts, n.text)
			}
			if got := strings.Join(texts, "\n"); !strings.Contains(got, tt.want) {
				t.Errorf("the notes lack %q:\n%s", tt.want, got)
			}
		})
	}
}

func TestClusterSummary(t *testing.T) {
	tests := []struct {
		name string
		runs []*runResult
		want string
	}{
		{"both", []*runResult{clusterResult("your code", starterRounds()), clusterResult("solution", solutionRounds())},
			"your code: 100/300 answered before the kill, 150/300 after; the kill cost none  →  " +
				"solution: 300/300 answered before the kill, 300/300 after; the kill cost the 100 calls in flight, failed by 2.0s"},
		{"one run", []*runResult{clusterResult("solution", solutionRounds())},
			"solution: 300/300 answered before the kill, 300/300 after; the kill cost the 100 calls in flight, failed by 2.0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clusterSummary(tt.runs); got != tt.want {
				t.Errorf("clusterSummary =\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

func TestRoundBar(t *testing.T) {
	const width = 30
	tests := []struct {
		rr   clusterRound
		want string
	}{
		{clusterRound{Answered: 300}, strings.Repeat("█", 30)},
		{clusterRound{Answered: 100, NotConnected: 200}, strings.Repeat("█", 10) + strings.Repeat("░", 20)},
		{clusterRound{Answered: 298, Failed: 1, NotConnected: 1}, strings.Repeat("█", 28) + "░✗"}, // each kind seen
		{clusterRound{Failed: 300}, strings.Repeat("✗", 30)},
		{clusterRound{}, strings.Repeat(" ", 30)},
	}
	for _, tt := range tests {
		if got := roundBar(term.Style{}, tt.rr, width); got != tt.want {
			t.Errorf("roundBar(%+v) = %q, want %q", tt.rr, got, tt.want)
		}
	}
}

// The kill waits until the round's call to each of the node's stations
// reached it or returned: no sooner, and whichever way each settled.
func TestFleetWatch(t *testing.T) {
	f := newFleet(make([]*clusterNode, clusterNodes))
	f.settle(2) // no watch: nothing to note
	inFlight := f.watch(clusterNodes - 1)
	for i := range clusterStations {
		if f.home[i] != clusterNodes-1 {
			f.settle(i) // not the node's
		}
	}
	var last int
	for i := range clusterStations {
		if f.home[i] == clusterNodes-1 {
			last = i
			if i != clusterStations-1 {
				f.settle(i)
				f.settle(i) // reached it, then returned
			}
		}
	}
	select {
	case <-inFlight:
		t.Fatalf("the watch ended with station %d's call unsettled", last+1)
	default:
	}
	f.settle(last)
	select {
	case <-inFlight:
	default:
		t.Fatal("the watch did not end once every call settled")
	}
	f.settle(last) // after the watch: nothing to note
}

// A node's death cuts its stations' sockets without a close frame, and
// no station connects to it again.
func TestCutListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &cutListener{Listener: l}
	t.Cleanup(func() { cl.cut() })
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := cl.Accept(); err != nil {
		t.Fatal(err)
	}
	cl.cut()
	client.SetReadDeadline(time.Now().Add(time.Minute)) // a bound, should the cut not reach it
	if n, err := client.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the station read %d bytes, %v after the cut; want nothing and the socket's end", n, err)
	}
	if _, err := cl.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after the cut: %v, want net.ErrClosed", err)
	}
}
