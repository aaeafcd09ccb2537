package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// operator is the operator's side of a test's server: the requests the
// page sent to the API, and the Call the API calls stations through,
// which answers each action as the test says instead of a station.
type operator struct {
	mu       sync.Mutex
	requests []request
	answers  map[string]answer // by action
	calls    int               // made through Call
}

// request is one request of the page to the API, as it reached the port.
type request struct {
	method, path, contentType, authorization string
	body                                     string
}

// answer is what a station answers an action: a payload or a CALLERROR.
type answer struct {
	payload string
	err     error
}

func newOperator() *operator { return &operator{answers: make(map[string]answer)} }

// config returns the server's operator config, with token if it is set.
func (o *operator) config(token string) *operatorConfig {
	return &operatorConfig{store: &store.Memory{}, call: o.call, token: token, seen: o.seen}
}

func (o *operator) seen(r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, request{method: r.Method, path: r.URL.Path,
		contentType: r.Header.Get("Content-Type"), authorization: r.Header.Get("Authorization"), body: string(body)})
}

func (o *operator) call(ctx context.Context, station, action string, req, resp any) error {
	o.mu.Lock()
	a, ok := o.answers[action]
	o.calls++
	o.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("the test gave %s no answer to %s", station, action)
	case a.err != nil:
		return a.err
	}
	return json.Unmarshal([]byte(a.payload), resp)
}

func (o *operator) answer(action string, a answer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answers[action] = a
}

// callsMade returns how many calls the API made through Call.
func (o *operator) callsMade() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls
}

// posts returns the POSTs the page sent.
func (o *operator) posts() []request {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []request
	for _, r := range o.requests {
		if r.method == http.MethodPost {
			out = append(out, r)
		}
	}
	return out
}

// lastPost returns the last POST the page sent, which must be to path
// with a JSON body that means want.
func (o *operator) lastPost(t *testing.T, path, want string) request {
	t.Helper()
	posts := o.posts()
	if len(posts) == 0 {
		t.Fatalf("the page sent no POST, want one to %s", path)
	}
	r := posts[len(posts)-1]
	var got, wanted any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Errorf("the page's POST to %s has a body that is not JSON: %q", r.path, r.body)
	}
	if err := json.Unmarshal([]byte(want), &wanted); err != nil {
		t.Fatal(err)
	}
	if r.path != path || r.contentType != "application/json" || !reflect.DeepEqual(got, wanted) {
		t.Errorf("the page sent POST %s (Content-Type %q) %s; want POST %s (application/json) %s",
			r.path, r.contentType, r.body, path, want)
	}
	return r
}

// stationCall makes station st send a call, as a charger does by itself.
func stationCall(t *testing.T, st *station.Station, action string, req, resp any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := st.Call(ctx, action, req, resp); err != nil {
		t.Fatalf("%s's %s: %v", st.ID(), action, err)
	}
}

func status(connector int, s ocpp.ChargePointStatus) *ocpp.StatusNotificationRequest {
	return &ocpp.StatusNotificationRequest{ConnectorId: connector, ErrorCode: ocpp.ChargePointNoError, Status: s}
}

