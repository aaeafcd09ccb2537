package station

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Defaults of ChargerOptions.
const (
	DefaultConnectors  = 1
	DefaultRebootDelay = 2 * time.Second
)

// chargerCallTimeout is how long a charger waits for the answer to one of
// its calls. A call without an answer fails, and the charger goes on, as a
// charger whose message is lost does.
const chargerCallTimeout = 30 * time.Second

// bootRetry is how long a charger whose BootNotification was not accepted
// waits before it boots again, when the answer gives no interval.
const bootRetry = 10 * time.Second

// errHardReset is why a charger drops its connection on a hard reset.
var errHardReset = errors.New("hard reset: the charger reboots")

// ChargerOptions configure a Charger.
type ChargerOptions struct {
	// Options give the central system to connect to: URL, Dial and
	// Password. Answer must be nil: a charger answers the server's calls
	// itself.
	Options
	// Endpoints, if not empty, are the central systems the charger may
	// connect to, in place of Options.URL, as a charger that knows several
	// addresses of its operator does: it connects to the first. With
	// Reconnect, a charger that cannot connect at start tries the others in
	// turn at once, and one whose connection ends connects to the next one
	// in the list, round robin.
	Endpoints []string
	// Connectors is how many connectors the charger has, numbered from 1
	// (DefaultConnectors if zero).
	Connectors int
	// RebootDelay is how long a Reset keeps the charger offline before it
	// connects again (DefaultRebootDelay if zero).
	RebootDelay time.Duration
	// Reconnect makes the charger connect again when its connection ends
	// for any reason (the server said goodbye with 1001, closed the
	// connection without one, or was killed, or the network failed), as a
	// charger in the field does: to the next of its Endpoints, after a
	// short wait with a random part (see backoff), then, while it cannot
	// connect, to the next one after a wait twice as long, up to
	// maxReconnectWait, until it is connected or closed. It boots again
	// there; a transaction under way goes on, and its meter values with
	// it. Without Reconnect, the charger stops, and Err says why.
	Reconnect bool
}

// How long a charger whose connection dropped waits before each attempt to
// connect again (see backoff): about reconnectWait before the first, twice
// as long before each next, up to maxReconnectWait.
const (
	reconnectWait    = 2 * time.Second
	maxReconnectWait = 15 * time.Second
)

// backoff is how long a reconnecting charger waits before its attempt n
// (from 0): between half and all of reconnectWait·2ⁿ, at most
// maxReconnectWait. The random half is the jitter that spreads a fleet
// over time: when a server dies, its thousands of chargers see their
// connections end in the same millisecond, and must not all knock on the
// next server in the same millisecond too.
func backoff(n int) time.Duration {
	d := maxReconnectWait
	if n < 8 {
		d = min(reconnectWait<<n, maxReconnectWait)
	}
	return d/2 + rand.N(d/2)
}

// ConnectorState is one connector of a Charger, as Connectors reports it.
type ConnectorState struct {
	ID     int
	Status ocpp.ChargePointStatus
	// Transaction is the id the server gave the transaction under way, 0
	// when none is (or while it starts).
	Transaction int
	// Inoperative reports that the connector is out of service
	// (ChangeAvailability Inoperative), or will be once its transaction
	// ends.
	Inoperative bool
	// Energy is the meter's reading, in Wh.
	Energy int
}

// A Reconnect is a charger connecting again after its connection dropped:
// from the endpoint it lost to the one it booted on again, and how long
// that took.
type Reconnect struct {
	From, To string
	// Took is from the end of the connection to the BootNotification
	// accepted on the new one.
	Took time.Duration
}

// Moved reports whether the charger booted on another endpoint than the
// one it lost.
func (r Reconnect) Moved() bool { return r.From != r.To }

