package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	hardening "github.com/ocppkata/kata/solutions/09-hardening"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// The API in front of the final server (step 09's solution) and simulated
// stations on the in-memory network, in fake time:
//
//	CS0001  connected and booted: answers as a station does
//	CS0002  connected, never booted: step 09's Call waits for the boot,
//	        so the API answers 504 when its timeout ends, not 409
//	CS0003  connected and booted, answers Reset with a CALLERROR and
//	        SendLocalList with a status outside the schema
//	CS0042  known to the store, not connected: 409
//	CS0099  neither connected nor known: 404
func TestStep09(t *testing.T) {
	const start = "/api/stations/CS0001/RemoteStartTransaction"
	for _, rq := range []request{
		{name: "answered", method: "POST", target: start, body: `{"idTag":"OPERATOR1","connectorId":1}`,
			status: 200, compare: ocpp.RemoteStartTransactionResponse{Status: ocpp.RemoteStartStopAccepted}},
		{name: "wrong type", method: "POST", target: start, body: `{"idTag":"OPERATOR1","connectorId":"1"}`,
			status: 400, field: "connectorId"},
		{name: "configuration", method: "POST", target: "/api/stations/CS0001/GetConfiguration", status: 200,
			want: `"configurationKey"`},
		{name: "CALLERROR", method: "POST", target: "/api/stations/CS0003/Reset", body: `{"type":"Soft"}`,
			status: 502, want: `"code": "InternalError"`},
		{name: "an answer that breaks the schema", method: "POST", target: "/api/stations/CS0003/SendLocalList",
			body: `{"listVersion":1,"updateType":"Full"}`, status: 502, field: "status", want: `\"Done\" is not a valid UpdateStatus`},
		{name: "not connected", method: "POST", target: "/api/stations/CS0042/Reset", body: `{"type":"Soft"}`,
			status: 409},
		{name: "unknown station", method: "POST", target: "/api/stations/CS0099/Reset", body: `{"type":"Soft"}`,
			status: 404},
		{name: "not booted", method: "POST", target: "/api/stations/CS0002/Reset", body: `{"type":"Soft"}`,
			status: 504, want: "waiting for its BootNotification"},
	} {
		t.Run(rq.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := step09(t)
				begin := time.Now()
				rq.run(t, h)
				// Time is fake: the station answers at once, or the
				// API gives up when its default timeout ends.
				want := time.Duration(0)
				if rq.status == 504 {
					want = api.DefaultTimeout
				}
				if took := time.Since(begin); took != want {
					t.Errorf("the API answered after %s, want %s", took, want)
				}
			})
		})
	}
}

// step09 starts the final server with the stations above, and returns the
// API in front of it. Call it in a synctest bubble.
func step09(t *testing.T) http.Handler {
	t.Helper()
	srv := hardening.New(hardening.Config{Backend: backend.New(backend.Options{}), Workers: 2})
	l := kit.Serve(t, srv)
	kit.Boot(t, l, 1)
	idle := kit.Dial(t, l, 2)
	t.Cleanup(func() { idle.Close() })
	opts := kit.Stations(l)
	opts.Answer = func(call *ocpp.Call) station.Reply {
		switch call.Action {
		case ocpp.ActionReset:
			return station.Reply{Payload: ocpp.NewCallError(call.ID, ocpp.InternalError, "relay stuck")}
		case ocpp.ActionSendLocalList:
			return station.Reply{Payload: map[string]string{"status": "Done"}}
		}
		return station.DefaultAnswer(call)
	}
	refusing, err := station.Dial(t.Context(), "CS0003", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { refusing.Close() })
	boot := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
	if err := refusing.Call(t.Context(), ocpp.ActionBootNotification, boot, nil); err != nil {
		t.Fatalf("BootNotification from CS0003: %v", err)
	}

	// The backend does not write to this store: it knows only the
	// station that left.
	st := &store.Memory{}
	if err := st.Boot(t.Context(), "CS0042", boot, time.Now()); err != nil {
		t.Fatal(err)
	}
	// kit.Dial returns once the handshake is done on CS0002's side; the
	// server may not have taken CS0002 in yet. Wait until it has, or "not
	// booted" could find no CS0002 at all (a 404 instead of the 504).
	synctest.Wait()
	return api.New(api.Options{
		Store:        st,
		Call:         srv.Call,
		NotConnected: func(err error) bool { return errors.Is(err, hardening.ErrNotConnected) },
		Logger:       discard,
	})
}

// Every action GET /api lists, with its example body, through the API and
// the final server to a simulated Charger (stations/station), which acts
// on it as a charger does: each is answered, with what the schema allows,
// and what the store keeps of the answers is there to read. On the
// in-memory network in fake time.
func TestEveryActionReachesACharger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &store.Memory{}
		srv := hardening.New(hardening.Config{Backend: backend.New(backend.Options{Store: st}), Workers: 2})
		l := kit.Serve(t, srv)
		ch, err := station.StartCharger(t.Context(), "CS0001", station.ChargerOptions{Options: kit.Stations(l), Connectors: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ch.Close() })
		<-ch.Booted()
		synctest.Wait()
		h := api.New(api.Options{Store: st, Call: srv.Call, Logger: discard,
			NotConnected: func(err error) bool { return errors.Is(err, hardening.ErrNotConnected) }})

		var index api.Index
		if err := json.Unmarshal(request{target: "/api", status: 200}.run(t, h).Body.Bytes(), &index); err != nil {
			t.Fatal(err)
		}
		if len(index.Actions) != 19 {
			t.Fatalf("GET /api lists %d actions, want OCPP 1.6's 19 calls to a station", len(index.Actions))
		}
		for _, ac := range index.Actions {
			if ac.Action == ocpp.ActionReset || ac.Action == ocpp.ActionUpdateFirmware {
				continue // they reboot the charger: last, below
			}
			// (No t.Run in a bubble: the target names the action.)
			request{method: "POST", target: "/api/stations/CS0001/" + ac.Action, body: string(ac.Example), status: 200}.run(t, h)
			synctest.Wait()
		}
		for _, action := range []string{ocpp.ActionUpdateFirmware, ocpp.ActionReset} {
			for _, ac := range index.Actions {
				if ac.Action == action {
					request{method: "POST", target: "/api/stations/CS0001/" + action, body: string(ac.Example), status: 200}.run(t, h)
				}
			}
			time.Sleep(time.Minute) // the reboot
			synctest.Wait()
		}
		// What the store kept of the Accepted answers.
		request{target: "/api/stations/CS0001/local-list", status: 200, want: `"version": 1`}.run(t, h)
		if err := ch.Err(); err != nil {
			t.Errorf("the charger stopped: %v", err)
		}
		for _, c := range ch.Calls() {
			if c.Err != nil {
				t.Errorf("the charger's %s (id %s) failed: %v", c.Action, c.ID, c.Err)
			}
		}
	})
}
