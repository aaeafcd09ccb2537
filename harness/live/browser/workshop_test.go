package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	hardening "github.com/ocppkata/kata/solutions/09-hardening"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/guard"
	"github.com/ocppkata/kata/harness/live"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// TestWorkshopInABrowser is what a workshop does with the live page
// (issue 22): on the final server (step 09's solution) with simulated
// chargers, it starts a charging session from a tile, watches it charge,
// stops it and resets the station, which goes away and boots again. Nothing
// answers in the chargers' place: the page's calls go through the operator
// API to the server's Call, and the chargers act on them.
func TestWorkshopInABrowser(t *testing.T) {
	chrome := findChrome(t)
	addr := freeAddr(t)
	srv := startFinalServer(t, addr, 3)
	const id = "CS0002" // not the first tile: a call that goes to the wrong station shows
	// Meter values every second, so that the session is seen charging in
	// seconds (a charger's default is DefaultMeterValueSampleInterval).
	for _, ch := range srv.chargers {
		// StartCharger returns once connected, and the server may not have
		// taken the connection in yet: a call now may find no station.
		srv.waitUntil(t, ch.ID()+" booted", func() bool { return boots(ch) >= 1 })
		srv.post(t, ch.ID(), ocpp.ActionChangeConfiguration,
			fmt.Sprintf(`{"key":%q,"value":"1"}`, station.KeyMeterValueSampleInterval), ocpp.ConfigurationAccepted)
	}

	ctx := openBrowser(t, chrome)
	run(t, ctx, "opening the page", chromedp.Navigate("http://"+addr+"/"))
	tile := fmt.Sprintf(`document.querySelector('#tiles .tile[data-id=%q]')`, id)
	// others lists the tiles that must not change, whatever is done to id's.
	others := `[...document.querySelectorAll('#tiles .tile')].filter((t) => t.dataset.id !== '` + id + `')
		.every((t) => t.dataset.connected === 'true' && t.dataset.status === 'Available')`
	waitFor(t, ctx, `document.querySelectorAll('#tiles .tile[data-connected="true"][data-status="Available"]').length === 3`,
		"3 tiles, connected and Available")

	var txID int
	if !t.Run("RemoteStart from a tile starts a session that charges", func(t *testing.T) {
		run(t, ctx, "picking "+id, chromedp.Click(chromedp.CSS(`#tiles .tile[data-id="`+id+`"]`)))
		waitFor(t, ctx, `!document.querySelector('#operator').hidden && document.querySelector('#op-station').textContent === '`+id+`'`,
			"the panel calling "+id)
		run(t, ctx, "sending RemoteStart",
			chromedp.SetValue(chromedp.CSS(`#op-idtag`), "WORKSHOP-1"),
			chromedp.SetValue(chromedp.CSS(`#op-start-connector`), "1"),
			chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'ok' && `+answerShown+`.textContent === '`+id+` · RemoteStartTransaction → Accepted'`,
			"the charger's answer, Accepted")
		waitFor(t, ctx, tile+`.dataset.status === 'Charging' && document.querySelector('#op-state').textContent === 'Charging'`,
			id+" Charging, in its tile and the panel")
		txs := srv.transactions(t, id)
		if len(txs) != 1 || txs[0].Stop != nil || txs[0].IdTag != "WORKSHOP-1" || txs[0].ConnectorID != 1 {
			t.Fatalf("GET /api/transactions?station=%s: %+v, want one running, of WORKSHOP-1 on connector 1", id, txs)
		}
		txID = txs[0].ID

		// Watch it charge: the tile and the panel say the session's
		// energy, which rises with each meter reading, and its power.
		meterShown := `/^\d+\.\d{3} kWh · \d+\.\d kW$/`
		waitFor(t, ctx, `Number(`+tile+`.dataset.kwh) > 0`, id+"'s energy on its tile")
		first := eval[float64](t, ctx, `Number(`+tile+`.dataset.kwh)`)
		waitFor(t, ctx, fmt.Sprintf(`Number(%s.dataset.kwh) > %v && %s.test(%s.querySelector('small').textContent)
			&& %s.test(document.querySelector('#op-meter').textContent) && %s.title.includes(' kWh · ')`,
			tile, first, meterShown, tile, meterShown, tile),
			fmt.Sprintf("%s's energy rising from %v kWh, with its power, on its tile, in the panel and on hover", id, first))

		// The numbers move: the charger's meter values arrive, each a bar
		// in the lanes, and the calls per second count them. They are the
		// only calls now (the heartbeats are minutes apart), but for the
		// Charging status's processing, which may add a bar after this.
		bars := eval[int](t, ctx, `window.liveView.bars`)
		waitFor(t, ctx, fmt.Sprintf(`window.liveView.bars >= %d && Number(document.querySelector('#calls').dataset.value) > 0`, bars+3),
			"the meter values' bars in the lanes, and calls per second")
		srv.waitUntil(t, "two meter readings of the transaction stored", func() bool {
			return len(srv.meterValues(t, txID)) >= 4 // two measurands a reading
		})
		if !eval[bool](t, ctx, tile+`.dataset.status === 'Charging' && `+others) {
			t.Errorf("the tiles changed while %s charged: %s", id, eval[string](t, ctx, tilesNow))
		}
		screenshot(t, ctx, filepath.Join(repoRoot(t), ".kata", "live-view-workshop-charging.png"))
	}) {
		return
	}

	if !t.Run("RemoteStop of the session the page found ends it", func(t *testing.T) {
		choose(t, ctx, ocpp.ActionRemoteStopTransaction)
		waitFor(t, ctx, fmt.Sprintf(`document.querySelector('#op-tx').value === '%d' && document.querySelector('#op-tx-note').textContent === 'running now'`, txID),
			fmt.Sprintf("the transaction to stop, %d, filled in", txID))
		run(t, ctx, "sending RemoteStop", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'ok' && `+answerShown+`.textContent === '`+id+` · RemoteStopTransaction → Accepted'`,
			"the charger's answer, Accepted")
		waitFor(t, ctx, tile+`.dataset.status === 'Available' && document.querySelector('#op-state').textContent === 'Available'`,
			id+" Available again")
		waitFor(t, ctx, tile+`.dataset.kwh === undefined && `+tile+`.querySelector('small').textContent === '' && document.querySelector('#op-meter').textContent === ''`,
			id+"'s energy gone with its transaction")
		srv.waitUntil(t, "the transaction stopped, in the store", func() bool {
			txs := srv.transactions(t, id)
			return len(txs) == 1 && txs[0].Stop != nil
		})
		tx := srv.transactions(t, id)[0]
		if tx.ID != txID || tx.Reason != ocpp.ReasonRemote || tx.MeterStop == nil || *tx.MeterStop <= tx.MeterStart {
			t.Errorf("GET /api/transactions?station=%s: %+v, want transaction %d stopped for reason Remote, with energy", id, tx, txID)
		}
		if !eval[bool](t, ctx, others) {
			t.Errorf("another tile changed: %s", eval[string](t, ctx, tilesNow))
		}
	}) {
		return
	}

	t.Run("Reset: the station goes away and boots again", func(t *testing.T) {
		choose(t, ctx, ocpp.ActionReset)
		run(t, ctx, "sending a Soft Reset", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'ok' && `+answerShown+`.textContent === '`+id+` · Reset → Accepted'`,
			"the charger's answer, Accepted")
		// The charger stays off the network until the page has shown it
		// gone: a reboot faster than a frame would otherwise go unseen.
		waitFor(t, ctx, tile+`.dataset.connected === 'false' && `+tile+`.classList.contains('offline') && document.querySelector('#op-state').textContent === 'gone'`,
			id+" gone, in its tile and the panel")
		screenshot(t, ctx, filepath.Join(repoRoot(t), ".kata", "live-view-workshop-rebooting.png"))
		srv.gates[id].open()
		waitFor(t, ctx, tile+`.dataset.connected === 'true' && `+tile+`.dataset.status === 'Available' && document.querySelector('#op-state').textContent === 'Available'`,
			id+" back, Available")
		// A room sees that it rebooted: the tile says so for a few
		// seconds, and the panel when; the other tiles, which booted
		// once, do not.
		waitFor(t, ctx, tile+`.dataset.booted === 'true' && `+tile+`.querySelector('small').textContent === 'rebooted'
			&& /^booted again at \d\d:\d\d:\d\d$/.test(document.querySelector('#op-booted').textContent)`,
			id+" marked rebooted, on its tile and in the panel")
		ch := srv.charger(id)
		srv.waitUntil(t, id+" booted twice", func() bool { return boots(ch) == 2 })
		// Booted, the station takes the server's calls again.
		srv.post(t, id, ocpp.ActionChangeConfiguration, `{"key":"HeartbeatInterval","value":"300"}`, ocpp.ConfigurationAccepted)
		if !eval[bool](t, ctx, others) {
			t.Errorf("another tile changed: %s", eval[string](t, ctx, tilesNow))
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#tiles .tile[data-booted]').length`); n != 1 {
			t.Errorf("%d tiles marked rebooted, want 1, %s's", n, id)
		}
		screenshot(t, ctx, filepath.Join(repoRoot(t), ".kata", "live-view-workshop-reset.png"))
	})

	for _, ch := range srv.chargers {
		for _, c := range ch.Calls() {
			if c.Err != nil {
				t.Errorf("%s's %s %s: %v", ch.ID(), c.Action, c.ID, c.Err)
			}
		}
		if err := ch.Err(); err != nil {
			t.Errorf("%s stopped: %v", ch.ID(), err)
		}
	}
}