// Charger is a simulated charging station that acts on the central
// system's calls as a charger does:
//
//   - RemoteStartTransaction, on a free connector: Preparing, Authorize if
//     AuthorizeRemoteTxRequests is true (the default), StartTransaction,
//     Charging, then MeterValues every MeterValueSampleInterval
//     (DefaultMeterValueSampleInterval) until the transaction ends;
//   - RemoteStopTransaction of that transaction: Finishing, StopTransaction
//     (reason Remote), Available;
//   - Reset: stops any transaction (reason SoftReset or HardReset), closes
//     the connection (a hard reset without a close frame), and after
//     RebootDelay connects again and boots;
//   - ChangeAvailability: a connector, or all for connector 0, Unavailable
//     or Available at once, or Scheduled until its transaction ends;
//   - UnlockConnector: ends a transaction on the connector (reason
//     UnlockCommand);
//   - TriggerMessage: sends the message asked for;
//   - GetConfiguration and ChangeConfiguration: a table of the keys of the
//     profiles it supports, which the behaviours here read;
//   - GetDiagnostics: a file name, then DiagnosticsStatusNotification
//     Uploading and, after a short upload, Uploaded (UploadFailed for a
//     location that is not an ftp, ftps, http or https URL);
//   - UpdateFirmware: at its retrieveDate, FirmwareStatusNotification
//     Downloading, Downloaded (DownloadFailed for such a location) and
//     Installing, then a reboot and a BootNotification with the new
//     firmwareVersion, then Installed;
//   - GetLocalListVersion and SendLocalList: a local list, which Authorize
//     consults first as LocalPreAuthorize and LocalAuthorizeOffline say;
//   - ReserveNow and CancelReservation: a connector Reserved until its
//     expiryDate, and a remote start of its idTag that uses it;
//   - SetChargingProfile, ClearChargingProfile and GetCompositeSchedule:
//     the profiles, and the schedule they make together.
//
// Other calls get DefaultAnswer's answer. A charger answers a call first and
// acts on it after; it makes its own calls one at a time, as OCPP asks.
// After each boot it reports every connector's status, and it sends a
// Heartbeat every HeartbeatInterval, which the BootNotification's answer
// sets.
//
// A charger's state (connectors, transactions, availability,
// configuration) lives in the Charger, across connections. Its methods are
// safe for concurrent use.
type Charger struct {
	id       string
	opts     ChargerOptions
	p        profile
	t        *tally                 // a fleet's counters; nil outside a fleet
	actions  map[string]handler     // what the charger does with a server's call, by action
	triggers map[string]triggerFunc // what it sends for a TriggerMessage, by message

	endpoints []string // where it may connect, at least one

	ctx    context.Context // ends when Close begins
	stop   context.CancelFunc
	done   chan struct{} // closed when the charger's loop has ended
	wake   chan struct{} // buffered 1: a job was queued
	booted chan struct{} // closed when the server first accepted its BootNotification
	boots  sync.Once

	mu         sync.Mutex
	at         int       // the endpoint it is connected to, or tries: an index into endpoints
	st         *Station  // the connection now; nil while offline
	counted    string    // the endpoint the fleet's tally counts it on now, "" when none
	dropped    time.Time // when its connection dropped, until it booted again; zero while it is not reconnecting
	lostFrom   string    // the endpoint whose connection dropped, while dropped is set
	reconnects []Reconnect
	connectors []*connector // connector i+1; the slice never changes, the connectors' fields do
	config     []configKey
	rebooting  bool  // a Reset was accepted: the connection is about to end
	queue      []job // what the charger is to do, in order, on this connection
	// durable are jobs that a timer queued (see after): unlike queue's,
	// they outlive the connection, and run on the next one if this one
	// ends first.
	durable []job
	timers  map[*time.Timer]struct{} // those after started and that have not fired; Close stops them
	records []CallRecord
	err     error // why the loop ended, if not for Close

	firmware    string                 // the firmware version that BootNotification reports
	fw          *firmwareUpdate        // the UpdateFirmware under way, nil when none is
	fwStatus    ocpp.FirmwareStatus    // what a triggered FirmwareStatusNotification reports
	diagnostics ocpp.DiagnosticsStatus // what a triggered DiagnosticsStatusNotification reports
	localList   localList
	profiles    []installedProfile // the charging profiles, in the order set
}

// connector is one connector's state, guarded by the Charger's mu.
type connector struct {
	id          int
	inoperative bool
	energy      int          // the register's reading in Wh, as the last transaction left it
	tx          *transaction // nil when none is under way
	reserved    *reservation // nil when the connector is not reserved
}

// transaction is a transaction on a connector, from the RemoteStart that
// asked for it to the StopTransaction that ends it.
type transaction struct {
	idTag    string
	open     bool // StartTransaction was answered: id and started are set
	id       int
	started  time.Time
	stopping string // the reason it is to stop, "" while it runs
	// counted is the energy in Wh the meter counted until since, when the
	// charging profiles last changed (or the transaction started): from
	// then on it counts at the rate they allow.
	counted float64
	since   time.Time
	// profile is the TxProfile a RemoteStartTransaction sent with it, set
	// on the connector once the transaction has an id.
	profile *ocpp.ChargingProfile
}

