package live

import (
	"math"
	"net"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ocppkata/kata/harness/ocpp"
)

// maxPendingPerConn bounds the calls a connection's tap remembers awaiting
// their answer: a station that floods calls the server never answers must
// not grow the view without end. Calls beyond it still count as waiting;
// only their latency goes unmeasured.
const maxPendingPerConn = 4096

// Listener returns l with every connection it accepts watched by the hub:
// pass it to the step's Serve. Each connection implements wsconn.Tap, so
// that the step's own wsconn code reports to the hub every call the
// station sends and every answer the server gives, whatever the step.
func (h *Hub) Listener(l net.Listener) net.Listener { return &listener{Listener: l, h: h} }

type listener struct {
	net.Listener
	h *Hub
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tapConn{Conn: c, h: l.h}, nil
}

// tapConn is one station connection as the hub watches it: the calls its
// station sent that have not been answered yet, by message id, and the
// answers it was sent since the hub last looked (at each frame).
//
// It counts on its own, under its own lock, so that the connections do not
// queue on one lock for every call; the hub adds their counts up when it
// makes a frame. It counts only while a page watches (see Hub.watching):
// what it counted belongs to one watch, and is dropped when the next
// begins, so that a page sees the calls read since it came, and the calls
// read before wait for nothing in its view. What it counts is made at its
// first call of a watch, and dropped when the watch ends: a connection
// nobody watches costs the hub no more than its tapConn.
type tapConn struct {
	net.Conn
	h *Hub

	mu     sync.Mutex
	counts *counts // of the watch it last counted in; nil if none
	closed bool
}

// counts is what a tapConn counted in one watch.
type counts struct {
	watch   uint64
	station string
	calls   map[string]time.Time // call id → when it was read
	unknown int                  // calls waiting beyond maxPendingPerConn
	tally   *tally               // the answers sent since the hub last looked
}

// tally is what the answers sent on a connection since the hub last looked
// tell: how many, and how long each call waited for its answer.
type tally struct {
	calls   int
	latency [numBuckets]uint32
}

// FrameRead implements wsconn.Tap.
//
// While no page watches, it keeps only what a page that comes must show
// at once, the state a station's notifications report (see reportKind)
// but for its meter readings; a call costs it a look at the start of the
// frame.
func (c *tapConn) FrameRead(station string, data []byte) {
	watch := c.h.watching.Load()
	typ, id, action, ok := peek(data)
	if !ok || typ != ocpp.TypeCall {
		return // a frame the server cannot answer as a call: it waits for nothing
	}
	kind := reportKindOf(action)
	if watch == 0 && (kind == noReport || kind == meterReading) {
		// A meter reading comes every few seconds from each station
		// charging: a page that comes shows the energy from the next.
		return
	}
	if !validID(id) || !utf8.Valid(data) {
		return // the server refuses it without an answer
	}
	if kind != noReport {
		if r, ok := reportOf(kind, data); ok {
			c.h.stationSeen(station, r)
		}
	}
	if watch == 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	fresh := c.counts == nil || c.counts.watch != watch
	if fresh {
		// The first call of this watch: what was counted before belongs
		// to another, or to none.
		c.counts = &counts{watch: watch, station: station, calls: make(map[string]time.Time)}
	}
	n := c.counts
	if _, dup := n.calls[string(id)]; !dup && len(n.calls) < maxPendingPerConn {
		n.calls[string(id)] = now
	} else {
		n.unknown++
	}
	c.mu.Unlock()
	if fresh {
		c.h.tapCounting(c, watch, station)
	}
}

// MessageSent implements wsconn.Tap. While no page watches, it does
// nothing.
func (c *tapConn) MessageSent(station string, m ocpp.Message) {
	watch := c.h.watching.Load()
	if watch == 0 {
		return
	}
	var id string
	switch m := m.(type) {
	case *ocpp.CallResult:
		id = m.ID
	case *ocpp.CallError:
		id = m.ID
	default:
		return // the server's own call
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.counts
	if c.closed || n == nil || n.watch != watch {
		return // the answer to a call read before this watch: it was not counted
	}
	read, ok := n.calls[id]
	switch {
	case ok:
		delete(n.calls, id)
	case n.unknown > 0:
		n.unknown--
	default:
		return // an answer to a frame the tap did not count (a malformed call)
	}
	if n.tally == nil {
		n.tally = new(tally)
	}
	n.tally.calls++
	if ok {
		n.tally.latency[bucket(now.Sub(read))]++
	}
}

// Close closes the connection: its unanswered calls stop waiting, and
// the hub counts its last answers.
func (c *tapConn) Close() error {
	c.mu.Lock()
	n := c.counts
	c.closed, c.counts = true, nil
	c.mu.Unlock()
	if n != nil {
		c.h.tapClosed(c, n.watch, n.tally)
	}
	return c.Conn.Close()
}

// look returns, for the hub making a frame in watch, the calls the
// connection's station waits for and the answers sent since the last
// look, which it forgets.
func (c *tapConn) look(watch uint64) (station string, waiting int, answers tally) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.counts
	if c.closed || n == nil || n.watch != watch {
		return "", 0, tally{}
	}
	if n.tally != nil {
		answers, *n.tally = *n.tally, tally{}
	}
	return n.station, len(n.calls) + n.unknown, answers
}

