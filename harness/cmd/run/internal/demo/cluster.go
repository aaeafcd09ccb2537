package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/chart"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Step 10's demo: three nodes share one NATS server, embedded in the run's
// process, and a loopback port each; the stations are spread over them. An
// operator on the first node calls every station, round after round. In
// the middle of one round, once its calls to the last node's stations are
// in flight, that node is killed: its NATS connection and its stations'
// sockets are cut without a goodbye, and its stations reconnect to the
// other two, a moment apart, as a fleet does. The next round starts once
// they have. The kill waits for the calls rather than for a moment of the
// clock, so that a busy machine shows the same rounds, only slower.
const (
	clusterNodes     = 3
	clusterStations  = 300
	clusterRounds    = 6
	clusterKillRound = 3                      // the round in which the last node dies, from 1
	clusterKillWait  = 250 * time.Millisecond // the kill waits this long at most for the calls to be in flight
	clusterAnswer    = 300 * time.Millisecond // how long a station takes to answer a call
	clusterKeepAlive = time.Second            // Config.KeepAlive, the step's default: a silent node is dead after two
	clusterEvery     = time.Second            // a round starts this long after the one before, or when it ends
	clusterDeadline  = 5 * time.Second        // each call's context
	clusterBackoff   = 100 * time.Millisecond // a cut-off station waits this, plus up to as much again, then reconnects
	clusterCell      = 10                     // calls per cell of a round's bar
)

// clusterRun is what one run of step 10's demo measured.
type clusterRun struct {
	Nodes    []string       `json:"nodes"`    // the nodes' names; the operator is on the first, the last is killed
	PerNode  int            `json:"perNode"`  // stations on each node at the start
	KilledAt time.Duration  `json:"killedAt"` // into round clusterKillRound
	Rounds   []clusterRound `json:"rounds"`
	// MovedTo counts, by node, the killed node's stations that connected
	// to it again; MovedBy is when the last of them had booted there,
	// from the kill.
	MovedTo map[string]int `json:"movedTo"`
	MovedBy time.Duration  `json:"movedBy"`
	Err     string         `json:"err,omitempty"` // why a station could not move
}

// clusterRound is what one round of calls came to.
type clusterRound struct {
	Answered     int `json:"answered"`
	NotConnected int `json:"notConnected"` // the variant's ErrNotConnected
	Failed       int `json:"failed"`       // any other error
	Disconnected int `json:"disconnected"` // of those, ErrDisconnected's
	// FailedBy is when the last failed call returned, from the round's
	// start; Why is one of their errors.
	FailedBy time.Duration `json:"failedBy,omitempty"`
	Why      string        `json:"why,omitempty"`
	// Doomed counts the calls to the stations that the killed node held
	// at the start (wherever they are by the round), and DoomedAnswered
	// those answered.
	Doomed         int `json:"doomed"`
	DoomedAnswered int `json:"doomedAnswered"`
}

func (r clusterRound) total() int { return r.Answered + r.NotConnected + r.Failed }

func clusterScenario(l *steplink.Link) scenario {
	intro := fmt.Sprintf(`%d nodes share one NATS server (embedded in the demo), and %d stations are spread over them, %d each.
An operator on node-1 asks every station for its HeartbeatInterval (GetConfiguration), all at once,
in %d rounds; a station answers %v after a call comes. In round %d, once the calls to node-%d's stations
are in flight, node-%d is killed: its NATS connection and its stations' sockets are cut without a
goodbye. Its stations reconnect to the other nodes a moment later; once they have, the rounds go on.
KeepAlive is %v: a node silent for two is taken for dead. Real time.
Below, for each run: a row per round, a cell per %d calls: █ answered, ░ not connected, ✗ failed.`,
		clusterNodes, clusterStations, clusterStations/clusterNodes, clusterRounds, clusterAnswer,
		clusterKillRound, clusterNodes, clusterNodes, clusterKeepAlive, clusterCell)
	return scenario{
		intro: intro,
		unit:  "calls returned",
		run: func(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, fields []string, workers int, progress func(done, total int)) (*runResult, error) {
			notConnected := l.StarterErrNotConnected
			if v == "solution" {
				notConnected = l.SolutionErrNotConnected
			}
			return runCluster(ctx, v, newServer, fields, workers, notConnected, progress)
		},
		show:    showCluster,
		compare: compareCluster,
	}
}

// clusterNode is one node of the demo's cluster.
type clusterNode struct {
	name   string
	srv    steplink.Server
	nc     *nats.Conn
	ln     *cutListener
	opts   station.Options
	served chan error
}

