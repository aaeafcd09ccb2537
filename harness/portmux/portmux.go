// Package portmux shares one listener between a step's station endpoint and
// an ordinary HTTP server, so that `make serve` offers /ocpp/{stationId},
// the operator API and /metrics on one port without changing the steps.
//
// A Mux accepts on the real listener and reads the request line of each new
// connection. A connection whose first request is for /ocpp/... is handed,
// with the bytes read so far replayed, to the listener returned by Stations;
// every other connection goes to the listener returned by HTTP. Routing is
// per connection, by its first request: the later requests of a keep-alive
// connection stay on the side its first one chose.
//
// A connection that has not sent its request line within the request
// timeout is closed; one whose line is longer than the limit is answered
// 414 and closed. The connections the two sides accept read from the start
// of the request, as if the Mux had not been there; they are not
// *net.TCPConn, and their Close is what ends a station's count.
//
// The Mux keeps a connection that has not been answered yet from holding
// the port. At most MaxHandshakes connections may wait for their first
// answer (the first byte a server behind writes) at once; when that many
// wait, the Mux accepts no more until one is answered or closed, or until
// the oldest that has not finished sending its request's headers has waited
// HandshakeGrace, which it then closes to make room. A station sends its
// handshake at once, so a client that holds connections open without
// finishing its request (slowloris) loses them, and stations still get in;
// one that has sent its request waits for the server, however long a burst
// of stations makes that, and is never closed for it. MaxConns caps the connections open in all: one
// past it is closed at once. An address whose handshakes the station side
// refused with 401 AuthFailures times within AuthWindow has its new
// connections answered 429 until the window has passed. Each kind of
// refusal is logged, a line at most every 10 seconds, with how many were
// refused since the last.
//
// The Mux also knows which stations are connected, for the API and the
// metrics: a connection whose request was for /ocpp/{id} counts for the
// station id (percent-decoded, as net/http's PathValue gives it) from when
// the station side answers it with 101 Switching Protocols until the
// connection is closed. A handshake the step refuses (a 401, say) is never
// counted; if the station then retries on the same keep-alive connection,
// the request answered 101 is the one that counts.
//
// With Options.TLS, the Mux serves TLS: it completes each connection's
// handshake before it reads the request line, and both sides read and
// write the decrypted stream. With Options.Admit, it vets each station's
// connection before the station side sees it (OCPP security profile 3:
// the client certificate must name the station), and such a connection
// carries that one request only.
package portmux

import (
	"bytes"
	"cmp"
	"container/list"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxRequestLine = 8 << 10
	DefaultMaxHandshakes  = 1024
	DefaultHandshakeGrace = time.Second
	DefaultAuthFailures   = 10
	DefaultAuthWindow     = 10 * time.Second
)

// Options configures a Mux. The zero value uses the defaults.
type Options struct {
	// RequestTimeout bounds how long a new connection may take to send its
	// request line; one that has not by then is closed. Zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRequestLine is the longest request line, in bytes, a connection
	// may send; a longer one is answered 414 URI Too Long and closed. Zero
	// means DefaultMaxRequestLine.
	MaxRequestLine int
	// MaxHandshakes is how many connections may wait for their first
	// answer at once. Zero means DefaultMaxHandshakes.
	MaxHandshakes int
	// HandshakeGrace is how long a connection may wait for its first
	// answer before the Mux may close it to make room for a new one, when
	// MaxHandshakes wait. Zero means DefaultHandshakeGrace.
	HandshakeGrace time.Duration
	// MaxConns caps the connections open through the Mux; one accepted
	// past it is closed at once. Zero means no cap.
	MaxConns int
	// AuthFailures is how many handshakes from one address the station side
	// may refuse with 401 within AuthWindow; past that, the address's new
	// connections are answered 429 Too Many Requests, and closed, until the
	// window has passed: a key is guessed at one try a second, not at the
	// speed of the network, and a station whose key was wrong gets in
	// seconds after it is fixed. Zero means DefaultAuthFailures; negative,
	// no limit.
	AuthFailures int
	// AuthWindow is the window of AuthFailures. Zero means
	// DefaultAuthWindow.
	AuthWindow time.Duration
	// TLS, if set, makes the Mux serve TLS: it completes each new
	// connection's handshake, within RequestTimeout and counted among the
	// connections that wait for their first answer, before it reads the
	// request line. A connection whose handshake fails is closed, and
	// logged as a refusal (one that closes before it sends anything is
	// not). Use TLSState to read a handed-over connection's state.
	TLS *tls.Config
	// Admit, if set, vets each connection whose first request is for
	// /ocpp/{id} before the station side sees it: id is the station id as
	// Connected counts it ("" for a path without one), cs the connection's
	// TLS state (nil without TLS). A connection it refuses is answered 403
	// Forbidden, with the error's text, and closed, and the refusal is
	// logged with its reason.
	//
	// A connection it admits carries that one request and nothing else,
	// so that a station cannot take another's identity on a connection
	// admitted for its own: bytes that come past the request's headers
	// before the station side has answered 101 Switching Protocols (a
	// second request sent with the first) end the connection, and so does
	// any answer but 101 (a retry on the same connection would not be
	// vetted): the client connects again, and is vetted again.
	Admit func(id string, cs *tls.ConnectionState) error
	// Logger receives the refusals; nil discards them.
	Logger *slog.Logger
}

