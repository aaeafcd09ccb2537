package station

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is the kind of load a fleet puts on the central system.
type Mode string

// The fleet's modes.
const (
	// LockStep: every station runs the 14-call charging session, each call
	// waiting for the answer to the one before, all stations at once.
	LockStep Mode = "lockstep"
	// Pipelined: every station sends a BootNotification and waits for its
	// answer, then sends Messages MeterValues back to back without waiting,
	// then waits for all their answers: the load a server must keep in
	// order and bound.
	Pipelined Mode = "pipelined"
	// Flood: the first station sends Messages MeterValues as fast as it can,
	// as in Pipelined, while the others run lock-step sessions: the
	// backpressure scenario, where one station must not starve the rest.
	Flood Mode = "flood"
	// Deaf: the first station writes Messages calls of an action no server
	// knows, DeafActionLength characters long, as fast as it can, and never
	// reads its connection, connecting again whenever the server closes it,
	// until the others are done; the others run lock-step sessions: what one
	// station that stops reading its answers costs the rest. Its frames are
	// no calls of the report: its DeafReport counts them.
	Deaf Mode = "deaf"
	// Idle: every station connects, sends a BootNotification, then stays
	// connected, answering the server's calls, until Hold passes or the
	// context ends.
	Idle Mode = "idle"
)

// ParseMode reads a mode's name, as a command-line flag gives it.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case LockStep, Pipelined, Flood, Deaf, Idle:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q (want %s, %s, %s, %s or %s)", s, LockStep, Pipelined, Flood, Deaf, Idle)
}

// Defaults of FleetOptions.
const (
	DefaultMessages      = 100
	DefaultProgressEvery = time.Second
)