func runCluster(ctx context.Context, v string, newServer func(steplink.Config) steplink.Server, fields []string, workers int, errNotConnected error, progress func(done, total int)) (*runResult, error) {
	for _, f := range []string{"Node", "NATS", "KeepAlive"} {
		if !slices.Contains(fields, f) {
			return nil, fmt.Errorf("this step's Config has no %s field: the demo needs Node, NATS and KeepAlive", f)
		}
	}
	if errNotConnected == nil {
		return nil, errors.New("this step declares no ErrNotConnected")
	}
	broker, err := startBroker()
	if err != nil {
		return nil, err
	}
	defer func() {
		broker.Shutdown()
		broker.WaitForShutdown()
	}()

	b := backend.New(backend.Options{}) // the nodes' shared database
	var nodes []*clusterNode
	defer func() { stopNodes(nodes) }() // when the run fails; else stopped below
	for i := range clusterNodes {
		n, err := startNode(broker, fmt.Sprintf("node-%d", i+1), func(nc *nats.Conn, name string) steplink.Server {
			return newServer(steplink.Config{Backend: b, Workers: workers, Node: name, NATS: nc, KeepAlive: clusterKeepAlive})
		})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	operator, ok := nodes[0].srv.(caller)
	if !ok {
		return nil, errors.New("this step's server has no Call method")
	}

	f := newFleet(nodes)
	defer f.closeAll()
	var moves sync.WaitGroup // the killed node's stations, moving
	defer moves.Wait()
	if err := f.connect(ctx); err != nil {
		return nil, err
	}

	c := &clusterRun{PerNode: clusterStations / clusterNodes, MovedTo: make(map[string]int)}
	for _, n := range nodes {
		c.Nodes = append(c.Nodes, n.name)
	}
	r := &runResult{Run: chart.Run{Variant: v, Stations: clusterStations}, Workers: workers, Planned: clusterRounds * clusterStations, Cluster: c}
	returned := 0
	start := time.Now()
	next := start
	for round := 1; round <= clusterRounds; round++ {
		time.Sleep(time.Until(next))
		roundStart := time.Now()
		next = roundStart.Add(clusterEvery)
		if round == clusterKillRound+1 {
			// The killed node's stations have all moved (or failed to).
			waitGroup(ctx, &moves)
			roundStart, next = time.Now(), time.Now().Add(clusterEvery)
		}
		var kill sync.WaitGroup
		if round == clusterKillRound {
			inFlight := f.watch(clusterNodes - 1)
			kill.Go(func() {
				t := time.NewTimer(clusterKillWait)
				defer t.Stop()
				select {
				case <-inFlight:
				case <-t.C:
				}
				c.KilledAt = time.Since(roundStart)
				f.kill(ctx, &moves, c)
			})
		}
		rr := callRound(ctx, operator, f, errNotConnected, roundStart, func() {
			returned++
			progress(returned, r.Planned)
		})
		kill.Wait()
		c.Rounds = append(c.Rounds, rr)
		r.Answered += rr.Answered
		r.Failed += rr.NotConnected + rr.Failed
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("round %d: %w", round, err)
		}
	}
	r.Wall = time.Since(start)
	moves.Wait()
	f.closeAll()
	err = stopNodes(nodes)
	nodes = nil // stopped
	return r, err
}

// callRound calls every station of f from the operator's node at once and
// counts what the calls came to. returned runs as each call returns, one
// at a time.
func callRound(ctx context.Context, operator caller, f *fleet, errNotConnected error, start time.Time, returned func()) clusterRound {
	var (
		mu sync.Mutex
		rr clusterRound
		wg sync.WaitGroup
	)
	for i := range clusterStations {
		doomed := f.home[i] == clusterNodes-1
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, clusterDeadline)
			defer cancel()
			var resp ocpp.GetConfigurationResponse
			err := operator.Call(cctx, station.StationID(i+1), ocpp.ActionGetConfiguration,
				ocpp.GetConfigurationRequest{Key: []string{"HeartbeatInterval"}}, &resp)
			f.settle(i)
			mu.Lock()
			defer mu.Unlock()
			if doomed {
				rr.Doomed++
			}
			switch {
			case err == nil:
				rr.Answered++
				if doomed {
					rr.DoomedAnswered++
				}
			case errors.Is(err, errNotConnected):
				rr.NotConnected++
			default:
				rr.Failed++
				if outcome(err) == "disconnected" {
					rr.Disconnected++
				}
				rr.FailedBy = max(rr.FailedBy, time.Since(start))
				if rr.Why == "" {
					rr.Why = err.Error()
				}
			}
			returned()
		})
	}
	wg.Wait()
	return rr
}