// stationPrefix is the path under which a step's server serves stations.
const stationPrefix = "/ocpp/"

// Mux routes the connections of one listener to two in-process listeners.
// Its methods are safe for concurrent use.
type Mux struct {
	l          net.Listener
	timeout    time.Duration
	maxLine    int
	maxWaiting int
	grace      time.Duration
	maxConns   int
	maxFails   int
	failWindow time.Duration
	tls        *tls.Config
	admit      func(id string, cs *tls.ConnectionState) error
	log        *slog.Logger
	stations   *listener
	http       *listener
	done       chan struct{} // closed by Close
	room       chan struct{} // a waiting connection was answered or closed: awaitRoom may look again

	mu        sync.Mutex
	closed    bool
	routing   map[net.Conn]struct{} // accepted, not yet handed over
	waiting   list.List             // of *entry: not answered yet, oldest first
	open      int                   // connections accepted and not closed
	refused   refusals
	fails     map[netip.Addr]*authFailures // by source address
	connected map[string]int               // station id → open upgraded connections
	wg        sync.WaitGroup               // routing goroutines
}

// An entry is one accepted connection, until it is closed.
type entry struct {
	c       net.Conn // as accepted
	since   time.Time
	waiting *list.Element // in Mux.waiting while not answered, else nil
	sent    bool          // its request's headers are complete: it waits for the server
	gone    bool          // closed and counted out
	// reading is set while a read of its request waits on the client: only
	// then is the client the one holding out. Under a burst the server may
	// not have read bytes the client sent long ago.
	reading atomic.Bool
}

// refusals counts the connections refused since the last log line of each
// kind.
type refusals struct {
	evicted, overCap, guessing int
	evictedLog                 time.Time
	overCapLog                 time.Time
	guessingLog                time.Time
	// Failed TLS handshakes and stations Admit refused, each with the last
	// one's address and reason, for the log line.
	handshakes, forbidden       int
	handshakesLog, forbiddenLog time.Time
	lastHandshake, lastForbid   []any
}

// authFailures counts an address's refused handshakes within a window.
type authFailures struct {
	since time.Time
	n     int
}

// refusalLogEvery is how often the Mux logs each kind of refusal at most.
const refusalLogEvery = 10 * time.Second

// New returns a Mux that will accept on l once Serve is called. The Mux
// owns l: Close closes it.
func New(l net.Listener, opts Options) *Mux {
	m := &Mux{
		l:          l,
		timeout:    cmp.Or(max(opts.RequestTimeout, 0), DefaultRequestTimeout),
		maxLine:    cmp.Or(max(opts.MaxRequestLine, 0), DefaultMaxRequestLine),
		maxWaiting: cmp.Or(max(opts.MaxHandshakes, 0), DefaultMaxHandshakes),
		grace:      cmp.Or(max(opts.HandshakeGrace, 0), DefaultHandshakeGrace),
		maxConns:   max(opts.MaxConns, 0),
		maxFails:   cmp.Or(opts.AuthFailures, DefaultAuthFailures),
		failWindow: cmp.Or(max(opts.AuthWindow, 0), DefaultAuthWindow),
		tls:        opts.TLS,
		admit:      opts.Admit,
		fails:      make(map[netip.Addr]*authFailures),
		log:        cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		done:       make(chan struct{}),
		room:       make(chan struct{}, 1),
		routing:    make(map[net.Conn]struct{}),
		connected:  make(map[string]int),
	}
	m.stations = newListener(m)
	m.http = newListener(m)
	return m
}

// Stations returns the listener of the connections whose first request is
// for /ocpp/...: pass it to the step's Serve. Closing it (as the step's
// Close does) leaves the Mux serving; a station that connects after that is
// closed without an answer.
func (m *Mux) Stations() net.Listener { return m.stations }

