package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/stations/station"
)

// The cluster phase: the final server as three nodes, each a process of
// its own on one NATS server (a fourth process) and one SQLite file, with
// chargers spread over them; the operator calls every station through the
// first node's API.
const (
	clusterNodes       = 3
	clusterConcurrency = 32               // the operator's calls in flight at once, but for the latencies
	clusterLatencyConc = 4                // the latencies': few enough that they are the route's, not a queue's
	clusterKillAfter   = 3 * time.Second  // the calls run this long before the third node is killed
	clusterMoveLimit   = 60 * time.Second // its stations must be back on the others within this
	clusterAfterMove   = 3 * time.Second  // the calls go on this long once they are
	clusterCallTimeout = "10s"            // each call's ?timeout=
)

// cluster measures a cluster of the final server: what the broker costs
// per station, a routed call's latency beside a local one's, that the
// shared store gives no transaction id twice, and what a node killed with
// -9 costs the operator's calls while its stations move.
func (b *bench) cluster(ctx context.Context) {
	const phase = "cluster"
	n := b.opts.clusterStations
	what := fmt.Sprintf("%d nodes, %s chargers", clusterNodes, term.Thousands(int64(n)))
	fail := func(err error) { b.failRow(phase, what, err) }

	b.say(phase, "starting the NATS server")
	natsAddr, err := freeAddr()
	if err != nil {
		fail(err)
		return
	}
	monitorAddr, err := freeAddr()
	if err != nil {
		fail(err)
		return
	}
	_, monitorPort, _ := net.SplitHostPort(monitorAddr)
	broker, err := b.startChild("broker", monitorAddr, b.finalBin, "broker", "-addr", natsAddr, "-monitor", monitorPort)
	if err != nil {
		fail(err)
		return
	}
	if err := broker.ready(ctx, "http://"+monitorAddr+"/varz"); err != nil {
		fail(err)
		return
	}
	brokerBefore, err := brokerFigures(ctx, broker)
	if err != nil {
		fail(err)
		return
	}

	b.say(phase, "starting the nodes")
	db := filepath.Join(b.tmp, fmt.Sprintf("cluster-%d.db", time.Now().UnixNano()))
	nodes := make([]*benchChild, clusterNodes)
	endpoints := make([]string, clusterNodes)
	for i := range nodes {
		name := fmt.Sprintf("node%d", i+1)
		if nodes[i], err = b.startServerOn(ctx, name, b.finalBin, "solution", b.opts.workers, 0, db,
			"-node", name, "-nats-url", "nats://"+natsAddr); err != nil {
			fail(err)
			return
		}
		endpoints[i] = stationsURL(nodes[i])
	}
	api := "http://" + nodes[0].addr + "/api"

	b.say(phase, fmt.Sprintf("connecting %s chargers, spread over the nodes", term.Thousands(int64(n))))
	fleetCtx, cancelFleet := context.WithCancel(ctx)
	defer cancelFleet()
	var progress atomic.Pointer[station.Progress]
	fleetDone := make(chan error, 1)
	go func() {
		rep, err := station.RunFleet(fleetCtx, station.FleetOptions{
			Options: station.Options{URL: endpoints[0]}, Endpoints: endpoints, Stations: n,
			Mode: station.Idle, Chargers: true, Reconnect: true, ProgressEvery: 100 * time.Millisecond,
			Progress: func(p station.Progress) {
				progress.Store(&p)
				b.answered.Store(int64(p.Answered))
			},
		})
		if err == nil && rep.Connected < n {
			err = fmt.Errorf("%d of %d chargers connected: %v", rep.Connected, n, firstStationErr(rep))
		}
		fleetDone <- err
	}()
	booted := func() bool {
		p := progress.Load()
		if p == nil || p.Reconnecting > 0 || len(p.OnEndpoint) != clusterNodes {
			return false
		}
		on := 0
		for _, k := range p.OnEndpoint {
			on += k
		}
		return on == n
	}
	if err := waitFor(ctx, fleetDone, time.Minute, booted); err != nil {
		fail(fmt.Errorf("the chargers did not all boot: %w", err))
		return
	}

	// Every node's API must see every charger, and say which node holds it.
	var held map[string]string
	for _, node := range nodes {
		h, err := clusterListing(ctx, "http://"+node.addr+"/api")
		if err != nil {
			fail(err)
			return
		}
		if len(h) != n {
			fail(fmt.Errorf("%s's API lists %d connected stations, want %d", node.name, len(h), n))
			return
		}
		held = h
	}
	brokerAfter, err := brokerFigures(ctx, broker)
	if err != nil {
		fail(err)
		return
	}
	b.add(benchRow{phase: phase, what: what + ": the broker's cost", repro: b.repro(phase),
		result: fmt.Sprintf("%.2f subscriptions and %.1f KiB of the NATS server's RSS per station (%s → %s subscriptions, %.0f → %.0f MiB)",
			float64(brokerAfter.subscriptions-brokerBefore.subscriptions)/float64(n), float64(brokerAfter.rss-brokerBefore.rss)/float64(n)/1024,
			term.Thousands(int64(brokerBefore.subscriptions)), term.Thousands(int64(brokerAfter.subscriptions)), mib(brokerBefore.rss), mib(brokerAfter.rss))})

	// One call to every charger through node1: a third are its own.
	b.say(phase, "calling every charger through node1's API")
	ids := slices.Sorted(maps.Keys(held))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clusterConcurrency}}
	var mu sync.Mutex
	latencies := map[bool][]time.Duration{} // by routed
	var failures []string
	runCalls(ctx, ids, clusterLatencyConc, func(id string) {
		took, status, err := operatorCall(ctx, client, api, id, "GetLocalListVersion", `{}`)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || status != http.StatusOK {
			failures = append(failures, fmt.Sprintf("%s: %d %v", id, status, err))
			return
		}
		routed := held[id] != nodes[0].name
		latencies[routed] = append(latencies[routed], took)
	})
	if len(failures) > 0 {
		fail(fmt.Errorf("%d of %d calls failed, first %s", len(failures), n, failures[0]))
		return
	}
	local, routed := latencies[false], latencies[true]
	slices.Sort(local)
	slices.Sort(routed)
	b.add(benchRow{phase: phase, what: what + ": a call through node1's API, one to each", repro: b.repro(phase),
		result: fmt.Sprintf("%d in flight · local (%s): p50 %s · p99 %s; routed over NATS (%s): p50 %s · p99 %s", clusterLatencyConc,
			term.Thousands(int64(len(local))), latency(station.Percentile(local, 50)), latency(station.Percentile(local, 99)),
			term.Thousands(int64(len(routed))), latency(station.Percentile(routed, 50)), latency(station.Percentile(routed, 99)))})

	// A transaction on every charger, started through node1: each is
	// given its id by the node that holds the charger, from the one store.
	b.say(phase, "starting a transaction on every charger, through node1")
	failures = nil
	runCalls(ctx, ids, clusterConcurrency, func(id string) {
		_, status, err := operatorCall(ctx, client, api, id, "RemoteStartTransaction", `{"idTag":"BENCH","connectorId":1}`)
		if err != nil || status != http.StatusOK {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("%s: %d %v", id, status, err))
			mu.Unlock()
		}
	})
	if len(failures) > 0 {
		fail(fmt.Errorf("%d of %d RemoteStartTransactions failed, first %s", len(failures), n, failures[0]))
		return
	}
	var txs []clusterTransaction
	err = waitFor(ctx, fleetDone, time.Minute, func() bool {
		txs, err = clusterTransactions(ctx, api)
		return err == nil && len(txs) >= n
	})
	if err != nil {
		fail(fmt.Errorf("%d of %d transactions stored: %w", len(txs), n, err))
		return
	}
	seen, stations := map[int]bool{}, map[string]bool{}
	for _, tx := range txs {
		if seen[tx.ID] {
			fail(fmt.Errorf("transaction id %d was given twice", tx.ID))
			return
		}
		seen[tx.ID], stations[tx.Station] = true, true
	}
	b.add(benchRow{phase: phase, what: what + ": a transaction started on each, through node1", repro: b.repro(phase),
		result: fmt.Sprintf("%s transactions on %s stations, %s distinct ids", term.Thousands(int64(len(txs))), term.Thousands(int64(len(stations))), term.Thousands(int64(len(seen))))})

	// kill -9 node3 while calls go on to every charger, round and round.
	b.say(phase, "calling every charger through node1, then killing node3")
	var answered, notConnected, disconnected, other atomic.Int64
	var firstOther atomic.Value
	callCtx, stopCalls := context.WithCancel(ctx)
	defer stopCalls()
	var next atomic.Int64
	var callers sync.WaitGroup
	for range clusterConcurrency {
		callers.Go(func() {
			for callCtx.Err() == nil {
				id := ids[int(next.Add(1)-1)%len(ids)]
				_, status, err := operatorCall(callCtx, client, api, id, "GetLocalListVersion", `{}`)
				switch {
				case callCtx.Err() != nil:
				case err == nil && status == http.StatusOK:
					answered.Add(1)
				case err == nil && status == http.StatusConflict:
					notConnected.Add(1)
				case err == nil && status == http.StatusBadGateway:
					disconnected.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", id, status, err))
				}
			}
		})
	}
	onNode3 := progress.Load().OnEndpoint[2]
	select {
	case <-time.After(clusterKillAfter):
	case <-ctx.Done():
	}
	killed := time.Now()
	_ = nodes[2].cmd.Process.Kill()
	<-nodes[2].exited
	// The stations have moved once none of them is reconnecting and none
	// is left on node3.
	moved := func() bool {
		p := progress.Load()
		return p.Reconnecting == 0 && p.OnEndpoint[2] == 0 && p.Moved >= onNode3
	}
	err = waitFor(ctx, fleetDone, clusterMoveLimit, moved)
	took := time.Since(killed)
	if err == nil {
		select {
		case <-time.After(clusterAfterMove):
		case <-ctx.Done():
		}
	}
	stopCalls()
	callers.Wait()
	if err != nil {
		fail(fmt.Errorf("node3's %d stations had not moved %v after it was killed: %w", onNode3, clusterMoveLimit, err))
		return
	}
	if other.Load() > 0 {
		fail(fmt.Errorf("%d calls failed otherwise than 409 or 502, first %s", other.Load(), firstOther.Load()))
		return
	}
	// Every transaction stored before the kill is still in the store.
	after, err := clusterTransactions(ctx, api)
	if err != nil {
		fail(err)
		return
	}
	kept := 0
	for _, tx := range after {
		if seen[tx.ID] {
			kept++
		}
	}
	p := progress.Load()
	b.add(benchRow{phase: phase, what: what + ": node3 killed with -9 while node1 calls every charger", repro: b.repro(phase),
		result: fmt.Sprintf("its %s chargers back on node1 and node2 (%s and %s now) %s after the kill; %d in flight, calls %s answered, %s 409 (the station between two nodes), %s 502 (its node died under the call); %s of the %s transactions still stored",
			term.Thousands(int64(onNode3)), term.Thousands(int64(p.OnEndpoint[0])), term.Thousands(int64(p.OnEndpoint[1])), latency(took), clusterConcurrency,
			term.Thousands(answered.Load()), term.Thousands(notConnected.Load()), term.Thousands(disconnected.Load()),
			term.Thousands(int64(kept)), term.Thousands(int64(len(seen))))})
	if kept < len(seen) {
		fail(fmt.Errorf("%d of the %d transactions stored before node3 was killed are gone", len(seen)-kept, len(seen)))
	}
	cancelFleet()
	if err := <-fleetDone; err != nil && ctx.Err() == nil {
		fail(err)
	}
}