// status is the connector's status as a StatusNotification reports it.
func (k *connector) status() ocpp.ChargePointStatus {
	switch {
	case k.tx == nil && k.inoperative:
		return ocpp.StatusUnavailable
	case k.tx == nil && k.reserved != nil:
		return ocpp.StatusReserved
	case k.tx == nil:
		return ocpp.StatusAvailable
	case !k.tx.open:
		return ocpp.StatusPreparing
	case k.tx.stopping != "":
		return ocpp.StatusFinishing
	default:
		return ocpp.StatusCharging
	}
}

// free reports whether a transaction can start on the connector for
// anyone.
func (k *connector) free() bool { return k.tx == nil && !k.inoperative && k.reserved == nil }

// freeFor reports whether a transaction can start on the connector for
// idTag: it is free, or reserved for idTag.
func (k *connector) freeFor(idTag string) bool {
	return k.tx == nil && !k.inoperative && (k.reserved == nil || k.reserved.holds(idTag))
}

// charging reports whether the connector delivers energy now.
func (k *connector) charging() bool { return k.tx != nil && k.tx.open && k.tx.stopping == "" }

// reading is the register's reading of k now: from the start of the
// transaction until its StopTransaction, it counts at the charger's power,
// or what the charging profiles allow (see meterRate). The caller holds
// mu.
func (c *Charger) reading(k *connector) int {
	if k.tx == nil || !k.tx.open {
		return k.energy
	}
	return k.energy + int(k.tx.counted+c.counting(k, time.Now()))
}

// StartCharger connects the charger id to the central system at opts.URL
// and starts it: it boots, reports its connectors, and acts on the server's
// calls until Close is called or the server ends the connection (a Reset
// aside, after which it connects again). Like Dial, ctx bounds the first
// connecting only. Close it when done.
func StartCharger(ctx context.Context, id string, opts ChargerOptions) (*Charger, error) {
	return startCharger(ctx, id, opts, nil)
}

func startCharger(ctx context.Context, id string, opts ChargerOptions, t *tally) (*Charger, error) {
	switch {
	case opts.Answer != nil:
		return nil, fmt.Errorf("station %s: a charger answers the server's calls itself: leave Options.Answer nil", id)
	case opts.Connectors < 0:
		return nil, fmt.Errorf("station %s: %d connectors: want 1 or more", id, opts.Connectors)
	case opts.RebootDelay < 0:
		return nil, fmt.Errorf("station %s: reboot delay %v: want 0 or more", id, opts.RebootDelay)
	}
	if opts.Connectors == 0 {
		opts.Connectors = DefaultConnectors
	}
	if opts.RebootDelay == 0 {
		opts.RebootDelay = DefaultRebootDelay
	}
	for _, u := range opts.Endpoints {
		if _, err := endpoint(u, id); err != nil {
			return nil, fmt.Errorf("station %s: %w", id, err)
		}
	}
	c := newCharger(id, opts, t)
	st, err := c.connectFirst(ctx)
	if err != nil {
		c.stop()
		return nil, err
	}
	go c.run(st)
	return c, nil
}

// connectFirst connects the charger for the first time: to its first
// endpoint, or with Reconnect, if that fails, to each of the others in
// turn, at once, as a charger that powers up goes down its list. If none
// takes it, the error is the first endpoint's.
func (c *Charger) connectFirst(ctx context.Context) (*Station, error) {
	tries := 1
	if c.opts.Reconnect {
		tries = len(c.endpoints)
	}
	var first error
	for i := range tries {
		if i > 0 {
			c.next()
		}
		st, err := c.dial(ctx)
		switch {
		case err == nil:
			return st, nil
		case ctx.Err() != nil:
			return nil, err
		case first == nil:
			first = err
		}
	}
	if tries > 1 {
		return nil, fmt.Errorf("%w; its %d other endpoints failed too", first, tries-1)
	}
	return nil, first
}