// startBroker starts a NATS server that listens on nothing: the nodes
// connect to it in process.
func startBroker() (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{ServerName: "kata-demo", DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("start the embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("the embedded NATS server was not ready for connections within 10s")
	}
	return srv, nil
}

// startNode connects a node named name to the broker and serves it on a
// loopback port of its own.
func startNode(broker *server.Server, name string, newServer func(*nats.Conn, string) steplink.Server) (*clusterNode, error) {
	// At nats.go's default sync queue, a round's 200 routed calls would
	// allocate 100 MiB and the demo spend its time collecting it.
	nc, err := nats.Connect("", nats.InProcessServer(broker), nats.Name(name), nats.NoReconnect(), nats.SyncQueueLen(steplink.RoutedInboxLen))
	if err != nil {
		return nil, fmt.Errorf("connect %s to NATS: %w", name, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: listen on loopback: %w", name, err)
	}
	n := &clusterNode{name: name, nc: nc, ln: &cutListener{Listener: l}, served: make(chan error, 1)}
	n.srv = newServer(nc, name)
	n.opts = station.Options{URL: "ws://" + l.Addr().String() + "/ocpp"}
	go func() { n.served <- n.srv.Serve(n.ln) }()
	return n, nil
}

// stopNodes closes every node, its server before its NATS connection, so
// that a server lets its subscriptions go as it would, and says what went
// wrong with them. The killed node's Serve ends when its listener is cut:
// that is no error.
func stopNodes(nodes []*clusterNode) error {
	var errs []error
	for _, n := range nodes {
		if err := n.srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", n.name, err))
		}
		if err := <-n.served; err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		}
		n.nc.Close()
	}
	return errors.Join(errs...)
}

// A cutListener remembers the connections it accepted, so that a node's
// death can cut them without a word, as the death of its process does.
type cutListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c, nil
}