// waitFor polls ok until it holds, the fleet ends, ctx ends, or limit
// passes.
func waitFor(ctx context.Context, fleetDone <-chan error, limit time.Duration, ok func() bool) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for !ok() {
		select {
		case err := <-fleetDone:
			if err == nil {
				err = errors.New("the fleet ended")
			}
			return err
		case <-deadline.C:
			return fmt.Errorf("not within %v", limit)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// runCalls runs call on every id, conc at a time.
func runCalls(ctx context.Context, ids []string, conc int, call func(id string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for id := range work {
				call(id)
			}
		})
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
}

// operatorCall posts an operator's call to a station through the API at
// api, and returns how long it took and the status it got.
func operatorCall(ctx context.Context, client *http.Client, api, station, action, body string) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/stations/"+station+"/"+action+"?timeout="+clusterCallTimeout, strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode, err
}

// clusterListing returns the stations the API at api lists as connected,
// with the node that holds each.
func clusterListing(ctx context.Context, api string) (map[string]string, error) {
	var list []struct {
		ID        string `json:"id"`
		Connected bool   `json:"connected"`
		Node      string `json:"node"`
	}
	if err := getJSON(ctx, api+"/stations", &list); err != nil {
		return nil, err
	}
	held := make(map[string]string)
	for _, s := range list {
		if s.Connected {
			if s.Node == "" {
				return nil, fmt.Errorf("%s lists %s as connected, on no node", api, s.ID)
			}
			held[s.ID] = s.Node
		}
	}
	return held, nil
}