func newCharger(id string, opts ChargerOptions, t *tally) *Charger {
	c := &Charger{
		id:     id,
		opts:   opts,
		p:      newProfile(id),
		t:      t,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		booted: make(chan struct{}),
		config: newConfig(opts.Connectors),
		timers: make(map[*time.Timer]struct{}),

		firmware:    firmware,
		fwStatus:    ocpp.FirmwareIdle,
		diagnostics: ocpp.DiagnosticsIdle,
		localList:   localList{entries: make(map[string]ocpp.IdTagInfo)},
	}
	c.endpoints = opts.Endpoints
	if len(c.endpoints) == 0 {
		c.endpoints = []string{opts.URL}
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	for i := range opts.Connectors {
		c.connectors = append(c.connectors, &connector{id: i + 1, energy: c.p.meterStart})
	}
	c.actions = chargerActions()
	c.triggers = chargerTriggers()
	return c
}

// dial opens a connection to the charger's endpoint now.
func (c *Charger) dial(ctx context.Context) (*Station, error) {
	o := c.opts.Options
	o.Answer = c.answer
	c.mu.Lock()
	o.URL = c.endpoints[c.at]
	c.mu.Unlock()
	return dial(ctx, c.id, o, c.t)
}

// next makes the next endpoint the charger's, round robin.
func (c *Charger) next() {
	c.mu.Lock()
	c.at = (c.at + 1) % len(c.endpoints)
	c.mu.Unlock()
}

// Endpoint returns the endpoint the charger is connected to, or, while it
// is offline, the one it connects to next.
func (c *Charger) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endpoints[c.at]
}

// Reconnects returns the charger's connections made again after its
// connection dropped (see ChargerOptions.Reconnect), in order. A reset's
// reboot is not among them.
func (c *Charger) Reconnects() []Reconnect {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reconnects)
}

// Reconnecting reports whether the charger's connection dropped and it has
// not booted again since.
func (c *Charger) Reconnecting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.dropped.IsZero()
}

// ID returns the charger's identity.
func (c *Charger) ID() string { return c.id }

// Done returns a channel that is closed when the charger has stopped: the
// server ended its connection, it could not connect again after a reset,
// or Close was called.
func (c *Charger) Done() <-chan struct{} { return c.done }

// Booted is closed once the server has accepted the charger's first
// BootNotification: from then on it is a station the server knows.
func (c *Charger) Booted() <-chan struct{} { return c.booted }

// Err reports why the charger stopped: nil after Close or while it runs,
// otherwise the end of its connection (a wrapped *websocket.CloseError
// when the server closed it) or the failure to connect again or to boot.
func (c *Charger) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops the charger: its connection closes the polite way and every
// goroutine it started ends before Close returns. A transaction under way
// is not stopped: the charger is switched off. Close is idempotent and safe
// to call concurrently.
func (c *Charger) Close() error {
	c.stop()
	c.mu.Lock()
	st := c.st
	for t := range c.timers {
		t.Stop()
	}
	clear(c.timers)
	c.mu.Unlock()
	if st != nil {
		st.Close()
	}
	<-c.done
	return nil
}

// Calls returns the calls the charger made so far, on all its connections,
// in the order made. A call cut short by Close is not among them.
func (c *Charger) Calls() []CallRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CallRecord(nil), c.records...)
}

// Connectors returns the state of each connector, connector 1 first.
func (c *Charger) Connectors() []ConnectorState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ConnectorState, len(c.connectors))
	for i, k := range c.connectors {
		out[i] = ConnectorState{ID: k.id, Status: k.status(), Inoperative: k.inoperative, Energy: c.reading(k)}
		if k.tx != nil && k.tx.open {
			out[i].Transaction = k.tx.id
		}
	}
	return out
}

// connector returns connector id, or nil if there is none of that number.
func (c *Charger) connector(id int) *connector {
	if id < 1 || id > len(c.connectors) {
		return nil
	}
	return c.connectors[id-1]
}

// flag reads a boolean key; the caller holds mu.
func (c *Charger) flag(name string) bool {
	k := findKey(c.config, name)
	return k != nil && k.value == "true"
}

// seconds reads a key that holds seconds; the caller holds mu.
func (c *Charger) seconds(name string) time.Duration {
	var n int
	if k := findKey(c.config, name); k != nil {
		n, _ = strconv.Atoi(k.value) // the table holds whole numbers only
	}
	return time.Duration(n) * time.Second
}

// job is something the charger does on its loop, on the connection l: the
// calls that follow an answer.
type job func(l *link)