// tilesNow is what the tiles say, for a failure's message.
const tilesNow = `JSON.stringify([...document.querySelectorAll('#tiles .tile')].map((t) => [t.dataset.id, t.dataset.connected, t.dataset.status]))`

func boots(ch *station.Charger) int {
	n := 0
	for _, c := range ch.Calls() {
		if c.Action == ocpp.ActionBootNotification {
			n++
		}
	}
	return n
}

// finalServer is the final server (step 09's solution) wired as make serve
// wires it: portmux in front, the live view watching the stations'
// connections, the operator API calling them through the server's Call,
// behind harness/guard. The stations connect on an in-memory network,
// through the mux; the page and the API are on a real port.
type finalServer struct {
	base     string // http://addr
	store    *store.Memory
	chargers []*station.Charger
	gates    map[string]*gate // by station id
}

// startFinalServer serves the final server's page and API on addr, and
// starts n chargers, CS0001 on, each behind a gate that holds its second
// connection, after a reset, until the test opens it. The test's end stops
// them all.
func startFinalServer(t *testing.T, addr string, n int) *finalServer {
	t.Helper()
	fs := &finalServer{base: "http://" + addr, store: &store.Memory{}, gates: make(map[string]*gate)}
	quiet := slog.New(slog.DiscardHandler)
	// make serve's latencies, at a twentieth: the page sees every kind of
	// work, and the test does not wait for it.
	trace := &hubTracer{}
	b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies().Scaled(0.05), NoRecords: true,
		Store: fs.store, Tracer: trace, Logger: quiet})
	srv := hardening.New(hardening.Config{Backend: b, Workers: 2, Logger: quiet,
		Batch: hardening.BatchConfig{Interval: 50 * time.Millisecond}}) // a meter value's answer waits for its batch
	l := memnet.Listen()
	mux := portmux.New(l, portmux.Options{Logger: quiet})
	view := live.New(live.Options{Step: "09", Title: "Hardening the edge", Variant: "solution",
		Connected: mux.Connected, Server: srv, Backend: b, Operator: true})
	trace.Hub = view // before anything calls the backend

	h := http.NewServeMux()
	h.Handle("/api/", api.New(api.Options{Store: fs.store, Connected: mux.IsConnected, Call: srv.Call,
		NotConnected: func(err error) bool { return errors.Is(err, hardening.ErrNotConnected) },
		Registration: func(id string) string { return string(b.Registration(id)) },
		Step:         "09", Logger: quiet}))
	h.Handle("GET /{$}", view.Handler())
	h.Handle("GET /live/", view.Handler())
	web := &http.Server{Handler: guard.New(h, guard.Options{Logger: quiet})}
	hl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(view.Listener(mux.Stations())) })
	wg.Go(func() { mux.Serve() })
	wg.Go(func() { web.Serve(hl) })
	t.Cleanup(func() {
		for _, ch := range fs.chargers {
			ch.Close()
		}
		srv.Close()
		view.Close()
		web.Close()
		mux.Close()
		wg.Wait()
	})

	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for i := range n {
		id := fmt.Sprintf("CS%04d", i+1)
		g := &gate{dial: l.DialContext, again: make(chan struct{})}
		ch, err := station.StartCharger(ctx, id, station.ChargerOptions{
			Options:     station.Options{URL: "ws://live.test/ocpp", Dial: g.DialContext},
			RebootDelay: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("charger %s: %v", id, err)
		}
		fs.chargers = append(fs.chargers, ch)
		fs.gates[id] = g
	}
	return fs
}

