// Package api is the operator API of the central system: JSON over HTTP to
// read what the store knows of stations and transactions, and to make calls
// to the stations that are connected.
//
// New returns an http.Handler that serves, under /api/:
//
//	GET  /api                                  these endpoints, and the actions a POST calls, with examples
//	GET  /api/stations                         every station ever seen
//	GET  /api/stations/{id}                    one station, and whether it is connected (to which node)
//	GET  /api/stations/{id}/local-list         the local list the station accepted last
//	GET  /api/stations/{id}/reservations       its reservations in force
//	GET  /api/stations/{id}/charging-profiles  the charging profiles it accepted
//	GET  /api/transactions[?station=ID]        transactions, of one station or all
//	GET  /api/transactions/{id}/meter-values   the samples of one transaction
//	POST /api/stations/{id}/{Action}[?timeout=30s]  a call to a station
//
// The GET endpoints also answer HEAD. A POST's body is the OCPP 1.6 request
// payload of the action, any call of OCPP 1.6's six feature profiles that
// a central system makes (Core: ChangeAvailability, ChangeConfiguration,
// ClearCache, DataTransfer, GetConfiguration, RemoteStartTransaction,
// RemoteStopTransaction, Reset, UnlockConnector; Remote Trigger:
// TriggerMessage; Firmware Management: GetDiagnostics, UpdateFirmware;
// Local Auth List Management: GetLocalListVersion, SendLocalList;
// Reservation: ReserveNow, CancelReservation; Smart Charging:
// SetChargingProfile, ClearChargingProfile, GetCompositeSchedule); an
// empty body is {}. The answer, with status 200, is the station's response
// payload, checked against the schema as the request was.
//
// Every response is JSON (Content-Type application/json), times are RFC
// 3339 in UTC, and lists are JSON arrays ([] when empty, never null). An
// error is an object whose "error" says what went wrong and what to do
// about it; its status is one of:
//
//	400  a body that breaks the action's schema ("field" names the field),
//	     a field the request does not have, a transaction id that is no
//	     integer, or a bad ?timeout=
//	401  Options.Token is set and the request lacks "Authorization: Bearer <token>"
//	404  no such path, station, transaction or action (action names are
//	     case-sensitive, as on the wire)
//	405  a method the path does not serve (the Allow header lists those it does)
//	409  the station is known but not connected, or not booted yet, or its
//	     BootNotification was not Accepted (Options.Registration)
//	413  a body over 64 KiB
//	500  the store failed; after a call, the station's answer is in
//	     "answer": it did what it answered, and the store does not know
//	501  the server cannot call stations (Options.Call is nil)
//	502  the station answered with a CALLERROR ("code", "description" and,
//	     if any, "details" hold it), or with a payload that breaks the
//	     schema ("code" and "field" say how; the payload is not passed
//	     on), or the call failed otherwise (the station hung up before
//	     answering)
//	504  the station did not answer in time
//
// A POST is checked in this order: the token (401), the action (404), that
// the server can call (501), ?timeout= (400), the station's registration
// (409), the body (413, 400); then the
// call is made and its outcome answered (200, 404, 409, 502, 504). An
// operator who leaves before the answer cancels the call, and gets none.
//
// What a station holds once it Accepted a call is kept in the store, for
// the sub-resources above to read: the local list of a SendLocalList (a
// Full one replaces it, a Differential one changes it entry by entry), the
// reservation of a ReserveNow until a CancelReservation, a StartTransaction
// naming it (the backend ends it) or its expiryDate, the profile of a
// SetChargingProfile until a ClearChargingProfile that matches it or one
// that replaces it. Should that write fail, the answer is a 500 that
// carries the station's answer.
//
// A station is unknown (404 on a POST) when the step's Call says it is not
// connected and the store has never heard of it either; known but not
// connected is 409. Whether a connected station that has not booted is a
// 409 or a 504 depends on the step: a Call that refuses it at once with an
// error NotConnected recognizes makes it a 409; one that waits for the
// BootNotification, as step 07's on do, makes it a 504 whose message says
// what the call waited for.
//
// Unlike a central system reading a station's messages, the API refuses
// fields it does not know in a POST's body, at any depth: an operator's
// typo ("connectorID", a charging schedule's "chargingRateunit") would
// otherwise be dropped without a word, and the station would act on a
// request the operator did not write.
//
// The handler is safe for concurrent use. It serves only the paths above;
// mount it on "/api/" of the server's mux. It is no business of the OCPP
// endpoint's. The token guards the API even where nothing else does; make
// serve also puts harness/guard in front of the whole operator side, which
// asks the same token of every route.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/guard"
	"github.com/ocppkata/kata/harness/store"
)

