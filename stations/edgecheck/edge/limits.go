package edge

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocppkata/kata/harness/wsconn"
)

// The limit cases check the limits the server states at the HTTP level,
// before any WebSocket (harness/wsconn): how long a station may take to
// send its handshake, how big the handshake's headers may be, how long a
// connection may sit idle after a refused handshake, and what a station's
// identity may be. A client that breaks them holds what stations need: a
// descriptor, a goroutine, memory, a place in the logs. The slow ones wait
// for the server's timeouts, seconds of them, so the limit cases run at
// once, after the others, when Checker.Limits is set: about IdleTimeout in
// all.
//
// None of them causes a 401: with keys they carry the station's. The check
// as a whole causes two, the auth cases', which keeps it far below the
// refusals a server may count against an address before it answers 429
// (make serve: 10 within 10 s, harness/portmux).
const (
	// stalledConns is how many connections "headers never finished"
	// holds open without finishing their headers.
	stalledConns = 20
	// trickleEvery is how often each of them sends one more byte of its
	// header, as a slowloris client does to look alive.
	trickleEvery = time.Second
	// stallBound is how long the server may take to close each: its
	// header timeout and a margin.
	stallBound = wsconn.HeaderTimeout + 3*time.Second
	// stationAfter is how long after they are open a station connects,
	// and must be answered 101 at once.
	stationAfter = time.Second
	// bigHeaders is the size of "1 MiB of headers"'s request, and
	// bigHeadersSent how much of it the check sends before it waits for
	// the server's answer: four times wsconn.MaxHeaderBytes, well past
	// what net/http reads (MaxHeaderBytes and 4 KiB) before it answers
	// 431.
	bigHeaders     = 1 << 20
	bigHeadersSent = 4 * wsconn.MaxHeaderBytes
	// idleBound is how long a connection may sit idle after a refused
	// handshake before the server closes it: its idle timeout and a
	// margin.
	idleBound = wsconn.IdleTimeout + 5*time.Second
)

// limitCases returns the cases that run when Checker.Limits is set, in
// the order their results are given (they run at once).
func limitCases() []checkCase {
	return []checkCase{
		{
			name: "NUL in the identity", slug: "nul",
			sent: "GET /ocpp/EDGE-nul%00",
			want: "400",
			run: func(ctx context.Context, s *session) (string, bool) {
				return badIdentity(ctx, s, "EDGE-nul\x00")
			},
		},
		{
			name: "49-character identity", slug: "id49",
			sent: fmt.Sprintf("GET /ocpp/{%d characters}", wsconn.MaxStationID+1),
			want: "400",
			run: func(ctx context.Context, s *session) (string, bool) {
				id := "EDGE-id49-" + strings.Repeat("x", wsconn.MaxStationID)
				return badIdentity(ctx, s, id[:wsconn.MaxStationID+1])
			},
		},
		{
			name: "headers never finished", slug: "slowloris",
			sent: fmt.Sprintf("%d × GET, then a header byte a second", stalledConns),
			want: fmt.Sprintf("each closed within %s · a station meanwhile: 101 at once", seconds(stallBound)),
			run:  headersNeverFinished,
		},
		{
			name: "1 MiB of headers", slug: "bighead",
			sent: fmt.Sprintf("GET /ocpp/{id}: %d KiB of 1 MiB of headers", bigHeadersSent>>10),
			want: fmt.Sprintf("431 or closed after %d KiB, without the rest", bigHeadersSent>>10),
			run:  bigHeaderRequest,
		},
		{
			name: "idle after a refusal", slug: "idle",
			sent: "GET /ocpp/{id} without Upgrade, then nothing",
			want: fmt.Sprintf("400 · closed within %s", seconds(idleBound)),
			run:  idleAfterRefusal,
		},
	}
}

// seconds writes a duration in seconds, to a tenth if it is not whole.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// badIdentity connects, as a station would, as an identity the server
// must refuse with 400 before anything else: not even its credentials
// are worth checking.
func badIdentity(ctx context.Context, s *session, id string) (string, bool) {
	c, err := s.open(ctx, id, []string{"ocpp1.6"}, s.key)
	if err == nil {
		c.close()
		return "101: taken for a station's identity", false
	}
	var he *handshakeError
	if !errors.As(err, &he) || he.status == 0 {
		return handshakeGot(err), false
	}
	return he.Error(), he.status == http.StatusBadRequest
}

// A rawConn is a connection the check speaks HTTP on by hand, under the
// WebSocket layer. The context it was opened with ending closes it.
type rawConn struct {
	net.Conn
	stop func() bool // stops the context's watch
}

