// Package live is make serve's live view: a page, served at / on the
// server's own port, that shows a workshop room what the server is doing
// while it does it. The stations are tiles coloured by their connector
// status (which also say how a firmware update or a diagnostics upload
// goes, the energy and power of a transaction running, and that a station
// just booted again), the workers (or processors) are lanes on a moving
// timeline with a bar per piece of work coloured by station, and beside
// them are the gauges the lessons are about: calls waiting, in flight, per
// second, how long they took, threads and goroutines.
//
// Where the operator API can call stations (Options.Operator), the page
// also lets its watcher pick a tile and call that station (RemoteStart,
// RemoteStop, Reset, Unlock, ChangeAvailability) through the API on the
// same origin, and shows the answer; the station's change then shows as
// its messages arrive, like any other. The Hub itself calls nothing.
//
// A Hub gathers what happens through two taps that need no change to a
// step's code: the backend's Tracer (every piece of work, and the worker
// that did it) and wsconn's Tap on each station connection (every call a
// station sent, every answer the server gave). It also reads gauges: the
// stations connected, and the step's queues where it has them.
//
// It gathers only while a page watches: a server nobody looks at pays a
// load of one atomic word per call for it (and, on each frame read, a look
// at its start, for what a page must show when it comes: a status, a boot,
// a transaction's start and stop). A page that comes sees the calls
// counted from then on, and the energy from the next meter reading.
//
// Every FrameInterval the Hub folds what it gathered into one frame and
// sends it to every open page as a Server-Sent Event. The frame is where
// the view thins out: however many calls a second the server answers, a
// page receives five frames a second, each with the stations that changed,
// at most MaxLanes lanes and at most MaxBars bars in each. A page that
// reads slowly skips frames rather than holding the server up, and is
// sent a whole picture when it catches up.
package live

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/bits"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/ocppkata/kata/harness/backend"
)

// The view's defaults.
const (
	DefaultFrameInterval = 200 * time.Millisecond
	DefaultWindow        = 20 * time.Second
	// MaxBars is the most bars one lane gets in one frame.
	MaxBars = 8
	// MaxLanes is the most lanes one frame carries; the others are counted.
	MaxLanes = 200
	// MaxGone is the most stations the view remembers after they went
	// away; beyond it, the first seen of them are forgotten, down to nine
	// tenths of it. A server that meets many stations over its life must
	// not send the page them all.
	MaxGone = 1000
)

// Options configures a Hub. Every field is optional.
type Options struct {
	// Step, Title and Variant say what runs, for the page's heading:
	// "01", "Workers", "starter" or "solution".
	Step, Title, Variant string
	// Node names the node when the server is one of a cluster: the
	// heading and the page's title say which. "" for a server alone.
	Node string
	// Connected returns the ids of the stations connected now (a
	// *portmux.Mux's Connected). Without it, a station counts as connected
	// from its first call on.
	Connected func() []string
	// Server is the step's server. Those of its methods below that it has
	// are read at each frame:
	//
	//	Queued(station string) int  each station's queue (step 05 on)
	//	Processors() int            the live processors (step 04 on)
	//	PendingCalls() int          server calls awaiting an answer (step 07 on)
	Server any
	// Backend gives the work in flight and its peak.
	Backend *backend.Backend
	// FrameInterval is how often frames are sent; zero means
	// DefaultFrameInterval. Window is how much time the page's timeline
	// shows; zero means DefaultWindow.
	FrameInterval, Window time.Duration
	// Operator says that the operator API (harness/api) is served on the
	// page's own origin, at /api/, and can call stations (step 07 on): the
	// page then lets whoever watches pick a station's tile and call it.
	Operator bool
}