// hubTracer hands the backend's work to the live view, which is made after
// the backend.
type hubTracer struct{ *live.Hub }

func (fs *finalServer) charger(id string) *station.Charger {
	i := slices.IndexFunc(fs.chargers, func(ch *station.Charger) bool { return ch.ID() == id })
	return fs.chargers[i]
}

// gate is a charger's network: its first connection goes through at once,
// the later ones once the test opens the gate. A dial held longer than the
// station's handshake timeout (15 s) fails, and the charger, which does not
// reconnect, stops: the test then fails waiting for it to come back.
type gate struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	again chan struct{} // closed by open
	once  sync.Once

	mu    sync.Mutex
	dials int
}

func (g *gate) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	g.dials++
	first := g.dials == 1
	g.mu.Unlock()
	if !first {
		select {
		case <-g.again:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.dial(ctx, network, addr)
}

func (g *gate) open() { g.once.Do(func() { close(g.again) }) }

// post calls a station through the operator API, as the page does, and
// wants the station's answer to have status want.
func (fs *finalServer) post(t *testing.T, id, action, body, want string) {
	t.Helper()
	var answer struct{ Status string }
	code := fs.do(t, http.MethodPost, "/api/stations/"+id+"/"+action, body, &answer)
	if code != http.StatusOK || answer.Status != want {
		t.Fatalf("POST /api/stations/%s/%s %s: %d %+v, want 200 and status %s", id, action, body, code, answer, want)
	}
}

func (fs *finalServer) transactions(t *testing.T, id string) []api.Transaction {
	t.Helper()
	var txs []api.Transaction
	if code := fs.do(t, http.MethodGet, "/api/transactions?station="+id, "", &txs); code != http.StatusOK {
		t.Fatalf("GET /api/transactions?station=%s: %d", id, code)
	}
	return txs
}

func (fs *finalServer) meterValues(t *testing.T, tx int) []api.Sample {
	t.Helper()
	var samples []api.Sample
	if code := fs.do(t, http.MethodGet, fmt.Sprintf("/api/transactions/%d/meter-values", tx), "", &samples); code != http.StatusOK {
		t.Fatalf("GET /api/transactions/%d/meter-values: %d", tx, code)
	}
	return samples
}

// do sends a request to the API and decodes a 200's JSON into out.
func (fs *finalServer) do(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, fs.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	} else {
		t.Logf("%s %s: %s %s", method, path, resp.Status, data)
	}
	return resp.StatusCode
}

// waitUntil waits until cond holds, as waitFor does on the page.
func (fs *finalServer) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never %s (waited %s)", what, patience)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