// HTTP returns the listener of every other connection: serve the operator
// API and /metrics on it. Closing it leaves the Mux serving.
func (m *Mux) HTTP() net.Listener { return m.http }

// Serve accepts connections on the real listener and routes each in its own
// goroutine, until Close is called; then it returns nil. If the real
// listener fails, Serve returns its error, and the caller should Close the
// Mux. Serve must be called at most once.
func (m *Mux) Serve() error {
	var delay time.Duration // after a temporary accept error, as net/http does
	for {
		c, err := m.l.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			// As net/http's Serve does: out of file descriptors (EMFILE,
			// ENFILE) or a connection aborted before it was accepted
			// passes. Temporary is deprecated as ill-defined, but nothing
			// replaces it for an accept loop yet (golang/go#66252).
			var ne net.Error
			//lint:ignore SA1019 no replacement for an accept loop yet (golang/go#66252); net/http's Serve makes the same test
			if errors.As(err, &ne) && ne.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
				case <-m.done:
					return nil
				}
				continue
			}
			return fmt.Errorf("portmux: accept: %w", err)
		}
		delay = 0
		// A new connection waits, unread, for room among those waiting
		// for an answer; the oldest of those is closed only now that
		// another wants its place.
		if !m.awaitRoom() {
			c.Close()
			return nil
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			return nil
		}
		if m.maxConns > 0 && m.open >= m.maxConns {
			m.refused.overCap++
			m.logRefusals()
			m.mu.Unlock()
			c.Close()
			continue
		}
		m.open++ // under MaxConns, whatever becomes of it
		if wait := m.guessing(c.RemoteAddr()); wait > 0 {
			m.refused.guessing++
			m.logRefusals()
			m.wg.Add(1)
			m.mu.Unlock()
			go m.tooManyFailures(c, wait) // a write may take a moment: not in the accept loop
			continue
		}
		e := &entry{c: c, since: time.Now()}
		e.waiting = m.waiting.PushBack(e)
		m.routing[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.route(e)
	}
}

// awaitRoom returns once fewer than MaxHandshakes connections wait for their
// first answer, closing the oldest to make room if it has waited
// HandshakeGrace. It reports false if the Mux was closed meanwhile. Serve
// calls it with a new connection in hand, so that a connection is closed
// only when another wants its place.
func (m *Mux) awaitRoom() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.waiting.Len() >= m.maxWaiting {
		// Only a connection whose request the server is waiting for can be
		// holding its place; one that has sent it, or whose bytes the
		// server has not got round to reading, waits for the server, which
		// is slow under a burst: not a client holding out.
		var oldest *entry
		for el := m.waiting.Front(); el != nil; el = el.Next() {
			if e := el.Value.(*entry); !e.sent && e.reading.Load() {
				oldest = e
				break
			}
		}
		wait := m.grace // for the next to come, if none holds out now
		if oldest != nil {
			wait = m.grace - time.Since(oldest.since)
		}
		if wait > 0 {
			m.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-m.room:
			case <-t.C:
			case <-m.done:
			}
			t.Stop()
			m.mu.Lock()
			if m.closed {
				return false
			}
			continue
		}
		m.waiting.Remove(oldest.waiting)
		oldest.waiting = nil
		m.refused.evicted++
		m.logRefusals()
		oldest.c.Close() // its reader fails, and whoever holds it closes it
	}
	return !m.closed
}

// headersSent records that e's request headers are complete.
func (m *Mux) headersSent(e *entry) {
	m.mu.Lock()
	e.sent = true
	m.mu.Unlock()
}

// endOfHeaders is the blank line that ends a request's headers.
var endOfHeaders = []byte("\r\n\r\n")

// logRefusals logs the refusals of each kind counted since its last line,
// at most every refusalLogEvery. m.mu is held.
func (m *Mux) logRefusals() {
	now := time.Now()
	r := &m.refused
	if r.evicted > 0 && now.Sub(r.evictedLog) >= refusalLogEvery {
		m.log.Warn("closed connections that had not finished their request in time, to make room for new ones",
			"closed", r.evicted, "waiting_at_most", m.maxWaiting, "grace", m.grace)
		r.evicted, r.evictedLog = 0, now
	}
	if r.overCap > 0 && now.Sub(r.overCapLog) >= refusalLogEvery {
		m.log.Warn("refused connections: too many open", "refused", r.overCap, "open_at_most", m.maxConns)
		r.overCap, r.overCapLog = 0, now
	}
	if r.guessing > 0 && now.Sub(r.guessingLog) >= refusalLogEvery {
		m.log.Warn("refused connections from addresses whose stations failed to authenticate too often",
			"refused", r.guessing, "failures_at_most", m.maxFails, "window", m.failWindow)
		r.guessing, r.guessingLog = 0, now
	}
	if r.handshakes > 0 && now.Sub(r.handshakesLog) >= refusalLogEvery {
		m.log.Warn("closed connections whose TLS handshake failed", append([]any{"closed", r.handshakes}, r.lastHandshake...)...)
		r.handshakes, r.handshakesLog = 0, now
	}
	if r.forbidden > 0 && now.Sub(r.forbiddenLog) >= refusalLogEvery {
		m.log.Warn("refused stations before the upgrade: 403", append([]any{"refused", r.forbidden}, r.lastForbid...)...)
		r.forbidden, r.forbiddenLog = 0, now
	}
}