// Hub gathers what the server does and sends it to the pages watching.
// Create it with New; it implements backend.Tracer, and its Listener
// watches the station connections. Close stops it.
type Hub struct {
	opts  Options
	id    string
	start time.Time

	queues     interface{ Queued(string) int }
	processors interface{ Processors() int }
	pending    interface{ PendingCalls() int }

	framing sync.Mutex // one makeFrame at a time

	// watching is the number of the current watch, the time from a first
	// page opening to the last closing, or 0 while no page is open. The
	// hooks on every call (the taps', the Tracer's) read it first, and do
	// nothing more while it is 0: a server nobody watches pays no more
	// for the view per call than this load (and the taps' look at each
	// frame for a status). A watch counts from its start: the calls in
	// flight when it began are not among those it shows waiting, queued
	// or answered, nor their work among the bars (see beginWatchLocked).
	watching atomic.Uint64

	mu       sync.Mutex
	watches  uint64                // watches begun
	conns    map[*tapConn]struct{} // the taps counting in the current watch
	stations map[string]*station
	order    []*station // by n
	numbers  numberSet  // the station numbers taken
	regrid   bool       // stations were forgotten: the next frame is whole
	open     map[int]openWork
	lanes    map[string]*lane
	callsNow int // calls in the backend now, not yet answered
	rates    rates
	frame    frame         // the last frame made, for pages that need a whole picture
	seq      int           // frames sent out
	latest   []byte        // the last frame sent out, encoded
	tick     chan struct{} // closed and replaced on every frame
	pages    int           // event streams open

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// station is one station as the view knows it.
//
// The hub keeps one for every station it knows, connected or not: its
// size is the view's share of an idle station's memory. The numbers are
// int32, and the fields in this order, for the struct to fit 64 bytes.
type station struct {
	id string
	// status is each connector's status, in the order they first
	// reported: a slice, not a map, for a station has a connector or two,
	// and a map of one entry costs a whole group (256 B) for each.
	status []connStatus
	// news is what few stations report (firmware, diagnostics, a
	// transaction, a reboot): nil until one does, so that an idle
	// station's entry stays small.
	news      *stationNews
	n         int32
	waiting   int32
	queued    int32
	connected bool
	dirty     bool // changed since the last frame
	bootSeen  bool // a BootNotification of it was seen
}

// connStatus is a connector's status, as its last StatusNotification
// reported it.
type connStatus struct {
	connector int
	status    string
}

// setStatus records connector's status, and reports whether it changed.
func (st *station) setStatus(connector int, status string) bool {
	for i := range st.status {
		if cs := &st.status[i]; cs.connector == connector {
			if cs.status == status {
				return false
			}
			cs.status = status
			return true
		}
	}
	st.status = append(st.status, connStatus{connector, status})
	return true
}

// statusOf returns connector's status, or "" if it reported none.
func (st *station) statusOf(connector int) string {
	for _, cs := range st.status {
		if cs.connector == connector {
			return cs.status
		}
	}
	return ""
}

// stationNews is the rarer part of a station's state.
type stationNews struct {
	firmware string // the last FirmwareStatusNotification's status
	diag     string // the last DiagnosticsStatusNotification's status
	// sessions are the transactions running, by connector; booted is
	// when the station last booted again, in ms since the hub's start, or
	// 0: a station's first boot the hub sees is no news (its tile comes),
	// the ones after are (a Reset rebooted it).
	sessions map[int]*session
	booted   int64
	stopped  int // the last transaction stopped, whose late readings are not shown
}

// more returns st's news, made on first use.
func (st *station) more() *stationNews {
	if st.news == nil {
		st.news = &stationNews{}
	}
	return st.news
}

// session is a transaction running on a connector, as its meter reads.
type session struct {
	tx       int     // its id, once a MeterValues said it; 0 until then
	base     float64 // the register's reading, Wh, at which its energy is 0
	last     float64 // the register's last reading, Wh
	register bool    // its start was not seen: the energy is the register's
	power    float64 // W, the last read
	hasPower bool
}

// read notes a reading of the session's meter. A register that goes down
// (a meter replaced, or one that wrapped) takes the session's energy
// on from where it was, rather than back or below zero.
func (s *session) read(m meter) {
	if m.hasWh {
		if !s.register && m.wh < s.last {
			s.base -= s.last - m.wh
		}
		s.last = m.wh
	}
	if m.hasW {
		s.power, s.hasPower = m.w, true
	}
}

// energy is the session's energy so far, in Wh.
func (s *session) energy() float64 { return s.last - s.base }

// openWork is a piece of work still going.
type openWork struct {
	lane    string
	n       int
	kind    backend.Kind
	start   time.Time
	replied bool
}

// lane is one worker's work within the frame being gathered, already
// thinned: the frame is cut into MaxBars slots, and each slot keeps one
// bar that spans all the work that began in it, in the colour of its
// longest piece.
type lane struct {
	slots [MaxBars]slot
}

type slot struct {
	from, to time.Time
	n        int
	longest  time.Duration
}

// New returns a Hub that makes its first frame one FrameInterval from now.
func New(opts Options) *Hub {
	if opts.FrameInterval <= 0 {
		opts.FrameInterval = DefaultFrameInterval
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	var id [4]byte
	rand.Read(id[:])
	h := &Hub{
		opts: opts, id: hex.EncodeToString(id[:]), start: time.Now(),
		stations: make(map[string]*station), open: make(map[int]openWork), lanes: make(map[string]*lane),
		conns: make(map[*tapConn]struct{}), tick: make(chan struct{}), done: make(chan struct{}),
	}
	h.queues, _ = opts.Server.(interface{ Queued(string) int })
	h.processors, _ = opts.Server.(interface{ Processors() int })
	h.pending, _ = opts.Server.(interface{ PendingCalls() int })
	h.frame = frame{Lanes: []laneOut{}, Stats: stats{Rate: []int{}}}
	h.wg.Go(h.run)
	return h
}

// Close stops making frames and ends every page's event stream. It is
// idempotent.
func (h *Hub) Close() error {
	h.once.Do(func() { close(h.done) })
	h.wg.Wait()
	return nil
}

// run makes a frame every FrameInterval until Close.
func (h *Hub) run() {
	t := time.NewTicker(h.opts.FrameInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.makeFrame()
		case <-h.done:
			return
		}
	}
}

// WorkStarted implements backend.Tracer. While no page watches, it
// does nothing.
func (h *Hub) WorkStarted(seq int, w backend.Work, at time.Time) {
	if h.watching.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	if w.Kind != backend.KindBatch && w.Station != "" {
		n = int(h.stationLocked(w.Station).n)
	}
	h.open[seq] = openWork{lane: cmp.Or(w.Worker, "(unnamed)"), n: n, kind: w.Kind, start: at}
	if w.Kind == backend.KindCall {
		h.callsNow++
	}
}

// WorkReplied implements backend.Tracer: the call is answered, and no
// longer counts among those a worker holds.
func (h *Hub) WorkReplied(seq int) {
	if h.watching.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o, ok := h.open[seq]; ok && o.kind == backend.KindCall && !o.replied {
		o.replied = true
		h.open[seq] = o
		h.callsNow--
	}
}

// WorkEnded implements backend.Tracer.
func (h *Hub) WorkEnded(seq int, w backend.Work, start, end time.Time, err error) {
	if h.watching.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.open[seq]
	if !ok {
		return // work that started before the watch
	}
	delete(h.open, seq)
	if o.kind == backend.KindCall && !o.replied {
		h.callsNow--
	}
	h.barLocked(o.lane, o.n, start, end)
}

// barLocked adds a bar to a lane of the frame being gathered, clipped to
// the frame.
func (h *Hub) barLocked(name string, n int, from, to time.Time) {
	frameStart := h.frameStartLocked()
	from = maxTime(from, frameStart)
	if !to.After(from) {
		to = from.Add(time.Nanosecond) // work too short to see still shows
	}
	l := h.lanes[name]
	if l == nil {
		l = &lane{}
		h.lanes[name] = l
	}
	i := int(from.Sub(frameStart) * MaxBars / h.opts.FrameInterval)
	i = min(max(i, 0), MaxBars-1)
	s := &l.slots[i]
	took := to.Sub(from)
	if s.from.IsZero() {
		*s = slot{from: from, to: to, n: n, longest: took}
	} else {
		s.from, s.to = minTime(s.from, from), maxTime(s.to, to)
		if took > s.longest {
			s.n, s.longest = n, took
		}
	}
}

// frameStartLocked is when the frame being gathered began.
func (h *Hub) frameStartLocked() time.Time {
	return h.start.Add(time.Duration(h.frame.T) * time.Millisecond)
}

// stationLocked returns the view of a station, new if it was never seen.
func (h *Hub) stationLocked(id string) *station {
	st, ok := h.stations[id]
	if !ok {
		st = &station{id: id, n: int32(h.numberLocked(id)), dirty: true} // status is made on its first StatusNotification
		h.stations[id] = st
		h.order = append(h.order, st)
	}
	return st
}

// numberLocked gives a new station its number: the one its id ends with,
// so that the bar labelled 7 is CS0007's, unless another station has it
// or it has none; then the lowest free one above ownNumbers, where it
// takes no other station's own number. The page labels such a station's
// bars with its id rather than its number.
func (h *Hub) numberLocked(id string) int {
	if _, own := splitNumber(id); own > 0 && own <= ownNumbers && !h.numbers.has(own) {
		h.numbers.add(own)
		return own
	}
	n := h.numbers.firstFree(ownNumbers + 1)
	h.numbers.add(n)
	return n
}

// numberSet is the set of station numbers taken, a bit each: they are
// dense (a fleet's ids count up), and a map spends some 30 bytes on each.
// The numbers above ownNumbers, given in order from ownNumbers+1, are in
// a set of their own, so that the first of them costs no 128 KiB of bits
// below.
type numberSet struct {
	own, above bitSet
}

func (s *numberSet) bitsOf(n int) (*bitSet, int) {
	if n <= ownNumbers {
		return &s.own, n
	}
	return &s.above, n - ownNumbers - 1
}

func (s *numberSet) has(n int) bool {
	b, i := s.bitsOf(n)
	return b.has(i)
}

func (s *numberSet) add(n int) {
	b, i := s.bitsOf(n)
	b.add(i)
}

func (s *numberSet) remove(n int) {
	b, i := s.bitsOf(n)
	b.remove(i)
}

// firstFree returns the lowest number not taken from above, which is
// past ownNumbers.
func (s *numberSet) firstFree(above int) int {
	return ownNumbers + 1 + s.above.firstFree(above-ownNumbers-1)
}

// bitSet is a set of small non-negative integers.
type bitSet []uint64

func (b bitSet) has(i int) bool { return i/64 < len(b) && b[i/64]&(1<<(i%64)) != 0 }

func (b *bitSet) add(i int) {
	if w := i / 64; w >= len(*b) {
		*b = append(*b, make(bitSet, w+1-len(*b))...)
	}
	(*b)[i/64] |= 1 << (i % 64)
}

func (b bitSet) remove(i int) {
	if i/64 < len(b) {
		b[i/64] &^= 1 << (i % 64)
	}
}

// firstFree returns the lowest integer from i on that is not in b.
func (b bitSet) firstFree(i int) int {
	for ; i/64 < len(b); i = (i/64 + 1) * 64 {
		if free := ^b[i/64] >> (i % 64); free != 0 {
			return i + bits.TrailingZeros64(free)
		}
	}
	return i
}

// ownNumbers is the largest number a station may have from its id.
const ownNumbers = 1 << 20

// stationSeen notes a station that a connection told of, and the state
// it reported, if r is a report.
func (h *Hub) stationSeen(id string, r report) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.stationLocked(id)
	if h.opts.Connected == nil && !st.connected {
		st.connected, st.dirty = true, true
	}
	var field *string
	switch r.kind {
	case booted:
		// A station that boots has no transaction running: those it
		// had, it stopped, or will report stopped.
		if st.bootSeen {
			st.more().booted = max(time.Since(h.start).Milliseconds(), 1)
		}
		if st.news != nil {
			st.news.sessions = nil
		}
		st.bootSeen, st.dirty = true, true
		return
	case txStarted:
		n := st.more()
		if n.sessions == nil {
			n.sessions = make(map[int]*session)
		}
		n.sessions[r.connector] = &session{base: r.meter.wh, last: r.meter.wh}
		st.dirty = true
		return
	case txStopped:
		n := st.more()
		n.stopped = r.tx
		for c, s := range n.sessions {
			// A session whose id no reading told may be this one.
			if s.tx == r.tx || s.tx == 0 {
				delete(n.sessions, c)
				st.dirty = true
			}
		}
		return
	case meterReading:
		var s *session
		if st.news != nil {
			s = st.news.sessions[r.connector]
		}
		if s == nil {
			if r.tx == 0 || (st.news != nil && r.tx == st.news.stopped) || !r.meter.hasWh {
				return // no transaction running: nothing to show
			}
			// A transaction that started before the hub: its energy is
			// the register's.
			n := st.more()
			if n.sessions == nil {
				n.sessions = make(map[int]*session)
			}
			s = &session{register: true}
			n.sessions[r.connector] = s
		}
		if r.tx != 0 {
			s.tx = r.tx
		}
		s.read(r.meter)
		st.dirty = true
		return
	}
	if r.status == "" {
		return
	}
	switch r.kind {
	case connectorStatus:
		if st.setStatus(r.connector, r.status) {
			st.dirty = true
		}
		return
	case firmwareStatus:
		field = &st.more().firmware
	case diagnosticsStatus:
		field = &st.more().diag
	default:
		return
	}
	if *field != r.status {
		*field, st.dirty = r.status, true
	}
}

