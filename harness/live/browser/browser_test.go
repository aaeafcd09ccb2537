package browser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/guard"
	"github.com/ocppkata/kata/harness/live"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/wsconn"
	"github.com/ocppkata/kata/stations/station"
)

// patience bounds each wait for the page to show something. The page
// changes five times a second; a page that has not shown it after this
// long never will.
const patience = 30 * time.Second

func TestLiveViewInABrowser(t *testing.T) {
	chrome := findChrome(t)
	addr := freeAddr(t)
	root := repoRoot(t)

	srv := startServerWith(t, addr, serverConfig{stations: 12, workers: 4, node: "node-a"})
	ctx := openBrowser(t, chrome)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatalf("the browser could not open the page: %v", err)
	}

	if !t.Run("the grid shows the stations", func(t *testing.T) {
		waitFor(t, ctx, `document.querySelector('#conn').dataset.state === 'live'`, "the page says it is live")
		waitFor(t, ctx, `document.querySelectorAll('#tiles .tile[data-connected="true"]').length === 12`,
			"12 connected tiles, one per station")
		waitFor(t, ctx, `document.querySelectorAll('#tiles .tile[data-status="Charging"]').length === 6`,
			"6 tiles Charging, as the even stations reported")
		waitFor(t, ctx, `!document.querySelector('#node-of').hidden && document.querySelector('#node').textContent === 'node-a' && document.title === 'node-a · step 01 · live'`,
			"the heading and the title name the node, node-a")
	}) {
		return
	}
	if !t.Run("the lanes move", func(t *testing.T) {
		waitFor(t, ctx, `window.liveView.lanes === 4 && window.liveView.bars > 8`, "4 worker lanes with bars")
		before := eval[float64](t, ctx, `window.liveView.t`)
		drawn := eval[float64](t, ctx, `window.liveView.drawn`)
		waitFor(t, ctx, fmt.Sprintf(`window.liveView.t >= %v + 1000 && window.liveView.drawn > %v + 10`, before, drawn),
			"a second more of frames, drawn")
	}) {
		return
	}
	if !t.Run("a station that disconnects turns grey", func(t *testing.T) {
		srv.disconnect(t, "CS0003")
		tile := `document.querySelector('#tiles .tile[data-id="CS0003"]')`
		waitFor(t, ctx, tile+`.dataset.connected === 'false' && `+tile+`.classList.contains('offline')`, "CS0003's tile marked offline")
		if grey := eval[bool](t, ctx, `(() => { const m = getComputedStyle(`+tile+`).backgroundColor.match(/\d+/g).map(Number);
			return Math.max(m[0], m[1], m[2]) - Math.min(m[0], m[1], m[2]) < 16 })()`); !grey {
			t.Errorf("CS0003's tile is %s, want grey", eval[string](t, ctx, `getComputedStyle(`+tile+`).backgroundColor`))
		}
		screenshot(t, ctx, filepath.Join(root, ".kata", "live-view.png"))
	}) {
		return
	}
	t.Run("the page recovers after a server restart", func(t *testing.T) {
		old := eval[string](t, ctx, `window.liveView.server`)
		srv.stop()
		waitFor(t, ctx, `document.querySelector('#conn').dataset.state === 'down'`, "the page says the server is gone")
		screenshot(t, ctx, filepath.Join(root, ".kata", "live-view-down.png"))
		startServer(t, addr, 5, 2)
		waitFor(t, ctx, fmt.Sprintf(`window.liveView.server !== %q && document.querySelector('#conn').dataset.state === 'live'`, old),
			"the page back on the new server, by itself")
		waitFor(t, ctx, `document.querySelectorAll('#tiles .tile').length === 5 && window.liveView.lanes === 2`,
			"the new server's 5 stations and 2 lanes, none of the old server's")
		waitFor(t, ctx, `document.querySelector('#node-of').hidden && document.title === 'step 01 · live'`,
			"no node named: the new server is no node of a cluster")
		screenshot(t, ctx, filepath.Join(root, ".kata", "live-view-restarted.png"))
	})
}