// guessing returns how long addr's host must wait before it may try again,
// if the station side refused AuthFailures of its handshakes within the
// window, or 0. m.mu is held.
func (m *Mux) guessing(addr net.Addr) time.Duration {
	if m.maxFails < 0 {
		return 0
	}
	ip, ok := hostOf(addr)
	if !ok {
		return 0
	}
	f := m.fails[ip]
	if f == nil {
		return 0
	}
	left := m.failWindow - time.Since(f.since)
	if left <= 0 {
		delete(m.fails, ip)
		return 0
	}
	if f.n < m.maxFails {
		return 0
	}
	return left
}

// tooManyFailures answers c 429, saying when to try again, and closes it.
func (m *Mux) tooManyFailures(raw net.Conn, wait time.Duration) {
	defer m.wg.Done()
	c := raw
	defer func() {
		raw.Close()
		m.mu.Lock()
		m.open--
		m.mu.Unlock()
	}()
	secs := int(math.Ceil(wait.Seconds()))
	c.SetDeadline(time.Now().Add(time.Second))
	if m.tls != nil {
		tc := tls.Server(c, m.tls)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	fmt.Fprintf(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: %d\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+
		"429 Too Many Requests: too many handshakes from this address failed to authenticate; try again in %d s\n", secs, secs)
	// Closed with the client's request unread, the connection would be
	// reset, and the answer lost: end the writing side, and read what the
	// client sent for a moment, as net/http does.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// authFailed counts a handshake that the station side refused with 401.
func (m *Mux) authFailed(addr net.Addr) {
	ip, ok := hostOf(addr)
	if !ok || m.maxFails < 0 {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fails[ip]
	if f == nil || now.Sub(f.since) >= m.failWindow {
		if len(m.fails) >= maxFailAddrs {
			for a, old := range m.fails { // forget windows that have passed
				if now.Sub(old.since) >= m.failWindow {
					delete(m.fails, a)
				}
			}
		}
		f = &authFailures{since: now}
		m.fails[ip] = f
	}
	f.n++
}

// maxFailAddrs is how many addresses' failures the Mux keeps before it
// looks for windows that have passed.
const maxFailAddrs = 1024

// hostOf returns the IP address of a TCP address.
func hostOf(addr net.Addr) (netip.Addr, bool) {
	if a, ok := addr.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return ap.Addr().Unmap(), err == nil
}

// wasAnswered frees e's place among the connections waiting for an answer.
func (m *Mux) wasAnswered(e *entry) {
	m.mu.Lock()
	if e.waiting != nil {
		m.waiting.Remove(e.waiting)
		e.waiting = nil
		m.signalRoom()
	}
	m.mu.Unlock()
}

// forget counts e out once it is closed. It is idempotent.
func (m *Mux) forget(e *entry) {
	m.mu.Lock()
	if !e.gone {
		e.gone = true
		m.open--
		if e.waiting != nil {
			m.waiting.Remove(e.waiting)
			e.waiting = nil
			m.signalRoom()
		}
	}
	m.mu.Unlock()
}

// forgetAnswered counts out a connection closed after its handshake's
// state was dropped: answered, so no longer among those waiting.
func (m *Mux) forgetAnswered() {
	m.mu.Lock()
	m.open--
	m.mu.Unlock()
}

// signalRoom wakes awaitRoom, if it waits. m.mu is held.
func (m *Mux) signalRoom() {
	select {
	case m.room <- struct{}{}:
	default:
	}
}

// Open returns how many connections are open through the Mux, and how many
// of them wait for their first answer.
func (m *Mux) Open() (open, waiting int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open, m.waiting.Len()
}

// Close closes the real listener and both in-process listeners, whose
// Accept then returns net.ErrClosed, closes the connections whose request
// line is still awaited, and waits for the Mux's goroutines to return. The
// connections already handed over stay open: they belong to the servers
// that accepted them. Close is idempotent.
//
// A step's Serve that sees its listener closed before its own Close was
// called returns an error wrapping net.ErrClosed: close the step's server
// first, then the Mux, for Serve to return nil.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	for c := range m.routing {
		c.Close() // a routing goroutine waiting for the request line returns
	}
	m.mu.Unlock()
	err := m.l.Close()
	m.stations.Close()
	m.http.Close()
	m.wg.Wait()
	if err != nil {
		return fmt.Errorf("portmux: close: %w", err)
	}
	return nil
}

// Connected returns the ids of the stations connected now, sorted.
func (m *Mux) Connected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.connected))
	for id := range m.connected {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// IsConnected reports whether station id has a connection open now.
func (m *Mux) IsConnected(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.connected[id] > 0
}

// NumConnected returns how many stations are connected now. A station with
// two connections open (while the step takes over the older one) counts
// once.
func (m *Mux) NumConnected() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.connected)
}