func (c *rawConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// dialRaw opens a connection to the server of the endpoint: TCP, with TLS
// for a wss URL.
func (d *dialer) dialRaw(ctx context.Context) (*rawConn, error) {
	u, err := url.Parse(d.url)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nc, err := d.dial(dctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	if u.Scheme == "wss" {
		cfg := &tls.Config{}
		if d.tls != nil {
			cfg = d.tls.Clone()
		}
		cfg.ServerName = u.Hostname()
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	return &rawConn{Conn: nc, stop: context.AfterFunc(ctx, func() { nc.Close() })}, nil
}

// requestHead returns the start of a GET for station id, as a station
// sends it: the request line, the Host header and, if key is not nil,
// the station's credentials. The headers are not ended.
func (d *dialer) requestHead(id string, key *string) string {
	u, err := url.Parse(stationURL(d.url, id))
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	if key != nil {
		fmt.Fprintf(&b, "Authorization: %s\r\n", basicAuth(id, *key))
	}
	return b.String()
}

// upgradeHeaders are the WebSocket headers of a station's handshake (the
// key is RFC 6455's example).
const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Protocol: ocpp1.6\r\n"

// An httpAnswer is how the server answered a request the check wrote by
// hand: an HTTP status, or the connection's end.
type httpAnswer struct {
	status int   // 0 if none came
	err    error // why none came
}

func (a httpAnswer) String() string {
	if a.status != 0 {
		return fmt.Sprintf("HTTP %d %s", a.status, http.StatusText(a.status))
	}
	return ended(a.err)
}

// readAnswer reads the status of the server's answer from r.
func readAnswer(r *bufio.Reader) httpAnswer {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return httpAnswer{err: err}
	}
	return httpAnswer{status: resp.StatusCode}
}

// ended says how a connection ended, from the error a read returned: nil
// is the end of the stream.
func ended(err error) string {
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrClosedPipe):
		return "closed"
	case errors.Is(err, syscall.ECONNRESET):
		return "closed (reset)"
	case errors.As(err, &ne) && ne.Timeout():
		return "silence"
	}
	return "closed: " + err.Error()
}

// timedOut reports whether a read failed for its deadline.
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// headersNeverFinished holds stalledConns connections that send a request
// line and part of a header, then a byte a second, as a slowloris client
// does: the server must close each within its header timeout (and a
// margin), and meanwhile let a station in at once. A server that waits
// for headers without end gives its descriptors to whoever asks.
func headersNeverFinished(ctx context.Context, s *session) (string, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan stallResult, stalledConns)
	var opened sync.WaitGroup
	opened.Add(stalledConns)
	for range stalledConns {
		go func() { results <- stall(ctx, s, opened.Done) }()
	}
	opened.Wait()
	station, stationOK := meanwhile(ctx, s)

	var closed, open, failed int
	var first, last time.Duration
	var why error
	for range stalledConns {
		switch r := <-results; {
		case r.err != nil:
			failed++
			why = r.err
		case !r.closed:
			open++
		default:
			if closed == 0 || r.after < first {
				first = r.after
			}
			last = max(last, r.after)
			closed++
		}
	}
	var parts []string
	if closed > 0 {
		span := fmt.Sprintf("%.1f s", first.Seconds())
		if last-first >= 50*time.Millisecond {
			span = fmt.Sprintf("%.1f–%.1f s", first.Seconds(), last.Seconds())
		}
		parts = append(parts, fmt.Sprintf("%d closed after %s", closed, span))
	}
	if open > 0 {
		parts = append(parts, fmt.Sprintf("%d still open after %s", open, seconds(stallBound)))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d not opened: %v", failed, why))
	}
	got := strings.Join(parts, ", ") + " · " + station
	return got, closed == stalledConns && last <= stallBound && stationOK
}

// A stallResult is what became of one connection that never finished its
// headers.
type stallResult struct {
	err    error         // it could not be opened
	closed bool          // the server closed it (else it was still open at stallBound)
	after  time.Duration // when, from its first byte
}

// stall opens a connection, sends a request line and part of a header,
// calls opened, and then sends a byte of the header every trickleEvery
// until the server closes the connection or stallBound has passed.
func stall(ctx context.Context, s *session, opened func()) stallResult {
	nc, err := s.dialRaw(ctx)
	if err != nil {
		opened()
		return stallResult{err: err}
	}
	defer nc.Close()
	start := time.Now()
	nc.SetWriteDeadline(start.Add(s.timeout))
	_, err = io.WriteString(nc, s.requestHead(s.station, s.key)+"X-Edge-Check: ")
	opened()
	if err != nil {
		return stallResult{err: err}
	}
	done, trickled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(trickleEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			nc.SetWriteDeadline(time.Now().Add(s.timeout))
			if _, err := nc.Write([]byte("x")); err != nil {
				return // closed: the read below sees it
			}
		}
	}()
	nc.SetReadDeadline(start.Add(stallBound))
	_, err = io.Copy(io.Discard, nc) // whatever the server says before it closes
	after := time.Since(start)
	close(done)
	nc.Close() // ends a write under way
	<-trickled
	return stallResult{closed: !timedOut(err), after: after}
}

