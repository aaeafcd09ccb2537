package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// A Checker attacks the edge of a running central system, one case at a
// time, each on a fresh connection, and says per case whether the server
// answered as OCPP-J 1.6 and RFC 6455 call for. With Limits set, the limit
// cases follow, all at once.
type Checker struct {
	// URL is the server's OCPP endpoint, such as ws://127.0.0.1:8080/ocpp;
	// each connection appends /{stationId}.
	URL string
	// Timeout bounds each wait for an answer: after it, the server is
	// taken to be silent. Zero means DefaultTimeout.
	Timeout time.Duration
	// Keys, if not empty, are stations the server knows with their HTTP
	// Basic keys: every case then connects as one of them, and the auth
	// cases run. Without keys the cases make up station ids, and the auth
	// cases are left out.
	Keys []Key
	// Limits, if set, adds the limit cases (LimitCases) after the others:
	// whether the server holds to its stated limits on handshakes
	// (harness/wsconn) with connections that never finish their headers,
	// 1 MiB of headers, a connection idle after a refused handshake, and
	// identities it must refuse. They wait for the server's timeouts, and
	// add about wsconn.IdleTimeout to the run.
	Limits bool
	// Dial opens the network connections; nil means a net.Dialer's.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS is the configuration of a wss:// URL's connections: the CAs
	// they trust (a server whose certificate make certs made wants its
	// CA). nil means the system's roots.
	TLS *tls.Config
}

// DefaultTimeout is how long a case waits for an answer when
// Checker.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// A Key is a station's identity and its HTTP Basic password.
type Key struct {
	Station, Password string
}

// KeysOf returns the stations of a server's keys (station id → password,
// as a server's AuthKeys), in the order of their ids.
func KeysOf(m map[string]string) []Key {
	keys := make([]Key, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		keys = append(keys, Key{Station: id, Password: m[id]})
	}
	return keys
}

// A Case describes one of the check's cases.
type Case struct {
	// Name names the case, as Result.Case does.
	Name string
	// Sent is what the case sends, raw (see Printable).
	Sent string
	// Want is what OCPP-J 1.6 and RFC 6455 call for.
	Want string
	// Auth is whether the case checks HTTP Basic auth: it runs only when
	// the Checker has Keys.
	Auth bool
}

// Cases returns the cases a Checker runs, in their order: those with Auth
// only when it has Keys. With Limits set, it runs LimitCases after them.
func Cases() []Case { return describe(cases()) }

// LimitCases returns the cases a Checker runs after Cases when its Limits
// is set, in the order of their results.
func LimitCases() []Case { return describe(limitCases()) }

func describe(ccs []checkCase) []Case {
	var out []Case
	for _, cc := range ccs {
		out = append(out, Case{Name: cc.name, Sent: cc.sent, Want: cc.want, Auth: cc.auth})
	}
	return out
}

// A Result is what one case found.
type Result struct {
	// Case names the case.
	Case string
	// Sent is what the check sent, raw (see Printable).
	Sent string
	// Got is what the server did, raw.
	Got string
	// Want is what OCPP-J 1.6 and RFC 6455 call for.
	Want string
	// OK is whether Got is what Want says.
	OK bool
}

// A checkCase is one attack on the edge.
type checkCase struct {
	name string // short, and used in the made-up station ids
	slug string
	sent string
	want string
	auth bool // runs only with keys
	// run carries the case out on connections from s, and returns what
	// the server did and whether that is what the case wants.
	run func(ctx context.Context, s *session) (got string, ok bool)
}

// A session is what a case runs with: how to connect, and as whom.
type session struct {
	dialer
	station string  // the station id the case connects as
	key     *string // its password, nil without keys
}

// connect opens a connection as the case's station, offering ocpp1.6.
func (s *session) connect(ctx context.Context) (*conn, error) {
	return s.open(ctx, s.station, []string{"ocpp1.6"}, s.key)
}