// tapCounting notes a tap that counts the calls of station in watch, so
// that each frame looks at it.
func (h *Hub) tapCounting(c *tapConn, watch uint64, station string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watching.Load() != watch {
		return // the watch is over
	}
	h.conns[c] = struct{}{}
	st := h.stationLocked(station)
	if h.opts.Connected == nil && !st.connected {
		st.connected, st.dirty = true, true
	}
}

// tapClosed forgets a tap whose connection closed, and counts the answers
// it sent since the last frame looked.
func (h *Hub) tapClosed(c *tapConn, watch uint64, answers *tally) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok || h.watching.Load() != watch {
		return
	}
	delete(h.conns, c)
	if answers != nil {
		h.rates.addTally(h.secondLocked(time.Now()), answers)
	}
}

// secondLocked is the second of the hub's life in which the answers
// counted up to at were sent: the frames come at whole fractions of a
// second from the start, so a frame's answers, counted at its end, belong
// to the second it ends, or to the one before if it ends one.
func (h *Hub) secondLocked(at time.Time) int64 {
	return int64(max(at.Sub(h.start)-1, 0) / time.Second)
}

// beginWatchLocked begins a watch: the first page has come. What was
// counted in an earlier watch is forgotten, the calls waiting and answered
// and the work in flight, so that the view counts from now on.
func (h *Hub) beginWatchLocked() {
	h.watches++
	clear(h.conns)
	clear(h.open)
	clear(h.lanes)
	h.callsNow = 0
	h.rates = rates{}
	for _, st := range h.order {
		if st.waiting != 0 {
			st.waiting, st.dirty = 0, true
		}
	}
	h.watching.Store(h.watches)
}