// endWatch drops what the connection counted in watch, which has ended.
func (c *tapConn) endWatch(watch uint64) {
	c.mu.Lock()
	if c.counts != nil && c.counts.watch == watch {
		c.counts = nil
	}
	c.mu.Unlock()
}

// validID reports whether a call's id is one the server can answer to:
// one that ocpp.Decode refuses gets no answer, so it must not count as
// waiting for one.
func validID(id []byte) bool {
	return len(id) > 0 && utf8.Valid(id) && utf8.RuneCount(id) <= ocpp.MaxIDLength
}

// reportKind is the kind of state a station's notification reports, of
// those the tiles show.
type reportKind uint8

const (
	noReport          reportKind = iota
	connectorStatus              // StatusNotification
	firmwareStatus               // FirmwareStatusNotification
	diagnosticsStatus            // DiagnosticsStatusNotification
	booted                       // BootNotification
	txStarted                    // StartTransaction
	txStopped                    // StopTransaction
	meterReading                 // MeterValues
)

// reportKindOf returns the kind of state a call of action reports, or
// noReport.
func reportKindOf(action []byte) reportKind {
	switch string(action) {
	case ocpp.ActionStatusNotification:
		return connectorStatus
	case ocpp.ActionFirmwareStatusNotification:
		return firmwareStatus
	case ocpp.ActionDiagnosticsStatusNotification:
		return diagnosticsStatus
	case ocpp.ActionBootNotification:
		return booted
	case ocpp.ActionStartTransaction:
		return txStarted
	case ocpp.ActionStopTransaction:
		return txStopped
	case ocpp.ActionMeterValues:
		return meterReading
	}
	return noReport
}

// report is what a station's notification says of its state: a
// connector's status, how a firmware update or a diagnostics upload is
// going, that it booted, or how a transaction goes.
type report struct {
	kind      reportKind
	status    string
	connector int // a StatusNotification's, StartTransaction's or MeterValues'
	tx        int // a StopTransaction's or MeterValues' transaction; 0 if none
	meter     meter
}

// meter is what a StartTransaction or a MeterValues reads on a
// connector's meter.
type meter struct {
	wh       float64 // Energy.Active.Import.Register, Wh
	w        float64 // Power.Active.Import, W
	hasWh    bool
	hasW     bool
	register bool // wh is not meterStart but a register reading
}

// reportOf decodes the report of kind that a call's frame carries. It
// reports false for a payload that is not one: a firmware or diagnostics
// status that OCPP 1.6 does not have among them, which the server refuses
// and the tile must not show.
func reportOf(kind reportKind, data []byte) (report, bool) {
	msg, err := ocpp.Decode(data)
	if err != nil {
		return report{}, false
	}
	call, ok := msg.(*ocpp.Call)
	if !ok {
		return report{}, false
	}
	r := report{kind: kind}
	switch kind {
	case connectorStatus:
		var req ocpp.StatusNotificationRequest
		if call.UnmarshalPayload(&req) != nil {
			return report{}, false
		}
		r.status, r.connector = string(req.Status), req.ConnectorId
	case firmwareStatus:
		var req ocpp.FirmwareStatusNotificationRequest
		if call.UnmarshalPayload(&req) != nil || !req.Status.Valid() {
			return report{}, false
		}
		r.status = string(req.Status)
	case diagnosticsStatus:
		var req ocpp.DiagnosticsStatusNotificationRequest
		if call.UnmarshalPayload(&req) != nil || !req.Status.Valid() {
			return report{}, false
		}
		r.status = string(req.Status)
	case booted:
		// Its payload is not decoded: every station sends one as it
		// connects, and a decode there, on its reader's goroutine, grew
		// each idle station's stack (make bench PHASE=idle: +0.3 to +0.5
		// KiB a station). That it booted is all the page shows.
		return r, true
	case txStarted:
		var req ocpp.StartTransactionRequest
		if call.UnmarshalPayload(&req) != nil {
			return report{}, false
		}
		r.connector, r.meter = req.ConnectorId, meter{wh: float64(req.MeterStart), hasWh: true}
		return r, true
	case txStopped:
		var req ocpp.StopTransactionRequest
		if call.UnmarshalPayload(&req) != nil {
			return report{}, false
		}
		r.tx = req.TransactionId
		return r, true
	case meterReading:
		var req ocpp.MeterValuesRequest
		if call.UnmarshalPayload(&req) != nil {
			return report{}, false
		}
		r.connector, r.meter = req.ConnectorId, meterOf(req.MeterValue)
		if req.TransactionId != nil {
			r.tx = *req.TransactionId
		}
		return r, r.meter.hasWh || r.meter.hasW
	default:
		return report{}, false
	}
	return r, r.status != ""
}