func (m *Mux) add(id string) {
	m.mu.Lock()
	m.connected[id]++
	m.mu.Unlock()
}

func (m *Mux) remove(id string) {
	m.mu.Lock()
	if m.connected[id]--; m.connected[id] <= 0 {
		delete(m.connected, id)
	}
	m.mu.Unlock()
}

// route reads the request line of e's connection and hands it over to one
// side.
func (m *Mux) route(e *entry) {
	defer m.wg.Done()
	c := e.c
	handed := false
	defer func() {
		m.mu.Lock()
		delete(m.routing, e.c)
		m.mu.Unlock()
		if !handed {
			e.c.Close()
			m.forget(e)
		}
	}()

	var tc *tls.Conn
	if m.tls != nil {
		hr := &handshakeReader{Conn: e.c, e: e}
		tc = tls.Server(hr, m.tls)
		err := m.handshake(e, tc)
		hr.e = nil // the tls.Conn keeps hr as long as the connection: not e
		if err != nil {
			return
		}
		c = tc
	}
	head, line, err := m.readLine(e, c)
	if err != nil {
		if errors.Is(err, errLineTooLong) {
			c.SetWriteDeadline(time.Now().Add(m.timeout))
			c.Write([]byte("HTTP/1.1 414 URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n414 URI Too Long: the request line is too long\n"))
		}
		return // a client that sent nothing in time, or went away
	}
	c.SetReadDeadline(time.Time{})

	to := m.http
	hs := &handshake{e: e, replay: head}
	wc := &conn{Conn: c, m: m}
	wc.hs.Store(hs)
	hs.sawRequest(m, head)
	if path, ok := requestPath(line); ok && strings.HasPrefix(path, stationPrefix) {
		to = m.stations
		hs.watch = true
		wc.station = stationID(path)
		if m.admit != nil {
			var cs *tls.ConnectionState
			if tc != nil {
				st := tc.ConnectionState()
				cs = &st
			}
			if err := m.admit(wc.station, cs); err != nil {
				m.forbid(e, c, wc.station, err)
				return
			}
			hs.single = true
		}
	}
	handed = to.deliver(wc)
}

// handshake completes the TLS handshake of e's connection within the
// request timeout, and logs why it failed, if it did.
func (m *Mux) handshake(e *entry, tc *tls.Conn) error {
	if err := e.c.SetDeadline(time.Now().Add(m.timeout)); err != nil {
		return err
	}
	err := tc.Handshake()
	var plain tls.RecordHeaderError
	if errors.As(err, &plain) && plain.Conn != nil && looksLikeHTTP(plain.RecordHeader) {
		// A client that speaks plain HTTP to the TLS port: say so, as
		// net/http does, rather than close without a word.
		e.c.Write([]byte("HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
			"400 Bad Request: this port speaks TLS: use wss:// (stations) or https://\n"))
		if cw, ok := e.c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() // and read the rest of the request, for the answer not to be lost to a reset
			io.Copy(io.Discard, io.LimitReader(e.c, 64<<10))
		}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) { // a connection that closed at once: a port check, not a refusal
			m.mu.Lock()
			m.refused.handshakes++
			m.refused.lastHandshake = []any{"last_from", e.c.RemoteAddr().String(), "last_err", err.Error()}
			m.logRefusals()
			m.mu.Unlock()
		}
		return err
	}
	return e.c.SetWriteDeadline(time.Time{})
}

// handshakeReader marks its entry as reading while a read of the TLS
// handshake waits on the client, as readLine does for the request line:
// then, and not while the server computes its part, the client is the one
// holding out. e is set to nil once the handshake is over, before the
// connection is handed over.
type handshakeReader struct {
	net.Conn
	e *entry
}