// endWatchLocked ends the watch: the last page has gone. The taps drop
// what they counted in it.
func (h *Hub) endWatchLocked() {
	watch := h.watching.Load()
	h.watching.Store(0)
	for c := range h.conns {
		c.endWatch(watch)
	}
	clear(h.conns)
}

// lookLocked adds up what the taps counted since the last frame: each
// station's calls waiting, the answers sent.
func (h *Hub) lookLocked(now time.Time) {
	watch := h.watching.Load()
	sec := h.secondLocked(now)
	waiting := make(map[string]int)
	for c := range h.conns {
		station, n, answers := c.look(watch)
		if station == "" {
			continue
		}
		waiting[station] += n
		if answers.calls > 0 {
			h.rates.addTally(sec, &answers)
		}
	}
	for _, st := range h.order {
		if n := int32(waiting[st.id]); st.waiting != n {
			st.waiting, st.dirty = n, true
		}
	}
}

// The frame, as the page reads it (see the package's page/ for the reader).
type (
	frame struct {
		T         int64        `json:"t"`
		Full      bool         `json:"full"`
		Stations  []stationOut `json:"stations"`
		Lanes     []laneOut    `json:"lanes"`
		MoreLanes int          `json:"moreLanes"`
		Stats     stats        `json:"stats"`
	}
	stationOut struct {
		ID string `json:"id"`
		// N is the station's number, which colours its bars and labels
		// them: see numberLocked.
		N         int    `json:"n"`
		Status    string `json:"status"`
		Connected bool   `json:"connected"`
		Waiting   int    `json:"waiting"`
		Queued    int    `json:"queued"`
		// Firmware and Diagnostics are the statuses of the station's
		// last FirmwareStatusNotification and
		// DiagnosticsStatusNotification; absent if it sent none.
		Firmware    string `json:"firmware,omitempty"`
		Diagnostics string `json:"diagnostics,omitempty"`
		// KWh is the energy of the station's transactions running, in
		// kWh: since each one's StartTransaction (its meterStart), or,
		// if Register, the meter's register, for one that started
		// before the hub. KW is their power, as last read. Each is
		// absent while no transaction runs, or none reported it.
		KWh      *float64 `json:"kWh,omitempty"`
		KW       *float64 `json:"kW,omitempty"`
		Register bool     `json:"register,omitempty"`
		// Booted is when the station last booted again (a
		// BootNotification after the first the hub saw), in ms since
		// the hub's start as T is; absent if it did not.
		Booted int64 `json:"booted,omitempty"`
	}
	laneOut struct {
		Name string     `json:"name"`
		Bars [][3]int64 `json:"bars"` // station n, from, to (ms since the start)
	}
	stats struct {
		Connected   int      `json:"connected"`
		Known       int      `json:"known"`
		CallsPerSec float64  `json:"callsPerSec"`
		P50         *float64 `json:"p50"`
		P99         *float64 `json:"p99"`
		InFlight    int      `json:"inFlight"`
		Peak        int      `json:"peak"`
		Waiting     int      `json:"waiting"`
		Queue       int      `json:"queue"`
		Queued      *int     `json:"queued"`
		Threads     int      `json:"threads"`
		Goroutines  int      `json:"goroutines"`
		Processors  *int     `json:"processors"`
		Pending     *int     `json:"pending"`
		Rate        []int    `json:"rate"`
	}
	hello struct {
		Server     string `json:"server"`
		Step       string `json:"step"`
		Title      string `json:"title"`
		Variant    string `json:"variant"`
		Node       string `json:"node,omitempty"` // see Options.Node
		FrameMs    int64  `json:"frameMs"`
		WindowMs   int64  `json:"windowMs"`
		Queues     bool   `json:"queues"`
		Processors bool   `json:"processors"`
		Pending    bool   `json:"pending"`
		Operator   bool   `json:"operator"` // see Options.Operator
	}
)

