package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// crashScale is the backend's latencies in the crash phase, on the
// workshop's: slow enough that a kill finds every kind of work under way
// (a session lasts a few seconds), fast enough that five runs take a minute.
const crashScale = 0.1

// crashAt are the moments, from the first dial, at which the crash phase
// kills the final server: one run each.
var crashAt = []time.Duration{time.Second, 1500 * time.Millisecond, 2 * time.Second, 3 * time.Second, 5 * time.Second}

// sessionStatuses are the statuses a session's StatusNotifications report,
// in order (station.Session).
var sessionStatuses = []ocpp.ChargePointStatus{ocpp.StatusAvailable, ocpp.StatusPreparing, ocpp.StatusCharging,
	ocpp.StatusFinishing, ocpp.StatusAvailable}

// crash kills the final server (SIGKILL: no drain, no flush) while its
// stations run their charging sessions, at each of crashAt, restarts it on
// the same SQLite file, and counts what the stations had been told was
// stored and the store does not hold: meter values (billing data: the
// station deleted them) and each station's last status.
func (b *bench) crash(ctx context.Context) {
	const phase = "crash"
	n := b.opts.crashStations
	var acked, lost, statuses, stale int
	var window time.Duration
	var moments []string
	for i, at := range crashAt {
		what := fmt.Sprintf("final server killed (SIGKILL) at %v of %s lock-step sessions, then restarted on its SQLite file",
			at, term.Thousands(int64(n)))
		b.say(phase, fmt.Sprintf("run %d of %d: %s", i+1, len(crashAt), what))
		db := filepath.Join(b.tmp, fmt.Sprintf("crash-%d.db", i))
		r, err := b.crashOnce(ctx, db, n, at)
		if err != nil {
			if ctx.Err() == nil {
				b.failRow(phase, what, err)
			}
			return
		}
		acked += r.acked
		lost += r.lost
		statuses += r.statuses
		stale += r.stale
		window = max(window, r.window)
		moments = append(moments, fmt.Sprintf("%v: %d/%d, %d/%d", at, r.lost, r.acked, r.stale, r.statuses))
	}
	b.add(benchRow{phase: phase, what: fmt.Sprintf("acknowledged, then lost to kill -9 (%s stations, 5 moments)", term.Thousands(int64(n))),
		repro: b.repro(phase), failed: lost > 0,
		result: fmt.Sprintf("meter values: %s of %s lost · last statuses: %s of %s missing or older, acknowledged at most %s before the kill · lost/acknowledged by moment (meter values, statuses): %s",
			term.Thousands(int64(lost)), term.Thousands(int64(acked)), term.Thousands(int64(stale)), term.Thousands(int64(statuses)), latency(window), strings.Join(moments, " · "))})
}

// crashResult is what one kill cost.
type crashResult struct {
	acked, lost     int           // meter values answered, and of them not in the store
	statuses, stale int           // stations whose status was acknowledged, and of them not as their last
	window          time.Duration // the oldest acknowledgement of a status the kill lost
}

func (b *bench) crashOnce(ctx context.Context, db string, n int, at time.Duration) (crashResult, error) {
	var r crashResult
	srv, err := b.startServerOn(ctx, "crash", b.finalBin, "solution", b.opts.workers, crashScale, db)
	if err != nil {
		return r, err
	}
	fleetCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	reports := make(chan *station.Report, 1)
	go func() {
		rep, _ := station.RunFleet(fleetCtx, station.FleetOptions{
			Options: station.Options{URL: stationsURL(srv)}, Stations: n, Mode: station.LockStep})
		reports <- rep
	}()
	select {
	case <-time.After(at):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	srv.stop() // SIGKILL
	killed := time.Now()
	var rep *station.Report
	select {
	case rep = <-reports: // every connection dropped: the stations end at once
	case <-time.After(30 * time.Second):
		cancel()
		rep = <-reports
	}
	if rep == nil {
		return r, fmt.Errorf("the stations did not run")
	}

	again, err := b.startServerOn(ctx, "crash-restarted", b.finalBin, "solution", b.opts.workers, crashScale, db)
	if err != nil {
		return r, fmt.Errorf("restarting on the same SQLite file: %w", err)
	}
	defer again.stop()
	base := "http://" + again.addr
	txs, err := storedTransactions(ctx, base)
	if err != nil {
		return r, err
	}
	stored := make(map[string]int) // sampled values, by station
	for _, tx := range txs {
		stored[tx.station] += tx.samples
	}
	var stations []struct {
		ID         string `json:"id"`
		Connectors []struct {
			ID     int    `json:"id"`
			Status string `json:"status"`
		} `json:"connectors"`
	}
	if err := getJSON(ctx, base+"/api/stations", &stations); err != nil {
		return r, err
	}
	status := make(map[string]string)
	for _, st := range stations {
		for _, c := range st.Connectors {
			if c.ID == 1 {
				status[st.ID] = c.Status
			}
		}
	}
	for _, st := range rep.Stations {
		meterValues, statuses := 0, 0
		var lastStatus time.Time
		for _, c := range st.Calls {
			if c.Err != nil || c.Received.IsZero() {
				continue
			}
			switch c.Action {
			case ocpp.ActionMeterValues:
				meterValues++
			case ocpp.ActionStatusNotification:
				statuses++
				lastStatus = c.Received
			}
		}
		r.acked += meterValues
		if short := meterValues*samplesPerMeterValues - stored[st.ID]; short > 0 {
			r.lost += (short + samplesPerMeterValues - 1) / samplesPerMeterValues
		}
		// A session's statuses follow one another on connector 1, and a
		// later one supersedes an earlier: the store must hold the last
		// one acknowledged, or one the station sent after it.
		if statuses > 0 {
			r.statuses++
			want := sessionStatuses[statuses-1]
			if got := status[st.ID]; got != string(want) && !laterStatus(got, statuses) {
				r.stale++
				r.window = max(r.window, killed.Sub(lastStatus))
			}
		}
	}
	return r, nil
}

// laterStatus reports whether got is a status that a session reports
// after its first k statuses.
func laterStatus(got string, k int) bool {
	for _, s := range sessionStatuses[k:] {
		if string(s) == got {
			return true
		}
	}
	return false
}