// enqueue adds j to what the loop is to do. It never blocks.
func (c *Charger) enqueue(j job) {
	c.mu.Lock()
	c.queue = append(c.queue, j)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// push adds j to the durable jobs, which outlive a connection; the caller
// holds mu. It never blocks.
func (c *Charger) push(j job) {
	c.durable = append(c.durable, j)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// after runs f, with mu held, once d has passed, unless Close comes first;
// the caller holds mu. f may push jobs. The timer it returns is stopped by
// stopTimer.
func (c *Charger) after(d time.Duration, f func()) *time.Timer {
	if c.ctx.Err() != nil {
		return nil
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		// Stopped, or stopped by Close, after it fired: it is not to run.
		if _, live := c.timers[t]; live {
			delete(c.timers, t)
			f()
		}
	})
	c.timers[t] = struct{}{}
	return t
}

// stopTimer stops a timer of after's, if it has not run; the caller holds
// mu.
func (c *Charger) stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
		delete(c.timers, t)
	}
}

// take returns the jobs queued so far, durable ones first, and empties
// both queues.
func (c *Charger) take() []job {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := append(c.durable, c.queue...)
	c.durable, c.queue = nil, nil
	return q
}

// run is the charger's loop: one connection after another, until Close or,
// without Reconnect, a connection that ends for any reason but a Reset.
func (c *Charger) run(st *Station) {
	defer close(c.done)
	for {
		reset, err := c.online(st)
		ended := time.Now()
		st.Close()
		c.offline(reset)
		if c.ctx.Err() != nil {
			return
		}
		if !reset && !c.opts.Reconnect {
			c.fail(err)
			return
		}
		if !reset {
			c.drop(ended)
		}
		if st = c.connectAgain(reset); st == nil {
			return
		}
	}
}

// connectAgain connects the charger again after its connection ended:
// after a reset, to the same endpoint once RebootDelay has passed; after a
// drop (or a reset after which it cannot connect), with Reconnect, to the
// next endpoint after each backoff, as long as it takes. It returns nil when
// it gives up, or Close was called.
func (c *Charger) connectAgain(reset bool) *Station {
	if reset {
		if !c.sleep(c.opts.RebootDelay) {
			return nil
		}
		st, err := c.dial(c.ctx)
		switch {
		case err == nil:
			return st
		case c.ctx.Err() != nil:
			return nil
		case !c.opts.Reconnect:
			c.fail(fmt.Errorf("connect again after a reset: %w", err))
			return nil
		}
		c.drop(time.Now())
	}
	for n := 0; ; n++ {
		c.next()
		if !c.sleep(backoff(n)) {
			return nil
		}
		st, err := c.dial(c.ctx)
		switch {
		case err == nil:
			return st
		case c.ctx.Err() != nil:
			return nil
		}
	}
}

// sleep waits for d, and reports false if Close came first.
func (c *Charger) sleep(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// drop records that the charger's connection ended at the time ended, for
// the move that follows. A drop before it booted again after an earlier one
// is part of that move.
func (c *Charger) drop(ended time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dropped.IsZero() {
		return
	}
	c.dropped, c.lostFrom = ended, c.endpoints[c.at]
	if c.t != nil {
		c.t.reconnecting.Add(1)
	}
}

// arrived records that the server of the charger's endpoint accepted its
// BootNotification: the fleet counts it there, and a move after a drop is
// over.
func (c *Charger) arrived() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counted = c.endpoints[c.at]
	c.t.on(c.counted, 1)
	if c.dropped.IsZero() {
		return
	}
	r := Reconnect{From: c.lostFrom, To: c.counted, Took: time.Since(c.dropped)}
	if c.t != nil {
		c.t.reconnects.Add(1)
		c.t.reconnecting.Add(-1)
		if r.Moved() && !slices.ContainsFunc(c.reconnects, Reconnect.Moved) {
			c.t.moved.Add(1)
		}
	}
	c.reconnects = append(c.reconnects, r)
	c.dropped, c.lostFrom = time.Time{}, ""
}