// findChrome returns the browser to drive, or skips the test.
func findChrome(t *testing.T) string {
	if path := os.Getenv("CHROME"); path != "" {
		return path
	}
	names := []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}
	switch runtime.GOOS {
	case "darwin":
		names = []string{"/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"}
	case "windows":
		names = []string{"chrome", "msedge"}
	}
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const missing = "no Chromium or Chrome installed: the live view's browser tests need one (Debian: apt-get install chromium; or set CHROME)"
	if os.Getenv("KATA_BROWSER") == "required" {
		t.Fatal(missing + "; KATA_BROWSER=required (CI) wants them run")
	}
	t.Skip(missing)
	return ""
}

// TestMain stops the browser the tests share (see openBrowser), if one of
// them started it.
func TestMain(m *testing.M) {
	b := new(sharedBrowser)
	browser = b
	code := m.Run()
	b.stop()
	os.Exit(code)
}

// browser is the headless browser the package's tests share, set once by
// TestMain before any test runs: a browser costs about 2 CPU-seconds and
// seconds of the clock to start, once per test otherwise.
var browser *sharedBrowser

// A sharedBrowser starts one headless browser, on first use, for every
// test: with the flags a closed network and a root user need, and windows
// the size of a projector's picture.
type sharedBrowser struct {
	once sync.Once
	ctx  context.Context // its first tab's: the browser lives as long
	err  error
	end  func() // ends the browser and removes its profile
}

// stop ends the browser, if a test started it.
func (b *sharedBrowser) stop() {
	if b.end != nil {
		b.end()
	}
}

// start starts the browser, the first time only, and returns its context.
func (b *sharedBrowser) start(chrome string) (context.Context, error) {
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "kata-browser-")
		if err != nil {
			b.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chrome),
			chromedp.NoSandbox,
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1600, 900),
			chromedp.UserDataDir(dir),
		)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		b.ctx = ctx
		b.end = func() {
			cancel()
			cancelAlloc()
			os.RemoveAll(dir)
		}
		if err := chromedp.Do(ctx); err != nil { // starts the browser
			b.err = fmt.Errorf("could not start %s: %w", chrome, err)
		}
	})
	return b.ctx, b.err
}

// openBrowser opens a tab for the test in the shared browser, in a browser
// context of its own: its cookies and storage are the test's alone, as in
// a fresh incognito window, and go when the test ends.
func openBrowser(t *testing.T, chrome string) context.Context {
	t.Helper()
	shared, err := browser.start(chrome)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(shared, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("could not open a tab in %s: %v", chrome, err)
	}
	return ctx
}