// cut stops accepting and closes every connection accepted: the stations
// see their socket end, with no close frame.
func (l *cutListener) cut() {
	l.Listener.Close()
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// A fleet is the demo's stations and where each is connected.
type fleet struct {
	nodes []*clusterNode
	home  []int // the node each station connected to first, by index

	mu       sync.Mutex
	stations []*station.Station // the station's current connection, by index
	waiting  map[int]bool       // the stations watch waits for
	inFlight chan struct{}      // closed when none is left waiting
}

// watch starts waiting for the call of the round to reach each station
// whose home is node, or to return without reaching it. The channel it
// returns is closed when they all have.
func (f *fleet) watch(node int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting = make(map[int]bool)
	for i, home := range f.home {
		if home == node {
			f.waiting[i] = true
		}
	}
	f.inFlight = make(chan struct{})
	return f.inFlight
}

// settle notes that station i's call of the round reached it, or returned.
func (f *fleet) settle(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.waiting[i] {
		return
	}
	delete(f.waiting, i)
	if len(f.waiting) == 0 {
		close(f.inFlight)
		f.waiting = nil
	}
}

func newFleet(nodes []*clusterNode) *fleet {
	f := &fleet{nodes: nodes, home: make([]int, clusterStations), stations: make([]*station.Station, clusterStations)}
	for i := range f.home {
		f.home[i] = i % len(nodes)
	}
	return f
}

// connect connects every station to its home node and boots it, a few at
// a time.
func (f *fleet) connect(ctx context.Context) error {
	sem := make(chan struct{}, 32)
	errs := make([]error, clusterStations)
	var wg sync.WaitGroup
	for i := range clusterStations {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = f.dial(ctx, i, f.nodes[f.home[i]])
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// dial connects station i to node n and boots it there.
func (f *fleet) dial(ctx context.Context, i int, n *clusterNode) error {
	opts := n.opts
	opts.Answer = func(c *ocpp.Call) station.Reply {
		f.settle(i)
		reply := station.DefaultAnswer(c)
		reply.Delay = clusterAnswer
		return reply
	}
	st, err := station.Dial(ctx, station.StationID(i+1), opts)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", n.name, err)
	}
	f.mu.Lock()
	f.stations[i] = st
	f.mu.Unlock()
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Demo"}
	if err := st.Call(ctx, ocpp.ActionBootNotification, boot, nil); err != nil {
		return fmt.Errorf("BootNotification from %s on %s: %w", st.ID(), n.name, err)
	}
	return nil
}

// kill kills the last node: its NATS connection first, then its stations'
// sockets, as a process that dies loses both at once. Each of its stations,
// once it sees its socket end, waits a moment and connects to one of the
// other nodes, in turn; moves counts them, and c records where they went.
func (f *fleet) kill(ctx context.Context, moves *sync.WaitGroup, c *clusterRun) {
	dead := f.nodes[len(f.nodes)-1]
	killed := time.Now()
	dead.nc.Close()
	var mu sync.Mutex
	k := 0
	for i, home := range f.home {
		if home != len(f.nodes)-1 {
			continue
		}
		f.mu.Lock()
		old := f.stations[i]
		f.mu.Unlock()
		to := f.nodes[k%(len(f.nodes)-1)]
		wait := clusterBackoff + time.Duration(k)*clusterBackoff/time.Duration(c.PerNode)
		k++
		moves.Go(func() {
			select {
			case <-old.Done():
			case <-ctx.Done():
				return
			}
			old.Close()
			time.Sleep(wait)
			err := f.dial(ctx, i, to)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if c.Err == "" {
					c.Err = err.Error()
				}
				return
			}
			c.MovedTo[to.name]++
			c.MovedBy = max(c.MovedBy, time.Since(killed))
		})
	}
	dead.ln.cut()
}

// waitGroup waits for wg, or for the end of ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// closeAll closes every station's current connection.
func (f *fleet) closeAll() {
	f.mu.Lock()
	stations := slices.Clone(f.stations)
	f.mu.Unlock()
	closeAll(stations)
}

func showCluster(w io.Writer, st term.Style, r *runResult) {
	c := r.Cluster
	runHeader(w, st, r, fmt.Sprintf("%d nodes · %d stations · operator on %s · %d rounds in %.1fs",
		len(c.Nodes), r.Stations, c.Nodes[0], len(c.Rounds), r.Wall.Seconds()))
	width := r.Stations / clusterCell
	dead := c.Nodes[len(c.Nodes)-1]
	fmt.Fprintf(w, "  %-6s %-*s  %8s  %13s  %6s  %s\n", "round", width, "calls from "+c.Nodes[0], "answered", "not connected", "failed", dead+"'s stations answered")
	for i, rr := range c.Rounds {
		label := fmt.Sprint(i + 1)
		if i+1 == clusterKillRound {
			label += " ✝"
		}
		where := "on " + dead
		if i+1 > clusterKillRound {
			where = "moved"
		}
		fmt.Fprintf(w, "  %-6s %s  %8d  %13d  %6s  %3d/%d %s\n", label, roundBar(st, rr, width), rr.Answered, rr.NotConnected,
			failedCell(st, rr.Failed), rr.DoomedAnswered, rr.Doomed, st.Dim(where))
	}
	fmt.Fprintln(w)
	for _, n := range clusterNotes(c) {
		text := term.IndentAfterFirst(term.Wrap(n.text, clusterNoteWidth-4), "    ")
		if n.example {
			text = "  " + st.Dim(term.IndentAfterFirst(term.Wrap(n.text, clusterNoteWidth-8), "      "))
		}
		fmt.Fprintf(w, "  %s\n", text)
	}
}

// clusterNoteWidth is the widest line of the notes under a run's table,
// indentation included.
const clusterNoteWidth = 100

// failedCell is a round's failures, in red when there are any.
func failedCell(st term.Style, n int) string {
	text := fmt.Sprintf("%6d", n)
	if n > 0 {
		return st.Red(text)
	}
	return text
}

// roundBar draws a round as width cells: answered, then not connected, then
// failed. A kind that happened at all has a cell at least.
func roundBar(st term.Style, rr clusterRound, width int) string {
	total := rr.total()
	if total == 0 {
		return strings.Repeat(" ", width)
	}
	cells := func(n int) int {
		if n == 0 {
			return 0
		}
		return max(1, (n*width+total/2)/total)
	}
	failed, notConnected := cells(rr.Failed), cells(rr.NotConnected)
	answered := max(0, width-failed-notConnected)
	return st.Green(strings.Repeat("█", answered)) + st.Dim(strings.Repeat("░", notConnected)) + st.Red(strings.Repeat("✗", failed))
}

// A clusterNote is a line under a run's table; an example is an error as
// the operator saw it, drawn dim under the note it illustrates.
type clusterNote struct {
	text    string
	example bool
}

// clusterNotes says what became of the killed node's stations, and
// explains the calls of a run that were not answered.
func clusterNotes(c *clusterRun) []clusterNote {
	dead := c.Nodes[len(c.Nodes)-1]
	moved := 0
	var to []string
	for _, n := range c.Nodes[:len(c.Nodes)-1] {
		moved += c.MovedTo[n]
		to = append(to, fmt.Sprintf("%s %d", n, c.MovedTo[n]))
	}
	line := fmt.Sprintf("✝ %s killed %.2fs into round %d: its NATS connection and its %d stations' sockets cut. ",
		dead, c.KilledAt.Seconds(), clusterKillRound, c.PerNode)
	if moved > 0 {
		line += fmt.Sprintf("%d of them reconnected to the other nodes (%s), the last %.2fs after the kill.", moved, strings.Join(to, ", "), c.MovedBy.Seconds())
	} else {
		line += "None reconnected."
	}
	if c.Err != "" {
		line += " One could not: " + c.Err
	}
	notes := []clusterNote{{text: line}}
	if nc := notConnectedWhy(c); nc != "" {
		notes = append(notes, clusterNote{text: nc})
	}
	for i, rr := range c.Rounds {
		if rr.Failed == 0 {
			continue
		}
		notes = append(notes,
			clusterNote{text: fmt.Sprintf("✗ round %d: %s failed, the last %.2fs into the round: %s",
				i+1, term.Plural(rr.Failed, "call"), rr.FailedBy.Seconds(), failureWhy(i+1, rr, c))},
			clusterNote{text: "e.g. " + rr.Why, example: true})
	}
	return notes
}

// failureWhy explains the failures of round n.
func failureWhy(n int, rr clusterRound, c *clusterRun) string {
	switch {
	case rr.FailedBy >= clusterDeadline:
		return fmt.Sprintf("they waited for their %v deadline; a dead node's callers must not wait for it", clusterDeadline)
	case n == clusterKillRound && rr.Disconnected == rr.Failed:
		return fmt.Sprintf("they were in flight on %s when it died. After %v of silence (two KeepAlives), %s took it for dead "+
			"and failed them with ErrDisconnected, well before their %v deadline. The next round reached those stations where they went.",
			c.Nodes[len(c.Nodes)-1], 2*clusterKeepAlive, c.Nodes[0], clusterDeadline)
	case n == clusterKillRound:
		return "they were in flight when the node died"
	}
	return "no node died in this round"
}

// notConnectedWhy explains the calls of a run that failed as not
// connected: to stations held by another node, or by no node at all.
func notConnectedWhy(c *clusterRun) string {
	before, after := c.Rounds[0], c.Rounds[len(c.Rounds)-1]
	if before.NotConnected > 0 {
		return fmt.Sprintf("░ %s reaches only the stations connected to it: %d of %d before the kill, %d after "+
			"(%s's stations that reconnected to it among them). To every other call it says \"not connected here\", "+
			"a 409 from the operator API, though another node holds the station.",
			c.Nodes[0], before.Answered, before.total(), after.Answered, c.Nodes[len(c.Nodes)-1])
	}
	for i, rr := range c.Rounds {
		if rr.NotConnected > 0 {
			return fmt.Sprintf("░ round %d: %s not connected: no node held the station when the call came "+
				"(its node had died, and it had not connected to another yet)", i+1, term.Plural(rr.NotConnected, "call"))
		}
	}
	return ""
}

func compareCluster(w io.Writer, st term.Style, runs []*runResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Bold(clusterSummary(runs)))
}

// clusterSummary sums the runs up, before → after: what each answered
// before the kill and after the move, and what the kill cost.
func clusterSummary(runs []*runResult) string {
	var parts []string
	for _, r := range runs {
		c := r.Cluster
		before, kill, after := c.Rounds[0], c.Rounds[clusterKillRound-1], c.Rounds[len(c.Rounds)-1]
		cost := "the kill cost none"
		if kill.Failed > 0 {
			cost = fmt.Sprintf("the kill cost the %s in flight, failed by %.1fs", term.Plural(kill.Failed, "call"), kill.FailedBy.Seconds())
		}
		parts = append(parts, fmt.Sprintf("%s: %d/%d answered before the kill, %d/%d after; %s",
			r.Variant, before.Answered, before.total(), after.Answered, after.total(), cost))
	}
	return joinArrow(parts)
}