// run runs chromedp actions, failing the test on an error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// choose picks the call of the operator's panel with a click on its label.
func choose(t *testing.T, ctx context.Context, action string) {
	t.Helper()
	run(t, ctx, "choosing "+action, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#operator label:has(input[value=%q])`, action))))
}

const answerShown = `document.querySelector('#op-answer')`

func TestOperatorCallsFromThePage(t *testing.T) {
	chrome := findChrome(t)
	addr := freeAddr(t)
	op := newOperator()
	srv := startServerWith(t, addr, serverConfig{stations: 4, workers: 2, operator: op.config("")})
	ctx := openBrowser(t, chrome)
	run(t, ctx, "opening the page", chromedp.Navigate("http://"+addr+"/"))
	waitFor(t, ctx, `document.querySelectorAll('#tiles .tile[data-connected="true"]').length === 4 &&
		document.querySelector('#tiles .tile[data-id="CS0001"]').dataset.status === 'Available'`, "4 tiles, CS0001 Available")

	if !t.Run("a tile says how a firmware update and a diagnostics upload go", func(t *testing.T) {
		st := srv.station("CS0003")
		stationCall(t, st, ocpp.ActionFirmwareStatusNotification, &ocpp.FirmwareStatusNotificationRequest{Status: ocpp.FirmwareInstalling}, &ocpp.FirmwareStatusNotificationResponse{})
		stationCall(t, st, ocpp.ActionDiagnosticsStatusNotification, &ocpp.DiagnosticsStatusNotificationRequest{Status: ocpp.DiagnosticsUploaded}, &ocpp.DiagnosticsStatusNotificationResponse{})
		tile := `document.querySelector('#tiles .tile[data-id="CS0003"]')`
		waitFor(t, ctx, tile+`.dataset.firmware === 'Installing' && `+tile+`.dataset.diagnostics === 'Uploaded' && `+
			tile+`.querySelector('small').textContent === 'firmware Installing · diagnostics Uploaded' && `+
			tile+`.title === 'CS0003 · firmware Installing · diagnostics Uploaded'`,
			"CS0003's tile saying firmware Installing and diagnostics Uploaded")
		stationCall(t, st, ocpp.ActionFirmwareStatusNotification, &ocpp.FirmwareStatusNotificationRequest{Status: ocpp.FirmwareInstalled}, &ocpp.FirmwareStatusNotificationResponse{})
		waitFor(t, ctx, tile+`.dataset.firmware === 'Installed' && `+tile+`.querySelector('small').textContent === 'firmware Installed · diagnostics Uploaded'`,
			"CS0003's tile saying firmware Installed")
	}) {
		return
	}

	var txID int
	if !t.Run("a click picks a tile, and RemoteStart goes to its station", func(t *testing.T) {
		if role := eval[string](t, ctx, `document.querySelector('#tiles').getAttribute('role') || ''`); role != "listbox" {
			t.Errorf("the grid's role is %q, want listbox: the server can call stations, so its tiles can be picked", role)
		}
		run(t, ctx, "clicking CS0001", chromedp.Click(chromedp.CSS(`#tiles .tile[data-id="CS0001"]`)))
		waitFor(t, ctx, `!document.querySelector('#operator').hidden && document.querySelector('#op-station').textContent === 'CS0001' &&
			document.querySelector('#tiles .tile[data-id="CS0001"]').classList.contains('picked') &&
			document.querySelector('#op-state').textContent === 'Available'`, "the panel calling CS0001, Available")
		op.answer(ocpp.ActionRemoteStartTransaction, answer{payload: `{"status":"Accepted"}`})
		run(t, ctx, "filling in RemoteStart",
			chromedp.SetValue(chromedp.CSS(`#op-idtag`), "TAG-LIVE"),
			chromedp.SetValue(chromedp.CSS(`#op-start-connector`), "1"),
			chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'ok' && `+answerShown+`.textContent === 'CS0001 · RemoteStartTransaction → Accepted'`,
			"the station's answer, Accepted")
		op.lastPost(t, "/api/stations/CS0001/RemoteStartTransaction", `{"idTag":"TAG-LIVE","connectorId":1}`)

		// The station does what it was asked, as a charger does: its tile
		// and the panel follow its messages.
		st := srv.station("CS0001")
		stationCall(t, st, ocpp.ActionStatusNotification, status(1, ocpp.StatusPreparing), &ocpp.StatusNotificationResponse{})
		var started ocpp.StartTransactionResponse
		stationCall(t, st, ocpp.ActionStartTransaction, &ocpp.StartTransactionRequest{ConnectorId: 1, IdTag: "TAG-LIVE",
			Timestamp: ocpp.DateTime{Time: time.Now()}}, &started)
		txID = started.TransactionId
		stationCall(t, st, ocpp.ActionStatusNotification, status(1, ocpp.StatusCharging), &ocpp.StatusNotificationResponse{})
		waitFor(t, ctx, `document.querySelector('#tiles .tile[data-id="CS0001"]').dataset.status === 'Charging' &&
			document.querySelector('#op-state').textContent === 'Charging'`, "CS0001 Charging, in its tile and the panel")
	}) {
		return
	}

	if !t.Run("RemoteStop ends the running transaction, which the page looks up", func(t *testing.T) {
		op.answer(ocpp.ActionRemoteStopTransaction, answer{payload: `{"status":"Accepted"}`})
		choose(t, ctx, ocpp.ActionRemoteStopTransaction)
		waitFor(t, ctx, fmt.Sprintf(`document.querySelector('#op-tx').value === '%d' && document.querySelector('#op-tx-note').textContent === 'running now'`, txID),
			fmt.Sprintf("the transaction to stop, %d, filled in", txID))
		run(t, ctx, "sending RemoteStop", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.textContent === 'CS0001 · RemoteStopTransaction → Accepted'`, "the answer to RemoteStop")
		op.lastPost(t, "/api/stations/CS0001/RemoteStopTransaction", fmt.Sprintf(`{"transactionId":%d}`, txID))
	}) {
		return
	}

	if !t.Run("an error of the API shows its message", func(t *testing.T) {
		op.answer(ocpp.ActionReset, answer{err: ocpp.NewCallError("1", ocpp.InternalError, "the reset relay is stuck")})
		choose(t, ctx, ocpp.ActionReset)
		run(t, ctx, "sending a Hard Reset",
			chromedp.SetValue(chromedp.CSS(`#op-reset-type`), "Hard"),
			chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'error'`, "the Reset's error")
		want := `CS0001 · Reset → 502: station "CS0001" answered Reset with a CALLERROR: InternalError: the reset relay is stuck`
		if got := eval[string](t, ctx, answerShown+`.textContent`); got != want {
			t.Errorf("the page shows %q, want %q", got, want)
		}
		op.lastPost(t, "/api/stations/CS0001/Reset", `{"type":"Hard"}`)

		op.answer(ocpp.ActionUnlockConnector, answer{payload: `{"status":"UnlockFailed"}`})
		choose(t, ctx, ocpp.ActionUnlockConnector)
		run(t, ctx, "sending UnlockConnector", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'refused' && `+answerShown+`.textContent === 'CS0001 · UnlockConnector → UnlockFailed'`,
			"the station's refusal, UnlockFailed, told apart from an acceptance")
		op.lastPost(t, "/api/stations/CS0001/UnlockConnector", `{"connectorId":1}`)
	}) {
		return
	}

	t.Run("the keyboard picks a tile and sends ChangeAvailability", func(t *testing.T) {
		op.answer(ocpp.ActionChangeAvailability, answer{payload: `{"status":"Scheduled"}`})
		active := func(want, what string) {
			t.Helper()
			waitFor(t, ctx, want, what)
		}
		// The grid is one tab stop, the tile picked last; the arrows move
		// along it.
		run(t, ctx, "focusing the grid", chromedp.Focus(chromedp.CSS(`#tiles .tile[tabindex="0"]`)))
		active(`document.activeElement.dataset.id === 'CS0001'`, "CS0001's tile focused, the grid's tab stop")
		run(t, ctx, "moving right twice", chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowRight))
		active(`document.activeElement.dataset.id === 'CS0003'`, "CS0003's tile focused")
		run(t, ctx, "picking it", chromedp.KeyEvent(kb.Enter))
		active(`document.querySelector('#op-station').textContent === 'CS0003' &&
			document.activeElement.name === 'action' && document.activeElement.checked`, "CS0003 picked, the call chosen focused")
		if sent := eval[string](t, ctx, answerShown+`.textContent`); sent != "" {
			t.Errorf("the Enter that picked CS0003 also sent a call: the panel says %q", sent)
		}
		if got := eval[string](t, ctx, `document.querySelector('#op-state').textContent`); got != "Available · firmware Installed · diagnostics Uploaded" {
			t.Errorf("the panel says CS0003 is %q, want its status and its firmware's and diagnostics'", got)
		}
		run(t, ctx, "choosing availability", chromedp.KeyEvent(kb.ArrowRight))
		active(`document.activeElement.value === 'ChangeAvailability' && !document.querySelector('fieldset[data-for="ChangeAvailability"]').hidden`,
			"ChangeAvailability chosen, its fields shown")
		run(t, ctx, "going to the connector", chromedp.KeyEvent(kb.Tab))
		active(`document.activeElement.id === 'op-avail-connector'`, "the connector's field focused")
		run(t, ctx, "sending", chromedp.KeyEvent(kb.Enter))
		waitFor(t, ctx, answerShown+`.dataset.outcome === 'ok' && `+answerShown+`.textContent === 'CS0003 · ChangeAvailability → Scheduled'`,
			"the answer to ChangeAvailability")
		op.lastPost(t, "/api/stations/CS0003/ChangeAvailability", `{"connectorId":0,"type":"Inoperative"}`)
		screenshot(t, ctx, filepath.Join(repoRoot(t), ".kata", "live-view-operator.png"))
		run(t, ctx, "leaving the panel", chromedp.KeyEvent(kb.Escape))
		active(`document.querySelector('#operator').hidden && document.activeElement.dataset.id === 'CS0003' &&
			!document.querySelector('#tiles .tile.picked')`, "the panel closed, CS0003's tile focused again")
	})
}