func (h *handshakeReader) Read(p []byte) (int, error) {
	if h.e == nil {
		return h.Conn.Read(p)
	}
	h.e.reading.Store(true)
	n, err := h.Conn.Read(p)
	h.e.reading.Store(false)
	return n, err
}

// looksLikeHTTP reports whether the first bytes a client sent, taken for a
// TLS record header, are the start of an HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "CONNE", "PATCH":
		return true
	}
	return false
}

// forbid answers c, e's connection, 403 with why Admit refused station id,
// and logs it. The caller closes the connection.
func (m *Mux) forbid(e *entry, c net.Conn, id string, why error) {
	m.mu.Lock()
	m.refused.forbidden++
	m.refused.lastForbid = []any{"last_station", truncate(id, 100), "last_from", e.c.RemoteAddr().String(), "last_reason", why.Error()}
	m.logRefusals()
	m.mu.Unlock()
	m.wasAnswered(e)
	body := "403 Forbidden: " + why.Error() + "\n"
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	// As tooManyFailures: end the writing side, and read what the client
	// sent for a moment, so that the answer is not lost to a reset.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// TLSState returns the TLS state of a connection that a Mux with
// Options.TLS handed over, or nil for any other connection.
func TLSState(c net.Conn) *tls.ConnectionState {
	if wc, ok := c.(*conn); ok {
		if tc, ok := wc.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return &st
		}
	}
	return nil
}

var errLineTooLong = errors.New("request line too long")

// readLine reads from c until its first line is complete, and returns
// every byte read (to be replayed) and the line without its line ending.
func (m *Mux) readLine(e *entry, c net.Conn) (head, line []byte, err error) {
	if err := c.SetReadDeadline(time.Now().Add(m.timeout)); err != nil {
		return nil, nil, err
	}
	buf := make([]byte, 0, min(1024, m.maxLine))
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(2*cap(buf), m.maxLine)-len(buf))
		}
		e.reading.Store(true)
		n, err := c.Read(buf[len(buf):cap(buf)])
		e.reading.Store(false)
		if i := bytes.IndexByte(buf[len(buf):len(buf)+n], '\n'); i >= 0 {
			buf = buf[:len(buf)+n]
			end := len(buf) - n + i
			return buf, bytes.TrimSuffix(buf[:end], []byte("\r")), nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) >= m.maxLine {
			return nil, nil, errLineTooLong
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// requestPath returns the escaped path of a request line's target.
func requestPath(line []byte) (string, bool) {
	method, rest, ok := strings.Cut(string(line), " ")
	if !ok || method == "" {
		return "", false
	}
	target, proto, ok := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return "", false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return "", false
	}
	return u.EscapedPath(), true
}

// stationID returns the station id of an escaped /ocpp/{id} path as
// net/http's ServeMux gives it to PathValue: one segment, percent-decoded.
// It returns "" for a path with no id, or more than one segment.
func stationID(path string) string {
	seg := strings.TrimPrefix(path, stationPrefix)
	if seg == "" || strings.Contains(seg, "/") {
		return ""
	}
	// A copy, for the id stays as long as the station's connection does:
	// as a part of path, it would keep the whole request line.
	if !strings.Contains(seg, "%") {
		return strings.Clone(seg)
	}
	if id, err := url.PathUnescape(seg); err == nil {
		return id
	}
	return strings.Clone(seg) // what ServeMux does with a malformed escape
}

// listener is an in-process net.Listener fed by the Mux.
type listener struct {
	m         *Mux
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newListener(m *Mux) *listener {
	return &listener{m: m, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next connection routed to this side. It returns
// net.ErrClosed once this listener or the Mux is closed.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
	case <-l.m.done:
	}
	return nil, net.ErrClosed
}

// Close stops this side: the connections routed to it from now on are
// closed. It leaves the Mux and the other side serving.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns the real listener's address.
func (l *listener) Addr() net.Addr { return l.m.l.Addr() }

// deliver hands c to the next Accept, and reports whether it was taken.
func (l *listener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
	case <-l.m.done:
	}
	return false
}

// conn is a routed connection: its reads start with the bytes the Mux
// read, and on the station side it watches its handshake.
//
// What only the handshake needs is in hs, dropped once the station side
// has answered 101 and read the bytes replayed: an idle station's
// connection then costs the Mux this struct, its id and its place among
// the connected.
type conn struct {
	net.Conn
	m  *Mux
	hs atomic.Pointer[handshake] // nil once upgraded and replayed

	mu      sync.Mutex
	station string // the id of the request being answered, or ""; once upgraded, the id counted
	counted bool   // station counts as connected until Close
	closed  bool
}