// meanwhile connects as the case's station stationAfter after the stalled
// connections are open: it must be answered 101, and served, at once.
func meanwhile(ctx context.Context, s *session) (string, bool) {
	t := time.NewTimer(stationAfter)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return "a station meanwhile: not tried", false
	}
	start := time.Now()
	c, err := s.connect(ctx)
	took := time.Since(start)
	if err != nil {
		return "a station meanwhile: " + handshakeGot(err), false
	}
	defer c.close()
	served, hb := c.served()
	return fmt.Sprintf("a station meanwhile: 101 in %v · %s", took.Round(time.Millisecond), hb), served
}

// bigHeaderRequest sends the first bigHeadersSent bytes of a handshake
// with 1 MiB of headers: a server with a header limit answers 431, or
// closes, from what it has read, without reading the rest. A server that
// says nothing is waiting for the rest: the check then sends it, to see
// what it does with it.
func bigHeaderRequest(ctx context.Context, s *session) (string, bool) {
	nc, err := s.dialRaw(ctx)
	if err != nil {
		return "cannot connect: " + err.Error(), false
	}
	defer nc.Close()
	req := bigHeadersOf(s.requestHead(s.station, s.key) + upgradeHeaders)
	answers := make(chan httpAnswer, 1)
	go func() { answers <- readAnswer(bufio.NewReader(nc)) }()
	after := fmt.Sprintf("after %d KiB", bigHeadersSent>>10)
	nc.SetWriteDeadline(time.Now().Add(s.timeout))
	// An error is the server closing the connection: its answer says more.
	nc.Write(req[:bigHeadersSent])
	if a, ok := await(answers, s.timeout); ok {
		if a.status == http.StatusRequestHeaderFieldsTooLarge || a.status == 0 {
			return a.String() + " " + after + ": did not read the rest", true
		}
		return a.String() + " " + after, false
	}
	got := "silence " + after + ": waited for the rest"
	nc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := nc.Write(req[bigHeadersSent:]); err != nil {
		if a, ok := await(answers, s.timeout); ok {
			return got + " · then " + a.String(), false
		}
		return got + " · sending it: " + err.Error(), false
	}
	a, ok := await(answers, s.timeout)
	if !ok {
		return got + " · after it: silence", false
	}
	return got + " · after it: " + a.String(), false
}

// await returns the answer that comes on answers within timeout.
func await(answers <-chan httpAnswer, timeout time.Duration) (httpAnswer, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-answers:
		return a, true
	case <-t.C:
		return httpAnswer{}, false
	}
}

// bigHeadersOf returns a request of bigHeaders bytes, or a few less: head,
// then header lines of a KiB each, then the blank line that ends the
// headers.
func bigHeadersOf(head string) []byte {
	b := make([]byte, 0, bigHeaders)
	b = append(b, head...)
	for i := 0; ; i++ {
		name := fmt.Sprintf("X-Edge-Pad-%04d: ", i)
		n := min(1<<10, bigHeaders-2-len(b)) // the line's length, with its CRLF
		if n < len(name)+3 {
			break
		}
		b = append(b, name...)
		b = append(b, strings.Repeat("x", n-len(name)-2)...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// idleAfterRefusal sends a GET for the station without the WebSocket
// headers, which the server refuses with 400 (RFC 6455 §4.2.1), and then
// nothing: the server must not keep the connection for a next request
// longer than its idle timeout (and a margin).
func idleAfterRefusal(ctx context.Context, s *session) (string, bool) {
	nc, err := s.dialRaw(ctx)
	if err != nil {
		return "cannot connect: " + err.Error(), false
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(s.timeout))
	if _, err := io.WriteString(nc, s.requestHead(s.station, s.key)+"\r\n"); err != nil {
		return "send: " + err.Error(), false
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no answer: " + ended(err), false
	}
	answered := time.Now()
	got := httpAnswer{status: resp.StatusCode}.String()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return got + ": upgraded without the WebSocket headers", false
	}
	nc.SetDeadline(answered.Add(idleBound))
	_, err = io.Copy(io.Discard, resp.Body)
	if err == nil {
		_, err = io.Copy(io.Discard, br) // nil at the end of the stream
	}
	if timedOut(err) {
		return got + " · still open after " + seconds(idleBound), false
	}
	after := time.Since(answered)
	got += fmt.Sprintf(" · %s after %.1f s", ended(err), after.Seconds())
	return got, resp.StatusCode == http.StatusBadRequest && after <= idleBound
}