// waitFor waits until the JavaScript expression is true on the page.
func waitFor(t *testing.T, ctx context.Context, expr, what string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({conn: document.querySelector('#conn')?.dataset.state,
				tiles: document.querySelectorAll('#tiles .tile').length, view: window.liveView,
				operator: document.querySelector('#operator')?.hidden === false ? document.querySelector('#operator').innerText : undefined})`))
			t.Fatalf("the page never showed %s (waited %s; last error %v); it shows %s", what, patience, err, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// repoRoot returns the directory of go.mod, above the test's own.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = up
	}
}

// freeAddr returns a loopback address nothing listens on, for servers
// that must come back on the same port.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is the smallest server that has lanes: workers that take every
// station's calls off one queue, as step 01's solution does, with the
// live view on a real port and its stations on an in-memory network.
type server struct {
	cfg    serverConfig
	ws     wsconn.Server
	b      *backend.Backend
	queue  chan job
	hub    *live.Hub
	web    *http.Server
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	stations map[string]*station.Station
	once     sync.Once
}

type job struct {
	conn *wsconn.Conn
	call *ocpp.Call
}

// serverConfig is what a test's server serves besides the live view.
type serverConfig struct {
	stations, workers int
	// operator, if set, serves the operator API beside the page, as make
	// serve does from step 07 on: with this store, which the backend
	// writes too, calling stations through this Call, behind
	// harness/guard, wanting token if it is set.
	operator *operatorConfig
	// node names the server as a node of a cluster, for the heading.
	node string
}

type operatorConfig struct {
	store store.Store
	call  func(ctx context.Context, station, action string, req, resp any) error
	token string
	// seen, if set, is told of every request to the port, as the guard
	// gets it.
	seen func(*http.Request)
}

// startServer serves the live view on addr, and starts n stations that
// boot, report a status (Charging for the even ones) and send Heartbeats
// until the server stops; workers answer them. The test's end stops it.
func startServer(t *testing.T, addr string, n, workers int) *server {
	t.Helper()
	return startServerWith(t, addr, serverConfig{stations: n, workers: workers})
}

// startServerWith is startServer, with the operator API if cfg has one.
func startServerWith(t *testing.T, addr string, cfg serverConfig) *server {
	t.Helper()
	n, workers := cfg.stations, cfg.workers
	s := &server{cfg: cfg, queue: make(chan job), stations: make(map[string]*station.Station)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	bopts := backend.Options{Latencies: backend.Latencies{Other: 40 * time.Millisecond}, NoRecords: true, Tracer: (*tracer)(s)}
	if cfg.operator != nil {
		bopts.Store = cfg.operator.store
	}
	s.b = backend.New(bopts)
	l := memnet.Listen()
	s.hub = live.New(live.Options{Step: "01", Title: "Browser test", Variant: "solution", Connected: s.connected, Backend: s.b,
		Operator: cfg.operator != nil, Node: cfg.node})
	s.ws.Handle = s.read
	for i := range workers {
		s.wg.Go(func() { s.work(fmt.Sprintf("worker-%d", i+1)) })
	}
	s.wg.Go(func() { s.ws.Serve(s.hub.Listener(l)) })

	hl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the server could not listen on %s again: %v", addr, err)
	}
	var page http.Handler = s.hub.Handler()
	if op := cfg.operator; op != nil {
		mux := http.NewServeMux()
		mux.Handle("/api/", api.New(api.Options{Store: op.store, Connected: s.isConnected, Call: op.call, Token: op.token,
			Logger: slog.New(slog.DiscardHandler)}))
		mux.Handle("GET /{$}", page)
		mux.Handle("GET /live/", page)
		page = guard.New(mux, guard.Options{Token: op.token})
		if op.seen != nil {
			guarded := page
			page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				op.seen(r)
				guarded.ServeHTTP(w, r)
			})
		}
	}
	s.web = &http.Server{Handler: page}
	s.wg.Go(func() { s.web.Serve(hl) })

	opts := station.Options{URL: "ws://live.test/ocpp", Dial: l.DialContext}
	for i := range n {
		id := fmt.Sprintf("CS%04d", i+1)
		st, err := station.Dial(s.ctx, id, opts)
		if err != nil {
			t.Fatalf("station %s could not connect: %v", id, err)
		}
		s.mu.Lock()
		s.stations[id] = st
		s.mu.Unlock()
		status := ocpp.StatusAvailable
		if (i+1)%2 == 0 {
			status = ocpp.StatusCharging
		}
		s.wg.Go(func() { s.talk(st, status) })
	}
	t.Cleanup(s.stop)
	return s
}

// talk is one station's life: boot, its status, then Heartbeats.
func (s *server) talk(st *station.Station, status ocpp.ChargePointStatus) {
	var boot ocpp.BootNotificationResponse
	if st.Call(s.ctx, ocpp.ActionBootNotification, &ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Browser"}, &boot) != nil {
		return
	}
	var ok ocpp.StatusNotificationResponse
	if st.Call(s.ctx, ocpp.ActionStatusNotification, &ocpp.StatusNotificationRequest{ConnectorId: 1, ErrorCode: ocpp.ChargePointNoError, Status: status}, &ok) != nil {
		return
	}
	for {
		var hb ocpp.HeartbeatResponse
		if st.Call(s.ctx, ocpp.ActionHeartbeat, &ocpp.HeartbeatRequest{}, &hb) != nil {
			return
		}
	}
}

func (s *server) read(conn *wsconn.Conn) {
	for {
		msg, err := conn.Read()
		if err != nil {
			return
		}
		if call, ok := msg.(*ocpp.Call); ok {
			select {
			case s.queue <- job{conn, call}:
			case <-s.ctx.Done():
				return
			}
		}
	}
}

func (s *server) work(name string) {
	ctx := backend.WithWorker(s.ctx, name)
	for {
		select {
		case j := <-s.queue:
			s.b.Handle(ctx, j.conn.Station(), j.call, j.conn.Send)
		case <-s.ctx.Done():
			return
		}
	}
}

// connected lists the stations whose simulator is still connected.
func (s *server) connected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, st := range s.stations {
		select {
		case <-st.Done():
		default:
			ids = append(ids, id)
		}
	}
	return ids
}

func (s *server) isConnected(id string) bool { return slices.Contains(s.connected(), id) }

// station returns the simulator of station id.
func (s *server) station(id string) *station.Station {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stations[id]
}

func (s *server) disconnect(t *testing.T, id string) {
	s.mu.Lock()
	st := s.stations[id]
	s.mu.Unlock()
	if err := st.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("closing %s: %v", id, err)
	}
}

// stop stops the server as a killed process would look to its pages: the
// port closes under them.
func (s *server) stop() {
	s.once.Do(func() {
		s.cancel()
		s.mu.Lock()
		for _, st := range s.stations {
			st.Close()
		}
		s.mu.Unlock()
		s.hub.Close()
		s.web.Close()
		s.ws.Close()
		s.wg.Wait()
	})
}

// tracer hands the backend's work to the hub, which is made after the
// backend.
type tracer server

func (t *tracer) WorkStarted(seq int, w backend.Work, at time.Time) { t.hub.WorkStarted(seq, w, at) }
func (t *tracer) WorkReplied(seq int)                               { t.hub.WorkReplied(seq) }
func (t *tracer) WorkEnded(seq int, w backend.Work, start, end time.Time, err error) {
	t.hub.WorkEnded(seq, w, start, end, err)
}

// TestScreenshotOfARunningServer photographs the live view of a server
// already running, for a person to look at, when LIVE_URL names it:
//
//	make serve STEP=1 &  make stations N=10 &
//	LIVE_URL=http://127.0.0.1:8080/ go test -run Running -v ./harness/live/browser
//
// It saves .kata/live-step01-starter.png (the step and the variant of the
// server's), after LIVE_WAIT (default 10s) of watching.
func TestScreenshotOfARunningServer(t *testing.T) {
	url := os.Getenv("LIVE_URL")
	if url == "" {
		t.Skip("LIVE_URL is not set: there is no running server to photograph")
	}
	wait := 10 * time.Second
	if s := os.Getenv("LIVE_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("LIVE_WAIT=%s: %v", s, err)
		}
		wait = d
	}
	ctx := openBrowser(t, findChrome(t))
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("the browser could not open %s: %v", url, err)
	}
	waitFor(t, ctx, `document.querySelector('#conn').dataset.state === 'live'`, "the page live")
	time.Sleep(wait)
	name := eval[string](t, ctx, `'live-step' + document.querySelector('#step')?.dataset.step + '-' + document.querySelector('#step')?.dataset.variant`)
	summary := eval[string](t, ctx, `JSON.stringify({tiles: document.querySelectorAll('#tiles .tile').length,
		lanes: window.liveView.lanes, bars: window.liveView.bars,
		calls: document.querySelector('#calls').textContent, p50: document.querySelector('#p50').textContent,
		p99: document.querySelector('#p99').textContent, inFlight: document.querySelector('#inflight').textContent,
		queue: document.querySelector('#queue').textContent, threads: document.querySelector('#threads').textContent,
		goroutines: document.querySelector('#goroutines').textContent, perf: window.liveView.perf})`)
	t.Logf("the page shows %s", summary)
	screenshot(t, ctx, filepath.Join(repoRoot(t), ".kata", name+".png"))
}