// handshake is a routed connection's state until its upgrade.
type handshake struct {
	e        *entry
	answered atomic.Bool // the server behind has written to it
	sent     bool        // its first request's headers are complete
	last     []byte      // the last bytes read, up to 3, while !sent

	rmu    sync.Mutex
	replay []byte // read by the Mux, not yet by the server
	taken  atomic.Bool

	// The handshake watch, on the station side only. The first bytes the
	// server writes after a request are its status line: 101 counts the
	// request's station until Close. After any other answer, the next
	// request line read on the connection is watched the same way, for a
	// station that retries on its keep-alive connection. reading and head
	// are under the conn's mu.
	watch   bool
	settled atomic.Bool // nothing more to watch: upgraded or closed
	reading bool        // reading the next request line, not awaiting an answer
	head    []byte      // the answer's first bytes, or the request line so far

	// One request only, on a connection Admit admitted: until the station
	// side answers 101 (upgraded), reads end where the first request's
	// headers do (end); bytes past them (overrun) or an answer but 101
	// (ended) end the connection. Reads come from one goroutine at a time.
	single   bool
	end      headersEnd
	overrun  bool
	upgraded atomic.Bool
	ended    atomic.Bool
}

// release drops hs once the connection needs it no more: the server
// answered 101 and has read what the Mux replays. Both the reader and
// the writer call it, each after its part, so that the second drops it;
// one of them that still holds hs goes on with it safely.
func (c *conn) release(hs *handshake) {
	if hs.upgraded.Load() && hs.taken.Load() {
		c.hs.CompareAndSwap(hs, nil)
	}
}

// errOneRequest is what a read returns on a connection that Admit admitted
// once the client has sent more than its one request before the answer.
var errOneRequest = errors.New("portmux: the station sent more than its handshake's request before the answer; it must connect again")

// headersEnd finds where a request's headers end, as net/http reads them:
// at the first empty line, a line being ended by "\n" or "\r\n".
type headersEnd struct {
	found     bool
	lineStart bool // the last byte ended a line
	cr        bool // the line so far is "\r"
}

// scan looks at the next bytes of the request, and returns how many of
// them belong to it: len(b) if its headers have not ended yet.
func (h *headersEnd) scan(b []byte) int {
	if h.found {
		return 0
	}
	for i, x := range b {
		switch {
		case x == '\n' && (h.lineStart || h.cr):
			h.found = true
			return i + 1
		case x == '\n':
			h.lineStart = true
		case x == '\r' && h.lineStart:
			h.lineStart, h.cr = false, true
		default:
			h.lineStart, h.cr = false, false
		}
	}
	return len(b)
}

// statusLen is the length of "HTTP/1.1 101".
const statusLen = 12

func (c *conn) Read(p []byte) (int, error) {
	hs := c.hs.Load()
	if hs == nil {
		return c.Conn.Read(p)
	}
	if hs.single && !hs.upgraded.Load() {
		return c.readOne(hs, p)
	}
	return c.read(hs, p)
}

// readOne reads from a connection that carries one request, up to the end
// of its headers until the station side answers 101.
func (c *conn) readOne(hs *handshake, p []byte) (int, error) {
	if hs.ended.Load() {
		return 0, io.EOF
	}
	if hs.overrun {
		return 0, errOneRequest
	}
	n, err := c.read(hs, p)
	if hs.upgraded.Load() {
		return n, err // answered 101 meanwhile: WebSocket from now on
	}
	if k := hs.end.scan(p[:n]); k < n {
		hs.overrun = true
		if k == 0 {
			return 0, errOneRequest
		}
		return k, nil
	}
	return n, err
}

func (c *conn) read(hs *handshake, p []byte) (int, error) {
	if !hs.taken.Load() {
		hs.rmu.Lock()
		if len(hs.replay) > 0 {
			n := copy(p, hs.replay)
			hs.replay = hs.replay[n:]
			if len(hs.replay) == 0 {
				hs.replay = nil
				hs.taken.Store(true)
			}
			hs.rmu.Unlock()
			c.release(hs)
			return n, nil
		}
		hs.taken.Store(true)
		hs.rmu.Unlock()
		c.release(hs)
	}
	if hs.sent {
		n, err := c.Conn.Read(p)
		if hs.watch && n > 0 && !hs.settled.Load() {
			c.sawRead(hs, p[:n])
		}
		return n, err
	}
	hs.e.reading.Store(true)
	n, err := c.Conn.Read(p)
	hs.e.reading.Store(false)
	if n > 0 {
		hs.sawRequest(c.m, p[:n])
	}
	if hs.watch && n > 0 && !hs.settled.Load() {
		c.sawRead(hs, p[:n])
	}
	return n, err
}