// brokerFigure is what the NATS server holds.
type brokerFigure struct {
	rss           int64
	subscriptions int
}

// brokerFigures reads the NATS server's RSS (from /proc where there is
// one, from its monitoring endpoint elsewhere) and subscriptions.
func brokerFigures(ctx context.Context, c *benchChild) (brokerFigure, error) {
	var varz struct {
		Mem           int64 `json:"mem"`
		Subscriptions int   `json:"subscriptions"`
	}
	if err := getJSON(ctx, "http://"+c.addr+"/varz", &varz); err != nil {
		return brokerFigure{}, fmt.Errorf("the NATS server's /varz: %w", err)
	}
	f := brokerFigure{rss: varz.Mem, subscriptions: varz.Subscriptions}
	if st, err := readProcStatus(c.cmd.Process.Pid); err == nil {
		f.rss = st.rss
	}
	return f, nil
}

// A clusterTransaction is a transaction as the API lists it.
type clusterTransaction struct {
	ID      int    `json:"id"`
	Station string `json:"station"`
}

// clusterTransactions lists the transactions the API at api shows.
func clusterTransactions(ctx context.Context, api string) ([]clusterTransaction, error) {
	var txs []clusterTransaction
	err := getJSON(ctx, api+"/transactions", &txs)
	return txs, err
}