// Reach makes sure the server is there and lets the check in: one
// handshake as a station, closed at once. Its error says what to do.
func (c *Checker) Reach(ctx context.Context) error {
	s := c.session(0, "reach")
	conn, err := s.connect(ctx)
	if err == nil {
		conn.close()
		return nil
	}
	var he *handshakeError
	switch {
	case !errors.As(err, &he):
		return err
	case he.status == 0:
		return fmt.Errorf("cannot reach %s: %v; is a server running there? (make serve)", c.URL, he.err)
	case he.status == http.StatusUnauthorized && len(c.Keys) == 0:
		return fmt.Errorf("%s answers 401: it wants HTTP Basic auth; give a station's key: make edge KEY=secret [STATION=CS0001], or the server's keys file: make edge AUTH_KEYS=FILE (flags -key, -station, -auth-keys)", c.URL)
	case he.status == http.StatusUnauthorized:
		return fmt.Errorf("%s answers 401 to station %s with the key given (KEY= or AUTH_KEYS=): is it the key the server has for it?", c.URL, s.station)
	case he.status == http.StatusNotFound:
		return fmt.Errorf("%s answers 404: the URL is the endpoint without the station id, such as ws://127.0.0.1:8080/ocpp", c.URL)
	}
	return fmt.Errorf("%s refused the handshake of station %s: %v", c.URL, s.station, err)
}

// Run runs every case in order, calling each with its result as soon as
// it is known, and returns them all; then, with Limits set, the limit
// cases, all at once, giving their results in their order. When ctx ends
// it stops, leaving out the cases it cut short.
func (c *Checker) Run(ctx context.Context, each func(Result)) []Result {
	var results []Result
	emit := func(r Result) {
		results = append(results, r)
		if each != nil {
			each(r)
		}
	}
	all := cases()
	for i, cc := range all {
		if cc.auth && len(c.Keys) == 0 {
			continue
		}
		if ctx.Err() != nil {
			return results
		}
		got, ok := cc.run(ctx, c.session(i, cc.slug))
		if ctx.Err() != nil {
			return results // cut short: what it found is not the server's doing
		}
		emit(Result{Case: cc.name, Sent: cc.sent, Got: got, Want: cc.want, OK: ok})
	}
	if !c.Limits || ctx.Err() != nil {
		return results
	}
	// The limit cases connect as the station of the others, but only one,
	// "headers never finished", upgrades a connection: they cannot take
	// over each other's.
	limits := limitCases()
	found := make([]chan Result, len(limits))
	var wg sync.WaitGroup
	defer wg.Wait()
	for j, cc := range limits {
		found[j] = make(chan Result, 1)
		wg.Go(func() {
			got, ok := cc.run(ctx, c.session(len(all)+j, cc.slug))
			found[j] <- Result{Case: cc.name, Sent: cc.sent, Got: got, Want: cc.want, OK: ok}
		})
	}
	for _, f := range found {
		r := <-f
		if ctx.Err() != nil {
			return results
		}
		emit(r)
	}
	return results
}

// session returns the session of the i-th case: with keys, the case
// connects as the i-th of them (round the list); without, as a station id
// of its own, EDGE-{slug}. The ids are the same on every run, so that a
// server's store keeps one station per case however often it is checked;
// two checks of one server at once would take each other's connections.
func (c *Checker) session(i int, slug string) *session {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dial := c.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	s := &session{dialer: dialer{url: c.URL, timeout: timeout, dial: dial, tls: c.TLS}}
	if len(c.Keys) == 0 {
		s.station = "EDGE-" + slug
		return s
	}
	k := c.Keys[i%len(c.Keys)]
	s.station, s.key = k.Station, &k.Password
	return s
}

// Passed counts the results that are as OCPP-J expects.
func Passed(results []Result) int {
	n := 0
	for _, r := range results {
		if r.OK {
			n++
		}
	}
	return n
}