// fail records why the charger stopped.
func (c *Charger) fail(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// offline forgets what only a connection held: the jobs not done, and a
// transaction that had not started. One under way goes on, unless the
// connection ended in a reset, which stops them all.
func (c *Charger) offline(reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st = nil
	if c.ctx.Err() == nil {
		// A charger closed at the end of a run stays counted where it
		// was: the fleet's last progress says where its stations ended.
		c.t.on(c.counted, -1)
	}
	c.counted = ""
	c.queue = nil
	for _, k := range c.connectors {
		if reset || k.tx != nil && !k.tx.open {
			k.tx = nil
			c.dropTxProfiles(k.id)
		}
	}
}

// online runs one connection: the boot, the connectors' statuses, then the
// jobs, samples and heartbeats, until the connection ends, Close is called
// or a reset ends it, which online reports.
func (c *Charger) online(st *Station) (reset bool, err error) {
	c.mu.Lock()
	c.st = st
	c.rebooting = false
	c.mu.Unlock()
	l := &link{c: c, st: st}
	defer l.meter.set(0)
	defer l.heartbeat.set(0)
	if err := l.boot(); err != nil {
		return false, err
	}
	c.arrived()
	c.boots.Do(func() { close(c.booted) })
	l.statuses(nil)
	l.retime()
	l.firmwareInstalled()
	// A stop asked for on the last connection, and lost with it.
	for _, k := range c.stopsAsked() {
		l.stop(k, true)
	}
	for !l.reset {
		select {
		case <-c.wake:
			for _, j := range c.take() {
				j(l)
				if l.reset {
					break
				}
			}
		case <-l.meter.c():
			l.sample()
		case <-l.heartbeat.c():
			l.call(ocpp.ActionHeartbeat, ocpp.HeartbeatRequest{}, nil)
		case <-st.Done():
			return false, st.Err()
		case <-c.ctx.Done():
			return false, nil
		}
	}
	return true, nil
}

// link is one connection of a charger, as its loop sees it.
type link struct {
	c                *Charger
	st               *Station
	meter, heartbeat every
	samples          int  // periodic samples sent on this connection
	reset            bool // a reset has ended the connection
}

// every is a ticker that can be off.
type every struct {
	t *time.Ticker
	d time.Duration
}

// set makes the ticker tick every d, or stops it for 0. The same d leaves
// it as it is.
func (e *every) set(d time.Duration) {
	if d == e.d {
		return
	}
	e.d = d
	if e.t != nil {
		e.t.Stop()
		e.t = nil
	}
	if d > 0 {
		e.t = time.NewTicker(d)
	}
}

// restart makes the ticker's next tick a whole period from now.
func (e *every) restart() {
	if e.t != nil {
		e.t.Reset(e.d)
	}
}

// c is the ticker's channel, or nil while it is off.
func (e *every) c() <-chan time.Time {
	if e.t == nil {
		return nil
	}
	return e.t.C
}

// call makes one call and records it. It fails when the server answers
// with a CALLERROR, or not within chargerCallTimeout.
func (l *link) call(action string, req, resp any) error {
	ctx, cancel := context.WithTimeout(l.c.ctx, chargerCallTimeout)
	defer cancel()
	rec := l.st.exchange(ctx, action, req, resp)
	l.c.mu.Lock()
	if rec.Err == nil || l.c.ctx.Err() == nil {
		l.c.records = append(l.c.records, rec)
	}
	l.c.mu.Unlock()
	if rec.Err != nil {
		return l.st.describe(rec)
	}
	return nil
}

// boot sends BootNotification until the server accepts it: after a Pending
// or Rejected answer it waits the interval the answer gives.
func (l *link) boot() error {
	for {
		accepted, wait, err := l.bootOnce()
		if err != nil || accepted {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-l.st.Done():
			timer.Stop()
			return l.st.Err()
		case <-l.c.ctx.Done():
			timer.Stop()
			return l.c.ctx.Err()
		}
	}
}

// bootOnce sends one BootNotification. An accepted one sets the heartbeat
// interval; another says how long to wait before the next.
func (l *link) bootOnce() (accepted bool, wait time.Duration, err error) {
	var resp ocpp.BootNotificationResponse
	req := l.c.p.bootNotification()
	l.c.mu.Lock()
	req.FirmwareVersion = l.c.firmware
	l.c.mu.Unlock()
	if err := l.call(ocpp.ActionBootNotification, req, &resp); err != nil {
		return false, 0, err
	}
	interval := time.Duration(resp.Interval) * time.Second
	if resp.Status != ocpp.RegistrationAccepted {
		if interval <= 0 {
			interval = bootRetry
		}
		return false, interval, nil
	}
	if resp.Interval > 0 {
		l.c.mu.Lock()
		changeConfiguration(l.c.config, KeyHeartbeatInterval, fmt.Sprint(resp.Interval))
		l.c.mu.Unlock()
	}
	return true, 0, nil
}

// retime sets the heartbeat and the meter's sampling to the configuration.
func (l *link) retime() {
	l.c.mu.Lock()
	hb, mv := l.c.seconds(KeyHeartbeatInterval), l.c.seconds(KeyMeterValueSampleInterval)
	l.c.mu.Unlock()
	l.heartbeat.set(hb)
	l.meter.set(mv)
}

// status reports connector id's status.
func (l *link) status(id int, status ocpp.ChargePointStatus) {
	l.call(ocpp.ActionStatusNotification, ocpp.StatusNotificationRequest{
		ConnectorId: id,
		ErrorCode:   ocpp.ChargePointNoError,
		Status:      status,
		Timestamp:   ocpp.NewDateTime(time.Now()),
	}, nil)
}

// statuses reports the status each connector of ids has now; nil means
// every connector.
func (l *link) statuses(ids []int) {
	if ids == nil {
		ids = l.c.allConnectors()
	}
	for _, id := range ids {
		l.c.mu.Lock()
		st := l.c.connector(id).status()
		l.c.mu.Unlock()
		l.status(id, st)
	}
}

func (c *Charger) allConnectors() []int {
	ids := make([]int, len(c.connectors))
	for i, k := range c.connectors {
		ids[i] = k.id
	}
	return ids
}

// start runs the start of a transaction that a RemoteStartTransaction
// asked for on k: Preparing, Authorize if the configuration says so (and
// the local list does not: see authorized), StartTransaction, with the
// connector's reservation for the idTag if it has one, Charging. A
// refused idTag or a failed call ends it where it is, and the connector is
// free again (or reserved, as it was).
func (l *link) start(k *connector) {
	c := l.c
	c.mu.Lock()
	if k.tx == nil || k.tx.open {
		c.mu.Unlock()
		return
	}
	tag := k.tx.idTag
	authorize := c.flag(KeyAuthorizeRemoteTxRequests)
	c.mu.Unlock()

	l.status(k.id, ocpp.StatusPreparing)
	if authorize && !l.authorized(tag) {
		l.abandon(k)
		return
	}
	c.mu.Lock()
	cancelled := k.tx.stopping != "" // unlocked or reset while preparing
	req := ocpp.StartTransactionRequest{ConnectorId: k.id, IdTag: tag, MeterStart: k.energy, Timestamp: ocpp.DateTime{Time: time.Now()}}
	r := k.reserved
	if r != nil && r.holds(tag) {
		req.ReservationId = &r.id
	}
	c.mu.Unlock()
	if cancelled {
		l.abandon(k)
		return
	}
	var resp ocpp.StartTransactionResponse
	if err := l.call(ocpp.ActionStartTransaction, req, &resp); err != nil {
		l.abandon(k)
		return
	}
	c.mu.Lock()
	k.tx.open, k.tx.id, k.tx.started = true, resp.TransactionId, req.Timestamp.Time
	k.tx.since = k.tx.started
	if req.ReservationId != nil && k.reserved == r {
		// The transaction used the reservation up; the server ends it on
		// its side.
		c.stopTimer(r.expiry)
		k.reserved = nil
	}
	if p := k.tx.profile; p != nil {
		p.TransactionId = ptrTo(k.tx.id)
		c.installProfile(k.id, *p)
	}
	if resp.IdTagInfo.Status != ocpp.AuthorizationAccepted && c.flag(KeyStopTransactionOnInvalidId) && k.tx.stopping == "" {
		k.tx.stopping = ocpp.ReasonDeAuthorized
	}
	stopping := k.tx.stopping != ""
	c.mu.Unlock()
	if stopping {
		l.stop(k, true)
		return
	}
	l.status(k.id, ocpp.StatusCharging)
	if l.c.chargingConnectors() == 1 {
		// Samples are taken an interval apart from the start of charging,
		// not from when the connection began.
		l.meter.restart()
	}
}

// stopsAsked returns the connectors whose open transaction is to stop.
func (c *Charger) stopsAsked() []*connector {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ks []*connector
	for _, k := range c.connectors {
		if k.tx != nil && k.tx.open && k.tx.stopping != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

// chargingConnectors counts the connectors that charge now.
func (c *Charger) chargingConnectors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.connectors {
		if k.charging() {
			n++
		}
	}
	return n
}

// abandon gives up a transaction that did not open: the connector is free,
// or unavailable, again.
func (l *link) abandon(k *connector) {
	l.c.mu.Lock()
	k.tx = nil
	st := k.status()
	l.c.mu.Unlock()
	l.status(k.id, st)
}

// stop ends k's open transaction for the reason it is stopping:
// StopTransaction, between Finishing and the status that follows
// (Available, or Unavailable if a change of availability waited for it)
// when withStatus. A transaction that is not open is left to start, which
// stops it once it is.
func (l *link) stop(k *connector, withStatus bool) {
	c := l.c
	c.mu.Lock()
	tx := k.tx
	if tx == nil || !tx.open {
		c.mu.Unlock()
		return
	}
	meterStop := c.reading(k)
	reason := tx.stopping
	if reason == "" {
		reason = ocpp.ReasonLocal
		tx.stopping = reason
	}
	req := ocpp.StopTransactionRequest{
		TransactionId: tx.id,
		MeterStop:     meterStop,
		Timestamp:     ocpp.DateTime{Time: time.Now()},
		IdTag:         tx.idTag,
		Reason:        reason,
	}
	c.mu.Unlock()

	if withStatus {
		l.status(k.id, ocpp.StatusFinishing)
	}
	l.call(ocpp.ActionStopTransaction, req, nil)
	c.mu.Lock()
	k.energy, k.tx = meterStop, nil
	c.dropTxProfiles(k.id)
	st := k.status()
	c.mu.Unlock()
	if withStatus {
		l.status(k.id, st)
	}
}

// resetNow stops every transaction and ends the connection, as a reset of
// kind (Soft or Hard) does: the loop connects again.
func (l *link) resetNow(kind string) {
	for _, k := range l.c.connectors {
		l.stop(k, false)
	}
	if kind == ocpp.ResetHard {
		l.st.breakConn(errHardReset)
	}
	l.st.Close()
	l.reset = true
}

// sample sends a periodic MeterValues for each connector that charges.
func (l *link) sample() {
	l.samples++
	l.c.mu.Lock()
	var reqs []ocpp.MeterValuesRequest
	for _, k := range l.c.connectors {
		if k.charging() {
			reqs = append(reqs, l.c.meterValues(k, ocpp.ContextSamplePeriodic, l.samples))
		}
	}
	l.c.mu.Unlock()
	for _, req := range reqs {
		l.call(ocpp.ActionMeterValues, req, nil)
	}
}

// meterValues is a reading of connector k's meter, the n-th of its kind,
// with the measurands MeterValuesSampledData asks for (the register if it
// asks for none). The caller holds mu.
func (c *Charger) meterValues(k *connector, context string, n int) ocpp.MeterValuesRequest {
	req := ocpp.MeterValuesRequest{ConnectorId: k.id}
	power := 0
	if k.charging() {
		id := k.tx.id
		req.TransactionId = &id
		power = c.p.powerAt(n)
		if limit := c.meterRate(k, time.Now()); limit < float64(c.p.power) {
			power = int(limit) // a charging profile holds it back
		}
	}
	sample := func(measurand, unit, value string) ocpp.SampledValue {
		return ocpp.SampledValue{Value: value, Context: context, Format: ocpp.FormatRaw,
			Measurand: measurand, Location: ocpp.LocationOutlet, Unit: unit}
	}
	measurands := strings.Split(findKey(c.config, KeyMeterValuesSampledData).value, ",")
	if measurands[0] == "" {
		// MeterValues carries one value at least: the register.
		measurands = []string{ocpp.MeasurandEnergyActiveImportRegister}
	}
	var sampled []ocpp.SampledValue
	for _, m := range measurands {
		switch m {
		case ocpp.MeasurandEnergyActiveImportRegister:
			sampled = append(sampled, sample(m, ocpp.UnitWh, fmt.Sprint(c.reading(k))))
		case ocpp.MeasurandPowerActiveImport:
			sampled = append(sampled, sample(m, ocpp.UnitW, fmt.Sprint(power)))
		case ocpp.MeasurandCurrentImport:
			// Three phases at 230 V: the current of each.
			sampled = append(sampled, sample(m, ocpp.UnitA, fmt.Sprintf("%.1f", float64(power)/3/230)))
		case ocpp.MeasurandVoltage:
			sampled = append(sampled, sample(m, ocpp.UnitV, "230"))
		}
	}
	req.MeterValue = []ocpp.MeterValue{{Timestamp: ocpp.DateTime{Time: time.Now()}, SampledValue: sampled}}
	return req
}