// meterOf reads the energy register and the active power a MeterValues
// carries, each from the last reading that has it: the value of the meter
// as a whole (no phase) where there is one, or else the phases' added up.
// A value in a unit that is not energy's or power's, or that is not a
// number (signed data), is not read.
func meterOf(readings []ocpp.MeterValue) meter {
	m := meter{register: true}
	for _, mv := range readings {
		if wh, ok := sampled(mv.SampledValue, ocpp.MeasurandEnergyActiveImportRegister, energyUnit); ok {
			m.wh, m.hasWh = wh, true
		}
		if w, ok := sampled(mv.SampledValue, ocpp.MeasurandPowerActiveImport, powerUnit); ok {
			m.w, m.hasW = w, true
		}
	}
	return m
}

// energyUnit and powerUnit say how many Wh or W a unit is, and whether
// it is one of energy or of power. A value with no unit is in Wh, OCPP's
// default; a power with none is taken as W.
func energyUnit(unit string) (float64, bool) {
	switch unit {
	case "", ocpp.UnitWh:
		return 1, true
	case ocpp.UnitKWh:
		return 1000, true
	}
	return 0, false
}

func powerUnit(unit string) (float64, bool) {
	switch unit {
	case "", ocpp.UnitW:
		return 1, true
	case ocpp.UnitKW:
		return 1000, true
	}
	return 0, false
}

// sampled returns the value of measurand among values, in the units of
// scale: the one without a phase, or else the phases' sum.
func sampled(values []ocpp.SampledValue, measurand string, scale func(unit string) (float64, bool)) (float64, bool) {
	var whole, phases float64
	var hasWhole, hasPhases bool
	for _, v := range values {
		name := v.Measurand
		if name == "" {
			name = ocpp.MeasurandEnergyActiveImportRegister // OCPP's default
		}
		k, ok := scale(v.Unit)
		if name != measurand || !ok || (v.Format != "" && v.Format != ocpp.FormatRaw) || v.Phase == ocpp.PhaseN {
			continue
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		if v.Phase == "" {
			whole, hasWhole = x*k, true
		} else {
			phases, hasPhases = phases+x*k, true
		}
	}
	if hasWhole {
		return whole, true
	}
	return phases, hasPhases
}

// peek reads the start of an OCPP-J frame, [type, "id", "action", …],
// without decoding the rest: the tap sees every frame, and decoding each
// whole a second time would cost the server more than the view is worth.
// It reports false for what it cannot read this way, an escaped string
// among them; such a frame goes uncounted. Id and action are data's own
// bytes: a frame read costs no copy of them.
func peek(data []byte) (typ ocpp.MessageType, id, action []byte, ok bool) {
	i := 0
	skip := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
	}
	expect := func(b byte) bool {
		skip()
		if i < len(data) && data[i] == b {
			i++
			return true
		}
		return false
	}
	str := func() ([]byte, bool) {
		if !expect('"') {
			return nil, false
		}
		start := i
		for i < len(data) && data[i] != '"' {
			if data[i] == '\\' {
				return nil, false
			}
			i++
		}
		if i == len(data) {
			return nil, false
		}
		i++
		return data[start : i-1], true
	}
	if !expect('[') {
		return 0, nil, nil, false
	}
	skip()
	if i >= len(data) || data[i] < '0' || data[i] > '9' {
		return 0, nil, nil, false
	}
	typ = ocpp.MessageType(data[i] - '0')
	i++
	if !expect(',') {
		return 0, nil, nil, false
	}
	if id, ok = str(); !ok {
		return 0, nil, nil, false
	}
	if typ != ocpp.TypeCall {
		return typ, id, nil, true
	}
	if !expect(',') {
		return 0, nil, nil, false
	}
	if action, ok = str(); !ok {
		return 0, nil, nil, false
	}
	return typ, id, action, true
}
