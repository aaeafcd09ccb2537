package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/cmd/run/internal/steplink"
	"github.com/ocppkata/kata/harness/gcroom"
	"github.com/ocppkata/kata/harness/guard"
	"github.com/ocppkata/kata/harness/idtags"
	"github.com/ocppkata/kata/harness/internal/settings"
	"github.com/ocppkata/kata/harness/internal/term"
	"github.com/ocppkata/kata/harness/live"
	"github.com/ocppkata/kata/harness/metrics"
	"github.com/ocppkata/kata/harness/netpoll"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/roster"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/tlsauth"
)

// serveFlags is what make serve asks for. Each flag falls back to an
// environment variable (OCPP_ADDR, OCPP_DB, …), so that the server can be
// configured the way a service is.
type serveFlags struct {
	variant      string
	addr         string
	workers      int
	scale        float64
	authKeys     string
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	db           string
	idTags       string
	heartbeat    int
	maxFrame     int64
	apiToken     string
	log          string
	logLevel     slog.Level
	registration string
	pprof        bool
	natsURL      string // "": a cluster of one
	node         string // "": nodeName's default
}

// parseServeFlags reads serve's flags, with their environment fallbacks.
func parseServeFlags(args []string, getenv func(string) string) (serveFlags, error) {
	var f serveFlags
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := steplink.NewFlags("serve")
	fs.StringVar(&f.variant, "variant", "solution", "which server: starter (your code) or solution")
	// The settings come from one table, shared with kata serve; each flag
	// falls back on its environment variable.
	values := make(map[string]*string)
	var pprof *bool
	for _, s := range settings.All() {
		usage := s.Usage
		if s.Env != "" {
			usage += " (" + s.Env + ")"
		}
		switch s.Kind {
		case settings.Secret:
			usage += ": better given in " + s.Env + ", which other users cannot read in ps"
			values[s.Make] = fs.String(s.Flag, env(s.Env, s.Default), usage)
		case settings.Switch:
			pprof = fs.Bool(s.Flag, settings.On(getenv(s.Env)), usage)
		default:
			values[s.Make] = fs.String(s.Flag, env(s.Env, s.Default), usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if err := steplink.CheckArgs(fs); err != nil {
		return f, err
	}
	f.addr, f.authKeys, f.db, f.idTags = *values["ADDR"], *values["AUTH_KEYS"], *values["DB"], *values["ID_TAGS"]
	f.apiToken, f.log, f.registration, f.pprof = *values["API_TOKEN"], *values["LOG"], *values["REGISTRATION"], *pprof
	f.tlsCert, f.tlsKey, f.tlsClientCA = *values["TLS_CERT"], *values["TLS_KEY"], *values["TLS_CLIENT_CA"]
	f.natsURL, f.node = strings.TrimSpace(*values["NATS_URL"]), *values["NODE"]
	var err error
	if f.workers, err = strconv.Atoi(*values["WORKERS"]); err != nil {
		return f, fmt.Errorf("-workers %q: want a number of workers", *values["WORKERS"])
	}
	if f.scale, err = strconv.ParseFloat(*values["SCALE"], 64); err != nil {
		return f, fmt.Errorf("-scale %q: want a factor on the backend's latencies, 0 or more", *values["SCALE"])
	}
	if f.heartbeat, err = strconv.Atoi(*values["HEARTBEAT"]); err != nil {
		return f, fmt.Errorf("-heartbeat %q: want seconds, 1 or more (0: the default, 300)", *values["HEARTBEAT"])
	}
	if err := f.logLevel.UnmarshalText([]byte(*values["LOG_LEVEL"])); err != nil {
		return f, fmt.Errorf("-log-level %q: want debug, info, warn or error", *values["LOG_LEVEL"])
	}
	if f.maxFrame, err = strconv.ParseInt(*values["MAX_FRAME"], 10, 64); err != nil {
		return f, fmt.Errorf("-max-frame %q: want bytes, 1 or more (0: the step's default)", *values["MAX_FRAME"])
	}
	if err := checkServeFlags(f.workers, f.scale); err != nil {
		return f, err
	}
	if f.natsURL != "" {
		if err := checkNATSURL(f.natsURL); err != nil {
			return f, err
		}
	}
	if err := checkNodeName(f.node); err != nil {
		return f, err
	}
	switch {
	case f.heartbeat < 0:
		return f, fmt.Errorf("-heartbeat %d: want seconds, 1 or more (0: the default, 300)", f.heartbeat)
	case f.maxFrame < 0:
		return f, fmt.Errorf("-max-frame %d: want bytes, 1 or more (0: the step's default)", f.maxFrame)
	case f.log != "" && f.log != "text" && f.log != "json":
		return f, fmt.Errorf("-log %q: want text or json", f.log)
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return f, errors.New("TLS needs both TLS_CERT (the certificate) and TLS_KEY (its private key); make certs writes a workshop's into certs/")
	case f.tlsClientCA != "" && f.tlsCert == "":
		return f, errors.New("TLS_CLIENT_CA (security profile 3) needs TLS: give TLS_CERT and TLS_KEY too")
	}
	for _, r := range []ocpp.RegistrationStatus{ocpp.RegistrationAccepted, ocpp.RegistrationPending, ocpp.RegistrationRejected} {
		if strings.EqualFold(f.registration, string(r)) {
			f.registration = string(r) // REGISTRATION=pending is meant as Pending
		}
	}
	if !ocpp.RegistrationStatus(f.registration).Valid() {
		return f, fmt.Errorf("-registration %q: want Accepted, Pending or Rejected", f.registration)
	}
	return f, nil
}

// newLogger returns the server's logger: text for a person at a terminal,
// JSON for a machine that collects the logs, unless format says.
func newLogger(w *os.File, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" || (format == "" && !term.IsTerminal(w)) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the server's store: the SQLite file at path, a
// PostgreSQL database (postgres.go), or memory.
func openStore(path string) (store.Store, string, error) {
	if isPostgresURL(path) {
		return openPostgres(path)
	}
	if path == "memory" {
		return &store.Memory{}, "in memory (nothing kept across restarts)", nil
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", fmt.Errorf("DB=%s: %w", path, err)
		}
	}
	st, err := openSQLite(path)
	if err != nil {
		return nil, "", fmt.Errorf("DB=%s: %w", path, err)
	}
	return st, "SQLite " + path, nil
}

// observer forwards the backend's reports to the metrics, which can only be
// made once the step's server exists (they read its gauges).
type observer struct {
	m atomic.Pointer[metrics.Metrics]
}

func (o *observer) Call(action, result string, took time.Duration) {
	if m := o.m.Load(); m != nil {
		m.Call(action, result, took)
	}
}

func (o *observer) Batch(size int) {
	if m := o.m.Load(); m != nil {
		m.Batch(size)
	}
}

func (o *observer) StoreError(op string) {
	if m := o.m.Load(); m != nil {
		m.StoreError(op)
	}
}

// tracer forwards the backend's work to the live view, which can only be
// made once the step's server exists (it reads its gauges).
type tracer struct {
	h atomic.Pointer[live.Hub]
}

func (t *tracer) WorkStarted(seq int, w backend.Work, at time.Time) {
	if h := t.h.Load(); h != nil {
		h.WorkStarted(seq, w, at)
	}
}

func (t *tracer) WorkReplied(seq int) {
	if h := t.h.Load(); h != nil {
		h.WorkReplied(seq)
	}
}

func (t *tracer) WorkEnded(seq int, w backend.Work, start, end time.Time, err error) {
	if h := t.h.Load(); h != nil {
		h.WorkEnded(seq, w, start, end, err)
	}
}

// stationCaller is a step's server that calls stations (step 07 on).
type stationCaller interface {
	Call(ctx context.Context, station, action string, req, resp any) error
}

// make serve's collector paces itself as GOGC=25 would, but lets the heap
// grow by at least 8 MiB between two collections (see gcroom), unless the
// environment sets GOGC. A central system's stations are idle nearly all
// the time, and what an idle one costs is its state: at Go's default, 100,
// the heap of 10,000 idle stations may grow by as much as it holds before
// the collector runs, and the runtime keeps up to that much (and a tenth
// more) for the next growth rather than give it back to the system. At
// a quarter, 10,000 idle stations get the floor's 8 MiB of room where half
// gave them 14: 0.1–0.6 KiB a station kept, from 0.2–1.0 (make bench
// PHASE=idle shows it: "free pages not given back yet"). Under load on a
// small heap, a quarter would collect four times as often as Go's default,
// for nothing: the floor gives it about the room the default would
// (README: "What it does, measured").
const (
	serveGCPercent = 25
	serveGCFloor   = 8 << 20
)

// serve runs the linked step's server on a real port until a signal stops
// it: the step's OCPP endpoint, the operator API and the Prometheus
// metrics on one port, its backend keeping what stations report in a store.
func serve(args []string) error {
	f, err := parseServeFlags(args, os.Getenv)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		defer gcroom.Keep(serveGCPercent, serveGCFloor)()
	}
	newServer, fields, err := linked.Variant(f.variant)
	if err != nil {
		return err
	}
	auth, err := loadAuthKeys(f.authKeys, linked.Step, fields)
	if err != nil {
		return err
	}
	if err := checkCluster(f.natsURL, linked.Step, fields); err != nil {
		return err
	}
	var tlsConf *tls.Config
	if f.tlsCert != "" {
		if tlsConf, err = tlsauth.ServerConfig(f.addr, f.tlsCert, f.tlsKey, f.tlsClientCA, time.Now()); err != nil {
			return err
		}
	}
	var tags idtags.List
	if f.idTags != "" {
		if tags, err = idtags.Load(f.idTags); err != nil {
			return fmt.Errorf("ID_TAGS: %w", err)
		}
	}
	logger := newLogger(os.Stderr, f.log, f.logLevel)

	st, where, err := openStore(f.db)
	if err != nil {
		return err
	}
	defer st.Close()
	obs, trace := &observer{}, &tracer{}
	// No records: a server that runs for days must not grow with every call.
	b := backend.New(backend.Options{
		Latencies: backend.WorkshopLatencies().Scaled(f.scale), NoRecords: true,
		Store: st, Observer: obs, Tracer: trace, Logger: logger, HeartbeatInterval: f.heartbeat, IdTags: tags,
		Registration: ocpp.RegistrationStatus(f.registration),
	})
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another make serve running? ADDR=127.0.0.1:8081 picks another port)", f.addr, err)
	}
	// A station's connection that the server hands to its poller (step
	// 11) leaves the runtime's: an idle one keeps 0.8 KiB less.
	l = netpoll.Listener(l)
	name := nodeName(f.node, l.Addr())
	var cluster *natsLink
	if f.natsURL != "" {
		if cluster, err = joinCluster(f.natsURL, name, logger); err != nil {
			l.Close()
			return err
		}
	}
	muxOpts := portmux.Options{MaxConns: maxConns(openFileLimit()), Logger: logger, TLS: tlsConf}
	if f.tlsClientCA != "" {
		muxOpts.Admit = tlsauth.CheckStation
	}
	mux := portmux.New(l, muxOpts)
	srv := newServer(steplink.Config{Backend: b, Workers: f.workers, Logger: logger, AuthKeys: auth.keys, MaxFrameSize: f.maxFrame,
		Node: name, NATS: cluster.Conn()})
	n := &node{name: name, srv: srv, backend: b, store: st, stations: mux, notConnected: notConnected(f.variant)}
	liveNode := ""
	if cluster != nil {
		if n.roster, err = roster.New(roster.Options{Node: name, Stations: mux, NATS: cluster.Conn(), Logger: logger}); err != nil {
			srv.Close()
			cluster.leave()
			mux.Close()
			return err
		}
		liveNode = name
	}
	m := n.newMetrics()
	obs.m.Store(m)
	_, calls := srv.(stationCaller)
	view := live.New(live.Options{Step: fmt.Sprintf("%02d", linked.Step), Title: linked.Title, Variant: f.variant,
		Connected: mux.Connected, Server: srv, Backend: b, Operator: calls, Node: liveNode})
	defer view.Close()
	trace.h.Store(view)

	apiOpts := n.apiOptions(m)
	apiOpts.Token, apiOpts.Step, apiOpts.Logger = f.apiToken, fmt.Sprintf("%02d", linked.Step), logger
	h := http.NewServeMux()
	operator := api.New(apiOpts)
	h.Handle("/api/", operator)
	h.Handle("/api", operator) // GET /api lists the API, without the redirect to /api/ a bare "/api/" pattern gives
	h.Handle("GET /metrics", m.Handler())
	page := view.Handler()
	h.Handle("GET /{$}", page)
	h.Handle("GET /live/", page)
	if f.pprof {
		// For make bench and whoever tunes the server: what it spends its
		// time and memory on, while it runs.
		h.HandleFunc("/debug/pprof/", pprof.Index)
		h.HandleFunc("/debug/pprof/profile", pprof.Profile)
		h.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	h.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "OCPP stations connect at /ocpp/{stationId}; the live view is at /, the operator API at /api/stations, the metrics at /metrics", http.StatusNotFound)
	})
	web := &http.Server{Handler: withTLS(guard.New(h, guard.Options{Token: f.apiToken, Logger: logger})), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug), ConnContext: tlsContext}

	printBanner(os.Stderr, f, l.Addr(), auth, where, clusterBanner(f.natsURL, name, fields))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(view.Listener(mux.Stations())) }()
	go web.Serve(mux.HTTP())
	go mux.Serve()
	select {
	case <-ctx.Done():
		stop() // a second Ctrl-C ends the program at once
		if g, ok := srv.(steplink.Graceful); ok {
			err = shutDown(g, b)
		} else {
			fmt.Fprintln(os.Stderr, "\nstopping: closing every connection and waiting for the workers (Ctrl-C again to force)…")
			err = srv.Close()
		}
		if serveErr := <-served; err == nil {
			err = serveErr
		}
	case err = <-served:
		if closeErr := srv.Close(); err == nil {
			err = closeErr
		}
		if err == nil {
			err = errors.New("the server stopped serving on its own")
		}
	}
	// What the backend still holds for the store, then the API, then the
	// port, then the store.
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, b.Flush(flushCtx))
	view.Close() // tells the pages' event streams to end, before web.Close cuts them
	web.Close()
	mux.Close()
	// The broker last but the store: the step's server has let its
	// subscriptions go; the roster says goodbye, and what they published
	// is flushed.
	if n.roster != nil {
		err = errors.Join(err, n.roster.Close())
	}
	err = errors.Join(err, cluster.leave())
	err = errors.Join(err, st.Close())
	fmt.Fprint(os.Stderr, servedSummary(b.Stats(), b.Totals(), f.workers))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// tlsKey is the context key of a connection's TLS state.