// sawRequest looks for the end of the first request's headers in the next
// bytes read from the client. Reads come from one goroutine at a time.
func (hs *handshake) sawRequest(m *Mux, b []byte) {
	const keep = len("\r\n\r") // enough of the last read to find the blank line across two
	across := append(hs.last, b[:min(len(b), keep)]...)
	if bytes.Contains(across, endOfHeaders) || bytes.Contains(b, endOfHeaders) {
		hs.sent, hs.last = true, nil
		m.headersSent(hs.e)
		return
	}
	hs.last = across[max(len(across)-keep, 0):]
	if len(b) > keep {
		hs.last = append(hs.last[:0], b[len(b)-keep:]...)
	}
}

func (c *conn) Write(p []byte) (int, error) {
	hs := c.hs.Load()
	if hs == nil {
		return c.Conn.Write(p)
	}
	if !hs.answered.Load() && hs.answered.CompareAndSwap(false, true) {
		c.m.wasAnswered(hs.e)
	}
	// Watched before it is written, so that the Mux has counted a refusal
	// before the client, reading it, can come back.
	if hs.watch && len(p) > 0 && !hs.settled.Load() {
		c.sawWritten(hs, p)
	}
	return c.Conn.Write(p)
}

// sawWritten watches the server's answer to the request being answered.
// Servers do not write one connection's handshake from two goroutines at
// once, so the bytes arrive in order.
func (c *conn) sawWritten(hs *handshake, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.counted || hs.reading {
		return
	}
	hs.head = append(hs.head, b[:min(statusLen-len(hs.head), len(b))]...)
	if len(hs.head) < statusLen {
		return
	}
	if switching(hs.head) {
		hs.upgraded.Store(true)
		hs.settled.Store(true) // the connection speaks WebSocket from now on
		if c.station != "" {
			c.counted = true
			c.m.add(c.station)
		}
		c.release(hs)
		return
	}
	if unauthorized(hs.head) {
		c.m.authFailed(c.RemoteAddr())
	}
	if hs.single {
		hs.ended.Store(true) // no other request: the client connects again, and is vetted again
	}
	hs.reading, hs.head, c.station = true, hs.head[:0], ""
}

// sawRead watches for the next request line after an answer that was not
// an upgrade.
func (c *conn) sawRead(hs *handshake, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.counted || !hs.reading {
		return
	}
	c.station = ""
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		hs.head = append(hs.head, b[:i]...)
		line := bytes.TrimSuffix(hs.head, []byte("\r"))
		if path, ok := requestPath(line); ok && strings.HasPrefix(path, stationPrefix) {
			c.station = stationID(path)
		}
	} else if len(hs.head)+len(b) <= c.m.maxLine {
		hs.head = append(hs.head, b...)
		return
	}
	// A line too long to be a station's is answered without being counted.
	hs.reading, hs.head = false, hs.head[:0]
}

// unauthorized reports whether a status line starts "HTTP/1.x 401".
func unauthorized(status []byte) bool {
	return bytes.HasPrefix(status, []byte("HTTP/1.")) && len(status) >= statusLen &&
		status[8] == ' ' && string(status[9:12]) == "401"
}

// switching reports whether a status line starts "HTTP/1.x 101".
func switching(status []byte) bool {
	return bytes.HasPrefix(status, []byte("HTTP/1.")) && len(status) >= statusLen &&
		status[8] == ' ' && string(status[9:12]) == "101"
}

// Close closes the connection; a station it counted for stops counting
// unless it has another connection open.
func (c *conn) Close() error {
	c.mu.Lock()
	first, counted := !c.closed, c.counted
	c.counted, c.closed = false, true
	hs := c.hs.Load()
	if hs != nil {
		hs.settled.Store(true)
	}
	c.mu.Unlock()
	if counted {
		c.m.remove(c.station)
	}
	err := c.Conn.Close()
	switch {
	case hs != nil:
		c.m.forget(hs.e)
	case first:
		c.m.forgetAnswered() // hs was dropped: answered, and out of the waiting
	}
	return err
}

// CloseWrite shuts down the writing side of a TCP connection, as net/http
// does before it closes one.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// PassThrough returns the connection beneath once the Mux's replay of what
// it read to route the connection has been read, or nil until then: from
// then on c reads nothing ahead of its caller (wsconn.PassThrough).
func (c *conn) PassThrough() net.Conn {
	if hs := c.hs.Load(); hs != nil && !hs.taken.Load() {
		return nil
	}
	return c.Conn
}

// truncate cuts s to at most n bytes, for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