// gauges are what the hub reads from others at each frame, before it
// takes its own lock.
type gauges struct {
	connected           []string
	queued              map[string]int
	inFlight, peak      int
	threads, goroutines int
	processors, pending *int
}

func (h *Hub) readGauges() gauges {
	var g gauges
	if h.opts.Connected != nil {
		g.connected = h.opts.Connected()
	}
	if h.queues != nil {
		// The connected stations' queues, and those of the stations gone
		// with work still queued: a station that floods and leaves has
		// its backlog processed after it (step 05), and that is worth
		// seeing.
		ids := slices.Clone(g.connected)
		h.mu.Lock()
		for _, st := range h.order {
			if st.queued > 0 { // a connected one is listed twice: no harm
				ids = append(ids, st.id)
			}
		}
		h.mu.Unlock()
		g.queued = make(map[string]int, len(ids))
		for _, id := range ids {
			g.queued[id] = h.queues.Queued(id)
		}
	}
	if h.opts.Backend != nil {
		s := h.opts.Backend.Stats()
		g.inFlight, g.peak = s.InFlight, s.Peak
	}
	if h.processors != nil {
		g.processors = new(h.processors.Processors())
	}
	if h.pending != nil {
		g.pending = new(h.pending.PendingCalls())
	}
	sample := []metrics.Sample{{Name: "/sched/threads/total:threads"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 {
		g.threads = int(sample[0].Value.Uint64())
	}
	g.goroutines = runtime.NumGoroutine()
	return g
}

// makeFrame folds what was gathered since the last frame into a frame,
// and wakes the pages.
//
// While no page watches, it reads no gauges and makes no frame: with the
// hooks doing nothing per call (see Hub.watching), a server nobody looks
// at pays for the view next to nothing. A page that comes makes a frame
// at once (see serveEvents).
func (h *Hub) makeFrame() {
	h.framing.Lock()
	defer h.framing.Unlock()
	h.mu.Lock()
	if h.pages == 0 {
		h.frame.T = time.Since(h.start).Milliseconds() // the next frame's bars start here
		clear(h.lanes)
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()

	g := h.readGauges()
	now := time.Now()

	h.mu.Lock()
	t := now.Sub(h.start)
	f := frame{T: t.Milliseconds(), Stations: []stationOut{}}
	h.lookLocked(now)

	if g.connected != nil {
		on := make(map[string]bool, len(g.connected))
		for _, id := range g.connected {
			on[id] = true
			h.stationLocked(id)
		}
		for _, st := range h.order {
			if st.connected != on[st.id] {
				st.connected, st.dirty = on[st.id], true
			}
		}
		h.forgetLocked()
	}
	if h.regrid {
		f.Full, h.regrid = true, false
	}
	queued := 0
	for _, st := range h.order {
		if g.queued != nil {
			q := int32(g.queued[st.id])
			if q != st.queued {
				st.queued, st.dirty = q, true
			}
			queued += int(q)
		}
		if st.dirty || f.Full {
			f.Stations = append(f.Stations, st.out())
			st.dirty = false
		}
	}

	// The work still going shows up to now, and goes on in the next frame.
	for _, o := range h.open {
		h.barLocked(o.lane, o.n, o.start, now)
	}
	f.Lanes, f.MoreLanes = h.lanesLocked()

	s := stats{Known: len(h.order), InFlight: g.inFlight, Peak: g.peak, Threads: g.threads,
		Goroutines: g.goroutines, Processors: g.processors, Pending: g.pending,
		CallsPerSec: round2(h.rates.perSecond(t, 5)), Rate: h.rates.history(t)}
	for _, st := range h.order {
		if st.connected {
			s.Connected++
		}
		s.Waiting += int(st.waiting)
	}
	if p50, p99, ok := h.rates.percentiles(t); ok {
		s.P50, s.P99 = new(round2(p50)), new(round2(p99))
	}
	// Calls received that no worker has taken yet: those waiting for
	// their answer but for those in the backend now.
	s.Queue = max(s.Waiting-h.callsNow, 0)
	if g.queued != nil {
		s.Queued = &queued
	}
	f.Stats = s
	h.mu.Unlock()

	data, _ := json.Marshal(f) // the frame's types cannot fail to encode
	h.mu.Lock()
	// The frame, its number and its encoding change together, so that a
	// page that asks for the whole picture meanwhile gets the last frame
	// sent, and then this one.
	h.frame = f
	h.seq++
	h.latest = data
	close(h.tick)
	h.tick = make(chan struct{})
	h.mu.Unlock()
}

// forgetLocked forgets the first seen of the stations gone, once they are
// more than MaxGone. The
// numbers of those it keeps stay theirs, so their colours do not change.
func (h *Hub) forgetLocked() {
	gone := 0
	for _, st := range h.order {
		if !st.connected {
			gone++
		}
	}
	if gone <= MaxGone {
		return
	}
	// Down to nine tenths, so that each station leaving after does not
	// make the next frame whole again.
	keep := MaxGone * 9 / 10
	h.order = slices.DeleteFunc(h.order, func(st *station) bool {
		if gone > keep && !st.connected {
			gone--
			delete(h.stations, st.id)
			h.numbers.remove(int(st.n))
			return true
		}
		return false
	})
	h.regrid = true
}

// lanesLocked returns the lanes of the frame just gathered, thinned, and
// empties them for the next.
func (h *Hub) lanesLocked() ([]laneOut, int) {
	names := make([]string, 0, len(h.lanes))
	for name := range h.lanes { // a lane is there only if it had work
		names = append(names, name)
	}
	slices.SortFunc(names, NaturalOrder)
	more := max(len(names)-MaxLanes, 0)
	names = fairShare(names, MaxLanes)
	out := make([]laneOut, 0, len(names))
	ms := func(t time.Time) int64 { return t.Sub(h.start).Milliseconds() }
	for _, name := range names {
		l := h.lanes[name]
		lo := laneOut{Name: name, Bars: make([][3]int64, 0, MaxBars)}
		for _, s := range l.slots {
			if !s.from.IsZero() {
				lo.Bars = append(lo.Bars, [3]int64{int64(s.n), ms(s.from), max(ms(s.to), ms(s.from))})
			}
		}
		out = append(out, lo)
	}
	clear(h.lanes) // a lane that stops working stops being sent
	return out, more
}

// fairShare returns at most n of the sorted names, in their order, shared
// fairly among their kinds ("worker", "processor": a name up to its last
// '-'), so that a step with a hundred workers and a thousand processors
// shows both.
func fairShare(names []string, n int) []string {
	if len(names) <= n {
		return names
	}
	var kinds []string
	byKind := map[string][]string{}
	for _, name := range names {
		kind := name
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			kind = name[:i]
		}
		if byKind[kind] == nil {
			kinds = append(kinds, kind)
		}
		byKind[kind] = append(byKind[kind], name)
	}
	take := map[string]int{}
	for left := n; left > 0; {
		progress := false
		for _, kind := range kinds {
			if left > 0 && take[kind] < len(byKind[kind]) {
				take[kind]++
				left--
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	out := make([]string, 0, n)
	for _, name := range names {
		kind := name
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			kind = name[:i]
		}
		if take[kind] > 0 {
			take[kind]--
			out = append(out, name)
		}
	}
	return out
}

func (st *station) out() stationOut {
	out := stationOut{ID: st.id, N: int(st.n), Status: st.summary(), Connected: st.connected, Waiting: int(st.waiting), Queued: int(st.queued)}
	if st.news == nil {
		return out
	}
	n := st.news
	out.Firmware, out.Diagnostics, out.Booted = n.firmware, n.diag, n.booted
	var wh, w float64
	hasPower := false
	for _, s := range n.sessions {
		wh += s.energy()
		w += s.power
		hasPower = hasPower || s.hasPower
		out.Register = out.Register || s.register
	}
	if len(n.sessions) > 0 {
		out.KWh = new(math.Round(wh) / 1000) // to the Wh: the page shows no more
	}
	if hasPower {
		out.KW = new(math.Round(w/10) / 100) // to 10 W
	}
	return out
}

// summary is the status a tile shows: that of the lowest connector that
// is not the station itself (connector 0), or the station's own if it
// reported no other.
func (st *station) summary() string {
	best := -1
	for _, cs := range st.status {
		if c := cs.connector; c > 0 && (best < 0 || c < best) {
			best = c
		}
	}
	if best < 0 {
		return st.statusOf(0)
	}
	return st.statusOf(best)
}

// NaturalOrder compares names as a person orders them, worker-2 before
// worker-10: by their text, then by the number they end with.
func NaturalOrder(a, b string) int {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	return cmp.Or(cmp.Compare(pa, pb), cmp.Compare(na, nb), cmp.Compare(a, b))
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && unicode.IsDigit(rune(s[i-1])) {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}

// round2 keeps two decimals: the page shows no more, and a frame is sent
// five times a second to every page.
func round2(x float64) float64 { return math.Round(x*100) / 100 }

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// hello is what a page is told first.
func (h *Hub) helloLocked() hello {
	return hello{Server: h.id, Step: h.opts.Step, Title: h.opts.Title, Variant: h.opts.Variant, Node: h.opts.Node,
		FrameMs: h.opts.FrameInterval.Milliseconds(), WindowMs: h.opts.Window.Milliseconds(),
		Queues: h.queues != nil, Processors: h.processors != nil, Pending: h.pending != nil, Operator: h.opts.Operator}
}

// whole returns the last frame with every station, for a page that has
// none, or missed frames.
func (h *Hub) whole() (int, []byte) {
	h.mu.Lock()
	f := h.frame
	f.Full = true
	f.Stations = make([]stationOut, 0, len(h.order))
	for _, st := range h.order {
		f.Stations = append(f.Stations, st.out())
	}
	seq := h.seq
	h.mu.Unlock()
	data, _ := json.Marshal(f)
	return seq, data
}

var _ backend.Tracer = (*Hub)(nil)