type tlsKey struct{}

// tlsContext keeps the TLS state of a connection that the Mux served over
// TLS in its requests' context, for withTLS. net/http sets a request's TLS
// only when it did the handshake itself, and behind the Mux it does not.
func tlsContext(ctx context.Context, c net.Conn) context.Context {
	if st := portmux.TLSState(c); st != nil {
		return context.WithValue(ctx, tlsKey{}, st)
	}
	return ctx
}

// withTLS sets each request's TLS from its connection, as net/http does
// for a connection it served over TLS itself: the guard marks its cookie
// Secure by it.
func withTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(tlsKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
			r2 := *r
			r2.TLS = st
			r = &r2
		}
		h.ServeHTTP(w, r)
	})
}

// notConnected tells the API which of Call's errors mean that the station
// is not connected: the step's ErrNotConnected, which the link gives.
func notConnected(v string) func(error) bool {
	target := linked.SolutionErrNotConnected
	if v == "starter" {
		target = linked.StarterErrNotConnected
	}
	return func(err error) bool { return target != nil && errors.Is(err, target) }
}

// printBanner says what runs where.
func printBanner(w io.Writer, f serveFlags, addr net.Addr, auth authConfig, where, cluster string) {
	st := term.StyleFor(os.Stderr)
	whose := "the reference solution (solutions/" + linked.Name + ")"
	if f.variant == "starter" {
		whose = "your code (exercises/" + linked.Name + ")"
	}
	conc := fmt.Sprintf("Workers: %d", f.workers)
	more := ""
	if f.workers == 0 {
		conc = fmt.Sprintf("Workers: the step's default (GOMAXPROCS is %d)", runtime.GOMAXPROCS(0))
		more = "\nmany stations? make serve WORKERS=100: the backend's calls wait, they do not compute"
	} else if f.workers > runtime.GOMAXPROCS(0) {
		more = "\nmore workers than CPU cores, because the backend's calls wait rather than compute: see step 01"
	}
	fmt.Fprintf(w, "%s\n", st.Bold(fmt.Sprintf("step %02d · %s · %s", linked.Step, linked.Title, whose)))
	ws, web := "ws", "http"
	if f.tlsCert != "" {
		ws, web = "wss", "https"
	}
	fmt.Fprintf(w, "stations: %s://%s/ocpp/{stationId} · %s · workshop latencies ×%g · store: %s\n", ws, addr, conc, f.scale, where)
	api := fmt.Sprintf("operator API: %s://%s/api/stations", web, addr)
	live := fmt.Sprintf("live view, for the projector: %s://%s/", web, addr)
	if f.apiToken != "" {
		api += " (Authorization: Bearer <API_TOKEN>)"
		live += "?token=<API_TOKEN>, once: the page keeps it in a cookie"
	}
	fmt.Fprintf(w, "%s · metrics: %s://%s/metrics\n", api, web, addr)
	fmt.Fprintf(w, "%s\n", st.Bold(live))
	if cluster != "" {
		fmt.Fprintf(w, "%s\n", cluster)
	}
	stations := fmt.Sprintf("make stations N=10 URL=%s://%s/ocpp", ws, addr)
	if auth.keys != nil {
		fmt.Fprintf(w, "%s\n", auth.banner(f.variant == "starter", f.tlsCert != ""))
		stations += " AUTH_KEYS=" + auth.file
	}
	if f.tlsCert != "" {
		fmt.Fprintf(w, "%s\n", tlsBanner(f, auth.keys != nil))
		stations += stationsTLS(f)
	}
	fmt.Fprintf(w, "%s\n\n", st.Dim(fmt.Sprintf("in another terminal: %s · Ctrl-C stops the server%s", stations, more)))
}

// fileReserve is how many of the process's open files maxConns keeps for
// the store, the logs and whatever the server opens besides connections:
// among it, the descriptor a connection's hand-over to the poller takes for
// a moment, and the two that a write borrows while it waits for a station
// that does not read (netpoll.Listener).
const fileReserve = 256

// maxConns returns the cap on open connections for a process that may
// open limit files: a connection accepted past the limit would fail with
// EMFILE, and while it does, nothing more is accepted. 0 means no cap.
func maxConns(limit int) int {
	if limit <= 2*fileReserve {
		return 0 // too few to spare any: let accept fail as it would
	}
	return limit - fileReserve
}