// Options configure the API.
type Options struct {
	// Store is what the GET endpoints read, and where what stations
	// accepted of the calls is kept. Required.
	Store store.Store
	// Connected reports whether a station is connected now. nil means
	// unknown: every station reads as not connected.
	Connected func(station string) bool
	// Cluster, if set, tells which node holds each station's connection,
	// on every node that shares the store: GET /api/stations and
	// /api/stations/{id} read "connected" from it rather than from
	// Connected, and name the node in "node". A *roster.Roster is one.
	Cluster Cluster
	// Call makes a call to a connected station and decodes its answer into
	// resp, with the contract of step 07's Server.Call: a CALLERROR comes
	// back as an error wrapping a *ocpp.CallError, no answer before ctx
	// ends as ctx's error. nil for a step whose server cannot call
	// stations: POSTs are then answered 501.
	Call func(ctx context.Context, station, action string, req, resp any) error
	// NotConnected reports whether an error of Call means that the station
	// is not connected, or not booted yet: the step's own error values,
	// matched with errors.Is. nil recognizes none, and such errors are
	// answered 502.
	NotConnected func(error) bool
	// Registration returns what a station's last BootNotification was
	// answered (Accepted, Pending, Rejected), or "" if unknown. A POST to a
	// station that is not Accepted is refused with 409: OCPP 1.6 §4.2
	// forbids RemoteStartTransaction and RemoteStopTransaction to a Pending
	// station and anything to a Rejected one, and the steps' Call waits
	// for Accepted anyway. nil: every station may be called.
	Registration func(station string) string
	// Step names the step whose server the API serves, such as "05", for
	// the message of a 501.
	Step string
	// Token, if set, is the operator token: every request must carry
	// "Authorization: Bearer <Token>".
	Token string
	// DefaultTimeout is how long a POST waits for the station's answer when
	// the request has no ?timeout=. Zero means DefaultTimeout.
	DefaultTimeout time.Duration
	// Logger receives a line per call to a station and per failure of the
	// store; nil means slog.Default().
	Logger *slog.Logger
}

const (
	// DefaultTimeout is how long a POST waits for an answer by default.
	DefaultTimeout = 30 * time.Second
	// MaxTimeout is the longest ?timeout= a POST may ask for.
	MaxTimeout = 5 * time.Minute
	// MaxBodySize is the largest body a POST may send, in bytes.
	MaxBodySize = 64 << 10
)

// Cluster is the nodes of a cluster that share the store, as the station
// listings see them.
type Cluster interface {
	// Holders returns the node that holds each station connected to any
	// node, by station id.
	Holders(ctx context.Context) map[string]string
	// Holder returns the node that holds station's connection, or "" if
	// none does.
	Holder(ctx context.Context, station string) string
}

// api is the handler New returns.
type api struct {
	opts    Options
	token   [sha256.Size]byte // of opts.Token
	timeout time.Duration
	log     *slog.Logger
	mux     *http.ServeMux
}

// New returns the API's handler. It panics if opts.Store is nil, as
// http.Handle does on a nil handler: that is a wiring mistake, not a
// request's.
func New(opts Options) http.Handler {
	if opts.Store == nil {
		panic("api: New without a Store")
	}
	a := &api{opts: opts, timeout: opts.DefaultTimeout, log: opts.Logger}
	if a.timeout <= 0 {
		a.timeout = DefaultTimeout
	}
	a.timeout = min(a.timeout, MaxTimeout)
	if a.log == nil {
		a.log = slog.Default()
	}
	a.token = sha256.Sum256([]byte(opts.Token))

	// The patterns carry no method: ServeMux would answer a wrong one in
	// plain text, and every answer here is JSON.
	a.mux = http.NewServeMux()
	a.mux.Handle("/api", only(a.index, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/{$}", only(a.index, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/stations", only(a.stations, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/stations/{id}", only(a.station, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/stations/{id}/{action}", only(a.call, http.MethodPost))
	a.mux.Handle("/api/stations/{id}/local-list", only(a.localList, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/stations/{id}/reservations", only(a.reservations, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/stations/{id}/charging-profiles", only(a.chargingProfiles, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/transactions", only(a.transactions, http.MethodGet, http.MethodHead))
	a.mux.Handle("/api/transactions/{id}/meter-values", only(a.meterValues, http.MethodGet, http.MethodHead))
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s; GET /api lists those the API serves", r.URL.Path))
	})
	return a
}

// ServeHTTP checks the token, then routes.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.opts.Token != "" && !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ocpp-kata operator API"`)
		writeError(w, http.StatusUnauthorized,
			`this API needs the operator token: send "Authorization: Bearer <API_TOKEN>"`)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// authorized reports whether r carries the token: in its Authorization
// header, or, without one, in the cookie that harness/guard gives a page
// opened with ?token= (HttpOnly and SameSite=Strict, so the live page's
// calls carry it without its script reading it, and no other site's do).
// The comparison is of hashes, in constant time, so that neither the
// token's bytes nor its length can be found by timing the answers.
func (a *api) authorized(r *http.Request) bool {
	var token string
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, t, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		token = t
	} else if c, err := r.Cookie(guard.CookieName); err == nil {
		token = c.Value
	} else {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], a.token[:]) == 1
}

// only serves h to the given methods and answers any other with 405.
func only(h http.HandlerFunc, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				h(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed,
			fmt.Sprintf("%s is not served on %s: use %s", r.Method, r.URL.Path, allow))
	})
}

// storeFailed answers 500 for a store error, and logs it: the operator
// can do nothing about it but tell whoever runs the server.
func (a *api) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("api: reading the store failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError,
		fmt.Sprintf("reading the store failed: %v; the server's log has the details", err))
}

// writeJSON answers status with v as JSON. It encodes v before writing
// anything, so that a value that cannot be encoded becomes a 500, not half
// a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: fmt.Sprintf("encoding the answer failed: %v", err)})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // stations and calls are live
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
	// Field is the payload field that broke the schema (400).
	Field string `json:"field,omitempty"`
	// Code, Description and Details are a CALLERROR's (502).
	Code        string          `json:"code,omitempty"`
	Description string          `json:"description,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
	// Answer is the station's answer to a call when what it says could
	// not be stored (500): the station did it all the same.
	Answer any `json:"answer,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}
