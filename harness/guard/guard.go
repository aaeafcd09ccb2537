// Package guard keeps the operator's side of `make serve`'s port (the API,
// the live view, the metrics, the profiles) for the operator: a page from
// another site, a name that rebinds to this machine, or a client guessing
// the token gets nothing from it.
//
// New wraps the handler of that side. For every request it:
//
//   - without a token, serves only a Host that is an IP address or
//     localhost (421 otherwise): a web page whose own name has been made to
//     resolve to this machine (DNS rebinding) must not read the API as if
//     it were the server's own page. With a token, any Host is served;
//   - refuses cross-origin requests that change something (POST, PUT,
//     PATCH, DELETE from another site's page: 403), through net/http's
//     CrossOriginProtection;
//   - refuses a request body that is not JSON (415), so that a form or a
//     text/plain fetch, which a browser sends across sites without asking,
//     is never read as one;
//   - with a token, wants it on every request: "Authorization: Bearer
//     <token>", or the cookie that a page opened once with ?token=<token>
//     received (a browser's EventSource cannot send a header). A wrong or
//     missing token is a 401, and an address that keeps guessing is
//     answered 429 for a minute: FailureLimit failures within a minute.
//
// Refusals are logged: one line per address and kind at most every minute,
// which counts the refusals since the last.
package guard

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Options configures the guard.
type Options struct {
	// Token, if set, is the operator's token, wanted on every request.
	Token string
	// Logger receives the refusals; nil discards them.
	Logger *slog.Logger
}

// FailureLimit is how many wrong tokens one address may send within
// FailureWindow before it is answered 429 until the window has passed.
const (
	FailureLimit  = 10
	FailureWindow = time.Minute
)

// CookieName is the cookie that carries the token for a page.
const CookieName = "kata_operator"

// New returns next behind the guard.
func New(next http.Handler, opts Options) http.Handler {
	g := &guard{
		next:     next,
		log:      opts.Logger,
		cross:    http.NewCrossOriginProtection(),
		failures: make(map[string]*failures),
		refused:  make(map[string]*refusals),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if opts.Token != "" {
		sum := sha256.Sum256([]byte(opts.Token))
		g.token = sum[:]
	}
	return g
}

type guard struct {
	next  http.Handler
	log   *slog.Logger
	token []byte // sha256 of the token, or nil
	cross *http.CrossOriginProtection

	mu       sync.Mutex
	failures map[string]*failures // by client address
	refused  map[string]*refusals // by address and kind
}

// refusals counts one address's refusals of one kind since the last line
// that logged them.
type refusals struct {
	logged time.Time
	n      int
}

// failures counts one address's wrong tokens in the current window.
type failures struct {
	since time.Time
	n     int
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.token == nil && !localHost(r.Host) {
		g.refuse(w, r, http.StatusMisdirectedRequest, "host",
			fmt.Sprintf("this server answers to its IP address or localhost, not %q; set API_TOKEN to serve it under a name", r.Host))
		return
	}
	if err := g.cross.Check(r); err != nil {
		g.refuse(w, r, http.StatusForbidden, "cross-site", "a request from another site's page may not change anything here")
		return
	}
	if r.ContentLength != 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			g.refuse(w, r, http.StatusUnsupportedMediaType, "content-type", "the body must be JSON, sent with Content-Type: application/json")
			return
		}
	}
	if g.token != nil && !g.authorized(w, r) {
		return
	}
	g.next.ServeHTTP(w, r)
}

// authorized reports whether r carries the token; if not, it has answered.
// A GET that brings the token in ?token= gets it as a cookie, and is sent
// to the same URL without it, so that the token stays out of the history
// and the page's own requests carry it.
func (g *guard) authorized(w http.ResponseWriter, r *http.Request) bool {
	addr := clientAddr(r)
	if g.blocked(addr) {
		g.refuse(w, r, http.StatusTooManyRequests, "guessing",
			fmt.Sprintf("too many wrong tokens from %s: try again in a minute", addr))
		return false
	}
	given, fromQuery := "", false
	if auth := r.Header.Get("Authorization"); auth != "" {
		if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
			given = strings.TrimSpace(tok)
		}
	} else if tok := r.URL.Query().Get("token"); tok != "" && r.Method == http.MethodGet {
		given, fromQuery = tok, true
	} else if c, err := r.Cookie(CookieName); err == nil {
		given = c.Value
	}
	sum := sha256.Sum256([]byte(given))
	if given == "" || subtle.ConstantTimeCompare(sum[:], g.token) != 1 {
		g.failed(addr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="operator"`)
		g.refuse(w, r, http.StatusUnauthorized, "token",
			"this server wants the operator token: Authorization: Bearer <token>, or open the page once with ?token=<token>")
		return false
	}
	if fromQuery {
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: given, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		u := *r.URL
		q := u.Query()
		q.Del("token")
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	return true
}

// blocked reports whether addr has sent FailureLimit wrong tokens within
// the window.
func (g *guard) blocked(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.failures[addr]
	if f == nil {
		return false
	}
	if time.Since(f.since) >= FailureWindow {
		delete(g.failures, addr)
		return false
	}
	return f.n >= FailureLimit
}

// failed counts a wrong token from addr.
func (g *guard) failed(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	for a, f := range g.failures { // forget old windows, so the map stays small
		if now.Sub(f.since) >= FailureWindow {
			delete(g.failures, a)
		}
	}
	f := g.failures[addr]
	if f == nil {
		f = &failures{since: now}
		g.failures[addr] = f
	}
	f.n++
}

// refuse answers r with status and a JSON error, and logs it at most once a
// minute per address and kind, with how many there were since.
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", msg)

	addr := clientAddr(r)
	key := addr + " " + kind
	now := time.Now()
	g.mu.Lock()
	rf := g.refused[key]
	if rf == nil {
		for k, old := range g.refused { // forget quiet ones, so the map stays small
			if now.Sub(old.logged) >= FailureWindow && old.n == 0 {
				delete(g.refused, k)
			}
		}
		rf = &refusals{}
		g.refused[key] = rf
	}
	rf.n++
	n, due := rf.n, rf.logged.IsZero() || now.Sub(rf.logged) >= FailureWindow
	if due {
		rf.logged, rf.n = now, 0
	}
	g.mu.Unlock()
	if due {
		g.log.Warn("operator requests refused", "from", addr, "why", kind, "status", status, "path", r.URL.Path,
			"refused", n, "note", "counted since the last line of this kind from this address; the next comes in a minute at the soonest")
	}
}

// localHost reports whether host (with or without a port) is an IP address
// or localhost.
func localHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// clientAddr returns the address r came from, without its port.
func clientAddr(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}