func TestOperatorTokenAskedOnce(t *testing.T) {
	const token = "s3cret-operator-token"
	chrome := findChrome(t)
	addr := freeAddr(t)
	op := newOperator()
	op.answer(ocpp.ActionReset, answer{payload: `{"status":"Accepted"}`})
	startServerWith(t, addr, serverConfig{stations: 2, workers: 1, operator: op.config(token)})
	ctx := openBrowser(t, chrome)
	// As make serve's banner says: the page is opened once with the token,
	// which the guard turns into a cookie the page's script cannot read.
	run(t, ctx, "opening the page", chromedp.Navigate("http://"+addr+"/?token="+token))
	waitFor(t, ctx, `document.querySelectorAll('#tiles .tile[data-connected="true"]').length === 2`, "2 tiles")
	run(t, ctx, "picking CS0002 for a Reset", chromedp.Click(chromedp.CSS(`#tiles .tile[data-id="CS0002"]`)))
	choose(t, ctx, ocpp.ActionReset)
	dialogOpen := `document.querySelector('#token-dialog').open`

	t.Run("a page opened with the token calls unasked", func(t *testing.T) {
		run(t, ctx, "sending", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, answerShown+`.textContent === 'CS0002 · Reset → Accepted'`, "the station's answer")
		if eval[bool](t, ctx, dialogOpen) {
			t.Error("the page asks for the token it was opened with")
		}
		if p := op.lastPost(t, "/api/stations/CS0002/Reset", `{"type":"Soft"}`); p.authorization != "" {
			t.Errorf("the POST carries Authorization %q, want none: the guard's cookie carries the token", p.authorization)
		}
	})

	// Without the cookie (cleared, or from a server since restarted with
	// another token), the page asks.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatalf("forgetting the cookie: %v", err)
	}

	t.Run("a wrong token is turned down, and not kept", func(t *testing.T) {
		run(t, ctx, "sending", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, dialogOpen+` && document.activeElement.id === 'token-input' && document.querySelector('#token-why').textContent === ''`,
			"the page asking for the token, its field focused")
		run(t, ctx, "typing a wrong one", chromedp.SendKeys(chromedp.CSS(`#token-input`), "guess"+kb.Enter))
		waitFor(t, ctx, `!`+dialogOpen+` && `+answerShown+`.dataset.outcome === 'error' && `+answerShown+`.textContent.startsWith('CS0002 · Reset → 401: ')`,
			"the API's 401, shown")
		if kept := eval[bool](t, ctx, `sessionStorage.getItem('kata.operatorToken') !== null`); kept {
			t.Error("the page keeps a token the server turned down")
		}
		if p := op.lastPost(t, "/api/stations/CS0002/Reset", `{"type":"Soft"}`); p.authorization != "Bearer guess" {
			t.Errorf("the page's POST with the token typed carries Authorization %q, want %q", p.authorization, "Bearer guess")
		}
	})

	t.Run("the right one is asked for once and kept in the tab", func(t *testing.T) {
		run(t, ctx, "sending again", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, dialogOpen+` && document.querySelector('#token-why').textContent.includes('turned that token down')`,
			"the page asking again, saying the last token was turned down")
		run(t, ctx, "typing the right one", chromedp.SendKeys(chromedp.CSS(`#token-input`), token), chromedp.Click(chromedp.CSS(`#token-ok`)))
		waitFor(t, ctx, answerShown+`.textContent === 'CS0002 · Reset → Accepted'`, "the station's answer")
		if p := op.lastPost(t, "/api/stations/CS0002/Reset", `{"type":"Soft"}`); p.authorization != "Bearer "+token {
			t.Errorf("the POST that was answered carries Authorization %q, want the token", p.authorization)
		}
		before := len(op.posts())
		run(t, ctx, "sending once more", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, fmt.Sprintf(`window.liveView.calls === %d`, eval[int](t, ctx, `window.liveView.calls`)+1), "the answer")
		if n := len(op.posts()) - before; n != 1 || eval[bool](t, ctx, dialogOpen) {
			t.Errorf("a call with the token kept took %d POSTs (dialog open: %v), want 1 and no question", n, eval[bool](t, ctx, dialogOpen))
		}
		if p := op.lastPost(t, "/api/stations/CS0002/Reset", `{"type":"Soft"}`); p.authorization != "Bearer "+token {
			t.Errorf("the next POST carries Authorization %q, want the token kept", p.authorization)
		}
		if kept := eval[string](t, ctx, `sessionStorage.getItem('kata.operatorToken')`); kept != token {
			t.Errorf("sessionStorage holds %q, want the token", kept)
		}
		if url := eval[string](t, ctx, `location.href`); strings.Contains(url, token) {
			t.Errorf("the page's address %s holds the token", url)
		}
	})

	t.Run("a question declined sends nothing", func(t *testing.T) {
		eval[bool](t, ctx, `(sessionStorage.clear(), true)`) // as a new tab would have it
		before := op.callsMade()
		run(t, ctx, "sending", chromedp.Click(chromedp.CSS(`#op-send`)))
		waitFor(t, ctx, dialogOpen, "the page asking for the token")
		run(t, ctx, "declining", chromedp.KeyEvent(kb.Escape))
		waitFor(t, ctx, `!`+dialogOpen+` && `+answerShown+`.textContent === 'CS0002 · Reset → not sent: this server wants the operator token'`,
			"the page saying it sent nothing")
		if n := op.callsMade() - before; n != 0 {
			t.Errorf("the station was called %d times more, want none", n)
		}
	})
}