// FleetOptions configure RunFleet.
type FleetOptions struct {
	Options // URL, Dial, Password and Answer, shared by every station

	// Endpoints, if not empty, are the central system's endpoints, in place
	// of Options.URL: the fleet's i-th station (from 0) connects to
	// Endpoints[i mod len(Endpoints)], so that they share the stations out
	// one by one. With Reconnect, a charger goes on to the next endpoint,
	// round robin, when its connection drops (see ChargerOptions.Endpoints).
	Endpoints []string

	// Passwords, if not nil, gives each station the password it sends, by
	// station id, in place of Options.Password: a station with no entry
	// sends none.
	Passwords map[string]string

	// Stations is how many stations connect. Their ids are CS0001, CS0002, …
	// starting at FirstID (1 if zero); see StationID.
	Stations int
	FirstID  int
	Mode     Mode // LockStep if empty
	// Messages is how many MeterValues each pipelined station, or the
	// flooding station, sends after its BootNotification, or how many calls
	// the deaf station writes (DefaultMessages if zero). Other modes ignore
	// it.
	Messages int
	// Hold is how long idle stations stay connected; zero means until the
	// context ends. Other modes ignore it.
	Hold time.Duration
	// Chargers makes idle stations Chargers, which act on the server's
	// calls (a RemoteStartTransaction starts a charging session, a Reset
	// reboots the station, …) where plain idle stations only answer them.
	// Options.Answer must then be nil. Other modes ignore it.
	Chargers bool
	// Reconnect makes the Chargers connect again whenever their connection
	// ends, until the run does (see ChargerOptions.Reconnect): a server
	// restarted finds them back, and those of a server killed move to the
	// next endpoint. It needs Chargers.
	Reconnect bool
	// Progress, if set, is called at most every ProgressEvery
	// (DefaultProgressEvery if zero) and once at the end, never concurrently.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is a fleet's state while it runs.
type Progress struct {
	Stations  int // how many stations the fleet runs
	Connected int // how many have connected so far
	Done      int // how many have finished (connected or not)
	Planned   int // calls the fleet means to make in all
	Calls     int // calls sent so far
	Answered  int // calls answered with a CALLRESULT
	Failed    int // calls answered with a CALLERROR, or not at all
	// With Reconnect: calls left unanswered when their connection dropped
	// (the station reconnected), apart from Failed, as in the Report.
	Dropped int
	// In Deaf mode: the deaf station's calls written (none of the calls
	// above), and its connections the server closed.
	DeafFrames, DeafClosed int
	// With Reconnect: the connections made again after one dropped (and
	// booted on), the stations that moved to another endpoint so, and the
	// stations whose connection dropped and that have not booted again.
	Reconnects, Moved, Reconnecting int
	// OnEndpoint, for chargers on several endpoints, is how many are
	// booted on each now, in the order of FleetOptions.Endpoints; nil
	// otherwise. A charger closed (its Hold over, or the run's context
	// ended) stays counted where it was, so that the last Progress says
	// where the stations were at the end.
	OnEndpoint []int
	Elapsed    time.Duration
}

// StationID is the id of the n-th station of a fleet: CS0001 for 1.
func StationID(n int) string { return fmt.Sprintf("CS%04d", n) }

// RunFleet connects opts.Stations stations to the central system, runs the
// mode's load on all of them at once, and reports every call. It returns an
// error only if the options are unusable; a station that cannot connect or
// a call that fails is in the report. Every goroutine of the fleet has ended
// when it returns; when ctx ends, the stations close and RunFleet returns.
func RunFleet(ctx context.Context, opts FleetOptions) (*Report, error) {
	o, err := opts.normalized()
	if err != nil {
		return nil, fmt.Errorf("station: fleet: %w", err)
	}
	t := newTally(o)
	start := time.Now()
	stopProgress := o.watch(t, start)

	// In Deaf mode the deaf station stops when the last of the others is
	// done, or with the run.
	deafStop, stopDeaf := context.WithCancelCause(ctx)
	defer stopDeaf(nil)
	var others atomic.Int64
	others.Store(int64(o.Stations - 1))

	reports := make([]StationReport, o.Stations)
	dialing := make(chan struct{}, maxDialing)
	var wg sync.WaitGroup
	for i := range o.Stations {
		switch {
		case o.Mode == Deaf && i == 0:
			wg.Go(func() {
				defer t.done.Add(1)
				reports[i] = deaf(deafStop, StationID(o.FirstID), o.stationOptions(i), o.Messages, o.Stations == 1, t)
			})
		default:
			wg.Go(func() {
				reports[i] = o.runStation(ctx, i, dialing, t)
				if others.Add(-1) == 0 {
					stopDeaf(errOthersDone)
				}
			})
		}
	}
	wg.Wait()
	wall := time.Since(start)
	stopProgress()
	return newReport(o, reports, wall, ctx.Err() != nil), nil
}

func (o FleetOptions) normalized() (FleetOptions, error) {
	if len(o.Endpoints) == 0 {
		o.Endpoints = []string{o.URL}
	}
	for i, u := range o.Endpoints {
		if _, err := endpoint(u, "CS0001"); err != nil {
			return o, err
		}
		if slices.Contains(o.Endpoints[:i], u) {
			return o, fmt.Errorf("endpoint %s given twice", u)
		}
	}
	if o.Mode == "" {
		o.Mode = LockStep
	}
	if _, err := ParseMode(string(o.Mode)); err != nil {
		return o, err
	}
	if o.FirstID == 0 {
		o.FirstID = 1
	}
	if o.Messages == 0 {
		o.Messages = DefaultMessages
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	switch {
	case o.Stations < 1:
		return o, fmt.Errorf("%d stations: want at least 1", o.Stations)
	case o.FirstID < 0:
		return o, fmt.Errorf("first station id %d: want 1 or more", o.FirstID)
	case o.Messages < 0:
		return o, fmt.Errorf("%d messages: want at least 1", o.Messages)
	case o.Hold < 0:
		return o, fmt.Errorf("hold %v: want 0 or more", o.Hold)
	case o.ProgressEvery < 0:
		return o, fmt.Errorf("progress interval %v: want more than 0", o.ProgressEvery)
	case o.Chargers && o.Mode == Idle && o.Answer != nil:
		return o, errors.New("chargers answer the server's calls themselves: leave Options.Answer nil")
	case o.Reconnect && !(o.Chargers && o.Mode == Idle):
		return o, errors.New("only chargers reconnect: set Chargers, in idle mode")
	}
	return o, nil
}

// chargers reports whether the fleet's stations are Chargers.
func (o FleetOptions) chargers() bool { return o.Mode == Idle && o.Chargers }

// planned is how many calls the fleet means to make.
func (o FleetOptions) planned() int {
	switch o.Mode {
	case Pipelined:
		return o.Stations * (1 + o.Messages)
	case Flood:
		return 1 + o.Messages + (o.Stations-1)*SessionCalls
	case Deaf:
		return (o.Stations - 1) * SessionCalls
	case Idle:
		return o.Stations
	default:
		return o.Stations * SessionCalls
	}
}

// maxDialing is how many handshakes a fleet has under way at once. Ten
// thousand chargers each send their handshake request as soon as they have
// connected; ten thousand goroutines of one process on two cores do not:
// a goroutine that has connected may wait a second or more for its turn
// to write the request, and a server that closes connections which send no
// request (as the final server does once a thousand wait, against
// slowloris clients) would be right to close it. Past this many, a station
// waits for its turn to connect.
const maxDialing = 256

// runStation connects the fleet's i-th station, taking a place in dialing
// for its handshake, and runs the mode's load on it.
func (o FleetOptions) runStation(ctx context.Context, i int, dialing chan struct{}, t *tally) StationReport {
	defer t.done.Add(1)
	id := StationID(o.FirstID + i)
	opts := o.stationOptions(i)
	select {
	case dialing <- struct{}{}:
	case <-ctx.Done():
		return StationReport{ID: id, Endpoint: opts.URL, Err: ctx.Err()}
	}
	if o.chargers() {
		return o.runCharger(ctx, i, dialing, t)
	}
	s, err := dial(ctx, id, opts, t)
	<-dialing
	if err != nil {
		return StationReport{ID: id, Endpoint: opts.URL, Err: err}
	}
	t.connected.Add(1)
	defer s.Close()
	// When ctx ends, close the station at once rather than when its load
	// returns: a flooding station may be stuck writing to a server that has
	// stopped reading, and only closing the socket frees it.
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()

	var calls []CallRecord
	switch {
	case o.Mode == LockStep, (o.Mode == Flood || o.Mode == Deaf) && i > 0:
		calls, err = s.Session(ctx)
	case o.Mode == Pipelined, o.Mode == Flood:
		calls, err = s.pipeline(ctx, o.Messages)
	case o.Mode == Idle:
		calls, err = s.idle(ctx, o.Hold)
	default:
		err = errors.New("unreachable: mode " + string(o.Mode))
	}
	return StationReport{ID: id, Endpoint: opts.URL, Connected: true, Calls: calls, Err: err}
}

// runCharger runs the fleet's i-th station, an idle one, as a Charger
// until Hold has passed since its boot, ctx ends or the charger stops (the
// server ended its connection, and it does not reconnect); only the last is
// a failure. Its endpoints are the fleet's, its own first. The caller holds
// a place in dialing, which runCharger gives back once connected.
func (o FleetOptions) runCharger(ctx context.Context, i int, dialing chan struct{}, t *tally) StationReport {
	id := StationID(o.FirstID + i)
	k := i % len(o.Endpoints)
	endpoints := append(slices.Clone(o.Endpoints[k:]), o.Endpoints[:k]...)
	c, err := startCharger(ctx, id, ChargerOptions{Options: o.stationOptions(i), Endpoints: endpoints, Reconnect: o.Reconnect}, t)
	<-dialing
	if err != nil {
		return StationReport{ID: id, Endpoint: endpoints[0], Err: err}
	}
	t.connected.Add(1)
	// An idle station holds for Hold once booted, as a plain one does:
	// the charger boots on its own goroutine, and a short hold must not
	// end before its BootNotification is answered.
	select {
	case <-c.Booted():
		var expired <-chan time.Time
		if o.Hold > 0 {
			timer := time.NewTimer(o.Hold)
			defer timer.Stop()
			expired = timer.C
		}
		select {
		case <-expired:
		case <-ctx.Done():
		case <-c.Done():
		}
	case <-ctx.Done():
	case <-c.Done():
	}
	c.Close()
	return StationReport{ID: id, Endpoint: c.Endpoint(), Connected: true, Calls: c.Calls(), Err: c.Err(),
		Reconnects: c.Reconnects(), Reconnecting: c.Reconnecting()}
}

// stationOptions are the options of the fleet's i-th station: the fleet's,
// with its endpoint, and its own password if the fleet gives each station
// one.
func (o FleetOptions) stationOptions(i int) Options {
	opts := o.Options
	opts.URL = o.Endpoints[i%len(o.Endpoints)]
	if o.Passwords != nil {
		opts.Password = o.Passwords[StationID(o.FirstID+i)]
	}
	return opts
}
