package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ocppkata/kata/harness/api"
	"github.com/ocppkata/kata/harness/guard"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// The API is tested through its handler with httptest: reads against a
// store.Memory filled by the test, calls against a fake Call that answers
// as each station id says. Time is fake (synctest) wherever a call waits.

var (
	// A time with an offset: the API must write it in UTC.
	paris = time.FixedZone("Paris", 2*60*60)
	t0    = time.Date(2026, 12, 1, 10, 0, 0, 0, paris)
)

// fill returns a store that knows two stations: CS0001 (booted, two
// connectors, transaction 1 stopped with two samples, transaction 2 open)
// and CS0002 (booted, transaction 3 open).
func fill(t *testing.T) *store.Memory {
	t.Helper()
	ctx := t.Context()
	m := &store.Memory{}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.Boot(ctx, "CS0001", ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Fast", FirmwareVersion: "1.2"}, t0))
	must(m.Boot(ctx, "CS0002", ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Slow"}, t0))
	for _, c := range []int{0, 1} {
		must(m.Statuses(ctx, []store.StatusUpdate{{Station: "CS0001", Request: ocpp.StatusNotificationRequest{
			ConnectorId: c, Status: ocpp.ChargePointStatus("Available"), ErrorCode: ocpp.ChargePointErrorCode("NoError"),
		}, At: t0.Add(time.Minute)}}))
	}
	start := func(station string, meter int) int {
		id, err := m.StartTransaction(ctx, station, ocpp.StartTransactionRequest{
			ConnectorId: 1, IdTag: "TAG1", MeterStart: meter, Timestamp: ocpp.DateTime{Time: t0.Add(2 * time.Minute)},
		})
		must(err)
		return id
	}
	must(m.FirmwareReport(ctx, "CS0001", store.FirmwareReport{Firmware: ocpp.FirmwareInstalled, At: t0.Add(5 * time.Minute)}))
	must(m.SendLocalList(ctx, "CS0001", ocpp.SendLocalListRequest{ListVersion: 4, UpdateType: ocpp.UpdateFull,
		LocalAuthorizationList: []ocpp.AuthorizationData{{IdTag: "TAG1", IdTagInfo: &ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}}}}, t0.Add(6*time.Minute)))
	// Expires in 2100: in force whenever the test runs.
	must(m.Reserve(ctx, "CS0001", ocpp.ReserveNowRequest{ConnectorId: 1, IdTag: "TAG2", ReservationId: 5,
		ExpiryDate: ocpp.DateTime{Time: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}}, t0.Add(7*time.Minute)))
	must(m.SetChargingProfile(ctx, "CS0001", ocpp.SetChargingProfileRequest{ConnectorId: 0, CsChargingProfiles: maxProfile}, t0.Add(8*time.Minute)))
	tx1 := start("CS0001", 100)
	start("CS0001", 200)
	start("CS0002", 300)
	sample := func(min int, v string) ocpp.MeterValue {
		return ocpp.MeterValue{Timestamp: ocpp.DateTime{Time: t0.Add(time.Duration(min) * time.Minute)},
			SampledValue: []ocpp.SampledValue{{Value: v, Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: ocpp.UnitWh}}}
	}
	must(m.MeterValues(ctx, []store.Reading{{Station: "CS0001", Request: ocpp.MeterValuesRequest{
		ConnectorId: 1, TransactionId: &tx1, MeterValue: []ocpp.MeterValue{sample(3, "150")}}}}))
	_, err := m.StopTransaction(ctx, "CS0001", ocpp.StopTransactionRequest{
		TransactionId: tx1, MeterStop: 180, Timestamp: ocpp.DateTime{Time: t0.Add(4 * time.Minute)},
		Reason: ocpp.ReasonLocal, TransactionData: []ocpp.MeterValue{sample(4, "180")}})
	must(err)
	return m
}

// maxProfile is CS0001's charging profile in fill.
var maxProfile = ocpp.ChargingProfile{ChargingProfileId: 1, ChargingProfilePurpose: ocpp.PurposeChargePointMax,
	ChargingProfileKind: ocpp.KindRelative, ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: ocpp.ChargingRateW,
		ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{StartPeriod: 0, Limit: 22000}}}}

// broken is a store whose reads fail.
type broken struct{ store.Store }

var errDisk = errors.New("disk I/O error")

func (broken) Stations(context.Context) ([]store.Station, error) { return nil, errDisk }
func (broken) Station(context.Context, string) (store.Station, error) {
	return store.Station{}, errDisk
}
func (broken) Transactions(context.Context, string) ([]store.Transaction, error) {
	return nil, errDisk
}
func (broken) TransactionMeterValues(context.Context, int) ([]store.Sample, error) {
	return nil, errDisk
}
func (broken) LocalList(context.Context, string) (store.LocalList, error) {
	return store.LocalList{}, errDisk
}
func (broken) Reservations(context.Context, string, time.Time) ([]store.Reservation, error) {
	return nil, errDisk
}
func (broken) ChargingProfiles(context.Context, string) ([]store.ChargingProfile, error) {
	return nil, errDisk
}

// refusing is a store whose writes of what stations accepted fail.
type refusing struct{ *store.Memory }

func (refusing) SendLocalList(context.Context, string, ocpp.SendLocalListRequest, time.Time) error {
	return errDisk
}
func (refusing) Reserve(context.Context, string, ocpp.ReserveNowRequest, time.Time) error {
	return errDisk
}
func (refusing) EndReservation(context.Context, string, int) (bool, error) { return false, errDisk }
func (refusing) SetChargingProfile(context.Context, string, ocpp.SetChargingProfileRequest, time.Time) error {
	return errDisk
}
func (refusing) ClearChargingProfile(context.Context, string, ocpp.ClearChargingProfileRequest) (int, error) {
	return 0, errDisk
}

// zoned is a store that gives its times in Paris's zone, as a store on
// disk may give them in the server's local zone: the API must write them
// in UTC.
type zoned struct{ store.Store }

func (z zoned) station(st store.Station) store.Station {
	st.LastSeen = st.LastSeen.In(paris)
	for i := range st.Connectors {
		st.Connectors[i].Updated = st.Connectors[i].Updated.In(paris)
	}
	return st
}

func (z zoned) Stations(ctx context.Context) ([]store.Station, error) {
	sts, err := z.Store.Stations(ctx)
	for i := range sts {
		sts[i] = z.station(sts[i])
	}
	return sts, err
}

func (z zoned) Station(ctx context.Context, id string) (store.Station, error) {
	st, err := z.Store.Station(ctx, id)
	return z.station(st), err
}

func (z zoned) Transactions(ctx context.Context, station string) ([]store.Transaction, error) {
	txs, err := z.Store.Transactions(ctx, station)
	for i := range txs {
		txs[i].Start = txs[i].Start.In(paris)
		if txs[i].Stop != nil {
			txs[i].Stop = ptr(txs[i].Stop.In(paris))
		}
	}
	return txs, err
}

func (z zoned) LocalList(ctx context.Context, station string) (store.LocalList, error) {
	list, err := z.Store.LocalList(ctx, station)
	list.Updated = list.Updated.In(paris)
	return list, err
}

func (z zoned) Reservations(ctx context.Context, station string, at time.Time) ([]store.Reservation, error) {
	rs, err := z.Store.Reservations(ctx, station, at)
	for i := range rs {
		rs[i].Expiry, rs[i].Made = rs[i].Expiry.In(paris), rs[i].Made.In(paris)
	}
	return rs, err
}

func (z zoned) ChargingProfiles(ctx context.Context, station string) ([]store.ChargingProfile, error) {
	ps, err := z.Store.ChargingProfiles(ctx, station)
	for i := range ps {
		ps[i].Set = ps[i].Set.In(paris)
	}
	return ps, err
}

func (z zoned) TransactionMeterValues(ctx context.Context, id int) ([]store.Sample, error) {
	samples, err := z.Store.TransactionMeterValues(ctx, id)
	for i := range samples {
		samples[i].Timestamp = samples[i].Timestamp.In(paris)
	}
	return samples, err
}

// discard is a logger for tests that do not read the logs.
var discard = slog.New(slog.DiscardHandler)

// request is one request to the handler and what must come back.
type request struct {
	name    string
	method  string
	target  string
	body    string
	auth    string // the Authorization header, if any
	cookie  string // the operator cookie (guard.CookieName), if any
	status  int
	want    string // a substring of the body
	field   string // the error's "field", for a 400
	allow   string // the Allow header, for a 405
	compare any    // if set, the body decoded into a value of this type must equal it
}

// run sends rq to h and checks the answer: its status, that it is JSON,
// that an error has a message, and what rq asks for besides.
func (rq request) run(t *testing.T, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	method := rq.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequestWithContext(t.Context(), method, rq.target, strings.NewReader(rq.body))
	if rq.auth != "" {
		r.Header.Set("Authorization", rq.auth)
	}
	if rq.cookie != "" {
		r.AddCookie(&http.Cookie{Name: guard.CookieName, Value: rq.cookie})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body := w.Body.String()
	if w.Code != rq.status {
		t.Fatalf("%s %s answered %d, want %d; body:\n%s", method, rq.target, w.Code, rq.status, body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type is %q, want application/json", ct)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("the body is not JSON:\n%s", body)
	}
	if w.Code >= 400 {
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Errorf(`an error's body must be {"error": "..."}, got:\n%s`, body)
		}
		if rq.field != "" && e.Field != rq.field {
			t.Errorf("the error names field %q, want %q; body:\n%s", e.Field, rq.field, body)
		}
	}
	if rq.want != "" && !strings.Contains(body, rq.want) {
		t.Errorf("the body does not say %q:\n%s", rq.want, body)
	}
	if rq.allow != "" {
		if got := w.Header().Get("Allow"); got != rq.allow {
			t.Errorf("Allow is %q, want %q", got, rq.allow)
		}
	}
	if rq.compare != nil {
		got := reflect.New(reflect.TypeOf(rq.compare))
		if err := json.Unmarshal(w.Body.Bytes(), got.Interface()); err != nil {
			t.Fatalf("decoding the body as %T: %v\n%s", rq.compare, err, body)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), rq.compare) {
			t.Errorf("the body decodes to\n%+v\nwant\n%+v\nbody:\n%s", got.Elem().Interface(), rq.compare, body)
		}
	}
	return w
}

func ptr[T any](v T) *T { return &v }

func TestReads(t *testing.T) {
	h := api.New(api.Options{Store: zoned{fill(t)}, Connected: func(id string) bool { return id == "CS0001" }, Logger: discard})

	utc := func(d time.Duration) *time.Time { return ptr(t0.Add(d).UTC()) }
	cs1 := api.Station{
		ID: "CS0001", Connected: true, LastSeen: utc(0), Vendor: "Kata", Model: "Fast", FirmwareVersion: "1.2",
		Connectors: []api.Connector{
			{ID: 0, Status: "Available", ErrorCode: "NoError", Updated: utc(time.Minute)},
			{ID: 1, Status: "Available", ErrorCode: "NoError", Updated: utc(time.Minute)},
		},
		OpenTransactions: []int{2},
		Firmware:         &api.Report{Status: "Installed", At: utc(5 * time.Minute)},
	}
	cs2 := api.Station{ID: "CS0002", LastSeen: utc(0), Vendor: "Kata", Model: "Slow",
		Connectors: []api.Connector{}, OpenTransactions: []int{3}}
	tx := func(id int, station string, meter int) api.Transaction {
		return api.Transaction{ID: id, Station: station, ConnectorID: 1, IdTag: "TAG1", MeterStart: meter, Start: utc(2 * time.Minute)}
	}
	tx1 := tx(1, "CS0001", 100)
	tx1.MeterStop, tx1.Stop, tx1.Reason = ptr(180), utc(4*time.Minute), "Local"

	for _, rq := range []request{
		{name: "stations", target: "/api/stations", status: 200, compare: []api.Station{cs1, cs2}},
		{name: "times in UTC", target: "/api/stations/CS0001", status: 200, want: `"lastSeen": "2026-12-01T08:00:00Z"`},
		{name: "transaction times in UTC", target: "/api/transactions?station=CS0002", status: 200, want: `"start": "2026-12-01T08:02:00Z"`},
		{name: "sample times in UTC", target: "/api/transactions/1/meter-values", status: 200, want: `"timestamp": "2026-12-01T08:03:00Z"`},
		{name: "station", target: "/api/stations/CS0002", status: 200, compare: cs2},
		{name: "local list", target: "/api/stations/CS0001/local-list", status: 200, compare: api.LocalList{Version: 4, Updated: utc(6 * time.Minute),
			Entries: []api.LocalListEntry{{IdTag: "TAG1", IdTagInfo: ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}}}}},
		{name: "local list time in UTC", target: "/api/stations/CS0001/local-list", status: 200, want: `"updated": "2026-12-01T08:06:00Z"`},
		{name: "no local list", target: "/api/stations/CS0002/local-list", status: 200, compare: api.LocalList{Entries: []api.LocalListEntry{}}},
		{name: "reservations", target: "/api/stations/CS0001/reservations", status: 200, compare: []api.Reservation{{ID: 5, ConnectorID: 1,
			IdTag: "TAG2", ExpiryDate: ptr(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)), Made: utc(7 * time.Minute)}}},
		{name: "reservation times in UTC", target: "/api/stations/CS0001/reservations", status: 200, want: `"made": "2026-12-01T08:07:00Z"`},
		{name: "no reservations", target: "/api/stations/CS0002/reservations", status: 200, compare: []api.Reservation{}},
		{name: "charging profiles", target: "/api/stations/CS0001/charging-profiles", status: 200, compare: []api.ChargingProfile{{ConnectorID: 0,
			Set: utc(8 * time.Minute), ChargingProfile: maxProfile}}},
		{name: "charging profiles as sent", target: "/api/stations/CS0001/charging-profiles", status: 200,
			want: `"chargingProfilePurpose": "ChargePointMaxProfile"`},
		{name: "no charging profiles", target: "/api/stations/CS0002/charging-profiles", status: 200, compare: []api.ChargingProfile{}},
		{name: "local list of an unknown station", target: "/api/stations/CS0099/local-list", status: 404, want: `no station \"CS0099\"`},
		{name: "reservations of an unknown station", target: "/api/stations/CS0099/reservations", status: 404},
		{name: "charging profiles of an unknown station", target: "/api/stations/CS0099/charging-profiles", status: 404},
		{name: "POST a local list", method: http.MethodPost, target: "/api/stations/CS0001/local-list", status: 405, allow: "GET, HEAD"},
		{name: "unknown station", target: "/api/stations/CS0099", status: 404, want: `no station \"CS0099\"`},
		{name: "transactions", target: "/api/transactions", status: 200,
			compare: []api.Transaction{tx1, tx(2, "CS0001", 200), tx(3, "CS0002", 300)}},
		{name: "a station's transactions", target: "/api/transactions?station=CS0002", status: 200,
			compare: []api.Transaction{tx(3, "CS0002", 300)}},
		{name: "an open transaction has null stop", target: "/api/transactions?station=CS0002", status: 200,
			want: `"stop": null`},
		{name: "no transactions is an empty list", target: "/api/transactions?station=CS0099", status: 200,
			compare: []api.Transaction{}},
		{name: "meter values", target: "/api/transactions/1/meter-values", status: 200, compare: []api.Sample{
			{Timestamp: utc(3 * time.Minute), Value: "150", Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: "Wh"},
			{Timestamp: utc(4 * time.Minute), Value: "180", Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: "Wh"},
		}},
		{name: "no meter values", target: "/api/transactions/3/meter-values", status: 200, compare: []api.Sample{}},
		{name: "unknown transaction", target: "/api/transactions/99/meter-values", status: 404, want: "no transaction 99"},
		{name: "transaction id not an integer", target: "/api/transactions/one/meter-values", status: 400, want: "not an integer"},
		{name: "HEAD", method: http.MethodHead, target: "/api/stations", status: 200},
		{name: "unknown path", target: "/api/chargers", status: 404, want: "no such endpoint: /api/chargers; GET /api lists"},
		{name: "index", target: "/api", status: 200, want: `"request": "GET /api/transactions[?station=ID]"`},
		{name: "POST on the index", method: http.MethodPost, target: "/api", status: 405, allow: "GET, HEAD"},
		{name: "outside /api", target: "/", status: 404},
		{name: "POST on a read", method: http.MethodPost, target: "/api/stations", status: 405, allow: "GET, HEAD"},
		{name: "DELETE a station", method: http.MethodDelete, target: "/api/stations/CS0001", status: 405, allow: "GET, HEAD"},
		{name: "PUT meter values", method: http.MethodPut, target: "/api/transactions/1/meter-values", status: 405, allow: "GET, HEAD"},
		{name: "GET a call", target: "/api/stations/CS0001/Reset", status: 405, allow: "POST", want: "use POST"},
	} {
		t.Run(rq.name, func(t *testing.T) { rq.run(t, h) })
	}
}

// nodes is a cluster as a test sets it: the node of each connected station.
type nodes map[string]string

func (n nodes) Holders(context.Context) map[string]string       { return maps.Clone(n) }
func (n nodes) Holder(_ context.Context, station string) string { return n[station] }

// With Options.Cluster, the station reads say whether a station is
// connected to any node, and name it: Connected, this node's alone, is not
// asked. Without it, a connected station has no node.
func TestClusterView(t *testing.T) {
	here := func(id string) bool { return id == "CS0002" }
	cluster := api.New(api.Options{Store: fill(t), Connected: here, Cluster: nodes{"CS0001": "node-b"}, Logger: discard})
	alone := api.New(api.Options{Store: fill(t), Connected: here, Logger: discard})
	for _, tt := range []struct {
		name   string
		h      http.Handler
		target string
		want   map[string]string // connected and node of each station listed; "" node: no field
	}{
		{"listing", cluster, "/api/stations", map[string]string{"CS0001": "true node-b", "CS0002": "false "}},
		{"one station", cluster, "/api/stations/CS0001", map[string]string{"CS0001": "true node-b"}},
		{"another node's station", cluster, "/api/stations/CS0002", map[string]string{"CS0002": "false "}},
		{"listing without a cluster", alone, "/api/stations", map[string]string{"CS0001": "false ", "CS0002": "true "}},
		{"one station without a cluster", alone, "/api/stations/CS0002", map[string]string{"CS0002": "true "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := request{target: tt.target, status: 200}.run(t, tt.h)
			var list []map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
				var one map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil {
					t.Fatal(err)
				}
				list = append(list, one)
			}
			got := make(map[string]string)
			for _, st := range list {
				node, has := st["node"].(string)
				if has && node == "" {
					t.Errorf(`%s has "node": "", want the field left out`, st["id"])
				}
				got[st["id"].(string)] = fmt.Sprint(st["connected"], " ", node)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("connected and node: %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStoreFails(t *testing.T) {
	logs := &strings.Builder{}
	h := api.New(api.Options{Store: broken{fill(t)}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for _, target := range []string{"/api/stations", "/api/stations/CS0001", "/api/transactions", "/api/transactions/1/meter-values",
		"/api/stations/CS0001/local-list", "/api/stations/CS0001/reservations", "/api/stations/CS0001/charging-profiles"} {
		t.Run(target, func(t *testing.T) {
			request{target: target, status: 500, want: "disk I/O error"}.run(t, h)
		})
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("the store's failures are not in the log:\n%s", logs)
	}
}

func TestToken(t *testing.T) {
	h := api.New(api.Options{Store: fill(t), Token: "s3cret", Logger: discard})
	for _, rq := range []request{
		{name: "no token", target: "/api/stations", status: 401, want: "Authorization: Bearer"},
		{name: "wrong token", target: "/api/stations", auth: "Bearer s3cre", status: 401},
		{name: "longer token", target: "/api/stations", auth: "Bearer s3cret!", status: 401},
		{name: "Basic", target: "/api/stations", auth: "Basic czNjcmV0", status: 401},
		{name: "bare token", target: "/api/stations", auth: "s3cret", status: 401},
		{name: "unknown path, no token", target: "/api/chargers", status: 401},
		{name: "POST, no token", method: http.MethodPost, target: "/api/stations/CS0001/Reset", status: 401},
		{name: "token", target: "/api/stations", auth: "Bearer s3cret", status: 200},
		{name: "scheme in any case", target: "/api/stations", auth: "bearer s3cret", status: 200},
		// The live page's calls: the page was opened once with ?token=,
		// and the guard keeps the token in a cookie the page cannot read.
		{name: "the page's cookie", target: "/api/stations", cookie: "s3cret", status: 200},
		{name: "a wrong cookie", target: "/api/stations", cookie: "s3cre", status: 401},
		{name: "a wrong header beats a good cookie", target: "/api/stations", auth: "Bearer s3cre", cookie: "s3cret", status: 401},
	} {
		t.Run(rq.name, func(t *testing.T) {
			w := rq.run(t, h)
			if got := w.Header().Get("WWW-Authenticate"); (w.Code == 401) != strings.HasPrefix(got, "Bearer") {
				t.Errorf("status %d with WWW-Authenticate %q: a 401 must have one that asks for Bearer, and only a 401", w.Code, got)
			}
		})
	}
}

// The fake Call's errors, as a step's Call returns them: wrapped.
var errNotConnected = errors.New("station not connected")

// fakeCall answers by station id:
//
//	CS0001  answers {"status":"Accepted"}, or for GetConfiguration one key,
//	        for UnlockConnector {"status":"Unlocked"}
//	CS0002  known to the store but not connected: errNotConnected
//	CS0003  CALLERROR NotSupported, with details
//	CS0004  hangs up before answering
//	CS0005  never answers: the context's error
//	CS0006  answers {"status":"Done"}, which breaks every schema with a
//	        status, and is decoded without a check, as a learner's Call
//	        may do: the API must check it
//	CS0007  the same, checked as the steps' Call does: a FrameError
//	CS0008  answers every call that changes what a station holds with a
//	        status other than Accepted
//	other   errNotConnected
//
// It records the request and the deadline it was given.
type fakeCall struct {
	req      any
	deadline time.Duration // from the call's start
}

func (f *fakeCall) Call(ctx context.Context, station, action string, req, resp any) error {
	f.req = req
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	fail := func(err error) error { return fmt.Errorf("%s to %s: %w", action, station, err) }
	switch station {
	case "CS0001":
		answer := `{"status":"Accepted"}`
		switch action {
		case ocpp.ActionGetConfiguration:
			answer = `{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"300"}]}`
		case ocpp.ActionUnlockConnector:
			answer = `{"status":"Unlocked"}`
		}
		return json.Unmarshal([]byte(answer), resp)
	case "CS0003":
		return fail(&ocpp.CallError{ID: "1", Code: ocpp.NotSupported, Description: "not on this model",
			Details: json.RawMessage(`{"hint":"firmware 2"}`)})
	case "CS0004":
		return fail(errors.New("station disconnected before answering"))
	case "CS0005":
		<-ctx.Done()
		return fail(ctx.Err())
	case "CS0006":
		return json.Unmarshal([]byte(`{"status":"Done"}`), resp)
	case "CS0008":
		status := map[string]string{
			ocpp.ActionSendLocalList: "VersionMismatch", ocpp.ActionReserveNow: "Occupied",
			ocpp.ActionCancelReservation: "Rejected", ocpp.ActionSetChargingProfile: "NotSupported",
			ocpp.ActionClearChargingProfile: "Unknown",
		}[action]
		return json.Unmarshal([]byte(`{"status":"`+status+`"}`), resp)
	case "CS0007":
		answer := &ocpp.CallResult{ID: "1", Payload: json.RawMessage(`{"status":"Done"}`)}
		if err := answer.UnmarshalPayload(resp); err != nil {
			return fail(fmt.Errorf("the answer breaks the schema: %w", err))
		}
		return nil
	}
	return fail(errNotConnected)
}

func calling(t *testing.T, f *fakeCall) http.Handler { return callingWith(t, f, fill(t)) }

// callingWith is calling with the store st.
func callingWith(t *testing.T, f *fakeCall, st store.Store) http.Handler {
	return api.New(api.Options{
		Store:        st,
		Connected:    func(id string) bool { return id != "CS0002" && id != "CS0099" },
		Call:         f.Call,
		NotConnected: func(err error) bool { return errors.Is(err, errNotConnected) },
		Logger:       discard,
	})
}

func TestCalls(t *testing.T) {
	const start = "/api/stations/CS0001/RemoteStartTransaction"
	for _, rq := range []request{
		{name: "answered", method: "POST", target: start, body: `{"idTag":"OPERATOR1","connectorId":1}`,
			status: 200, compare: ocpp.RemoteStartTransactionResponse{Status: "Accepted"}},
		{name: "empty body is {}", method: "POST", target: "/api/stations/CS0001/ClearCache",
			status: 200, compare: ocpp.ClearCacheResponse{Status: "Accepted"}},
		{name: "answer with a list", method: "POST", target: "/api/stations/CS0001/GetConfiguration", body: `{}`,
			status: 200, want: `"key": "HeartbeatInterval"`},

		{name: "wrong type", method: "POST", target: start, body: `{"idTag":"OPERATOR1","connectorId":"one"}`,
			status: 400, field: "connectorId", want: "is not an integer"},
		{name: "missing field", method: "POST", target: start, body: `{"connectorId":1}`,
			status: 400, field: "idTag", want: "required field is missing"},
		{name: "too long", method: "POST", target: start, body: `{"idTag":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}`,
			status: 400, field: "idTag", want: "at most 20"},
		{name: "out of range", method: "POST", target: start, body: `{"idTag":"T","connectorId":0}`,
			status: 400, field: "connectorId"},
		{name: "not in the enumeration", method: "POST", target: "/api/stations/CS0001/Reset", body: `{"type":"Warm"}`,
			status: 400, field: "type", want: "ResetType"},
		{name: "unknown field", method: "POST", target: start, body: `{"idTag":"T","connectorID":1}`,
			status: 400, field: "connectorID", want: "connectorId, idTag, chargingProfile"},
		{name: "unknown field in an object", method: "POST", target: "/api/stations/CS0001/SetChargingProfile",
			body: `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",` +
				`"chargingProfileKind":"Relative","chargingSchedule":{"chargingRateunit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}}`,
			status: 400, field: "csChargingProfiles.chargingSchedule.chargingRateunit",
			want: `not part of csChargingProfiles.chargingSchedule of a SetChargingProfile request here: it has the fields duration, startSchedule, chargingRateUnit`},
		{name: "unknown field in a list", method: "POST", target: "/api/stations/CS0001/SendLocalList",
			body:   `{"listVersion":2,"updateType":"Differential","localAuthorizationList":[{"idTag":"A"},{"idTag":"B","idTagInfo":{"status":"Accepted","expiry":"2030-01-01T00:00:00Z"}}]}`,
			status: 400, field: "localAuthorizationList[1].idTagInfo.expiry", want: "status, expiryDate, parentIdTag"},
		{name: "nested field out of range", method: "POST", target: "/api/stations/CS0001/SetChargingProfile",
			body: `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",` +
				`"chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16,"numberPhases":4}]}}}`,
			status: 400, field: "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].numberPhases", want: "want 1 to 3"},
		{name: "nested object of the wrong type", method: "POST", target: "/api/stations/CS0001/SetChargingProfile",
			body: `{"connectorId":1,"csChargingProfiles":"TxDefaultProfile"}`, status: 400, field: "csChargingProfiles"},
		{name: "a dateTime", method: "POST", target: "/api/stations/CS0001/UpdateFirmware",
			body: `{"location":"https://example.com/fw.bin","retrieveDate":"soon"}`, status: 400, field: "retrieveDate", want: "ISO 8601"},
		{name: "no object", method: "POST", target: start, body: `["OPERATOR1"]`,
			status: 400, want: `{\"idTag\":\"OPERATOR1\",\"connectorId\":1}`},
		{name: "not JSON", method: "POST", target: start, body: `idTag=OPERATOR1`, status: 400},
		{name: "bad timeout", method: "POST", target: start + "?timeout=soon", body: `{"idTag":"T"}`,
			status: 400, want: "45s"},
		{name: "timeout too long", method: "POST", target: start + "?timeout=10m", body: `{"idTag":"T"}`,
			status: 400, want: `at most 5m"`},
		{name: "zero timeout", method: "POST", target: start + "?timeout=0", body: `{"idTag":"T"}`, status: 400},
		{name: "body too big", method: "POST", target: start,
			body: `{"idTag":"` + strings.Repeat("x", api.MaxBodySize) + `"}`, status: 413},

		{name: "unknown action", method: "POST", target: "/api/stations/CS0001/Launch", status: 404,
			want: "RemoteStartTransaction, RemoteStopTransaction, ReserveNow"},
		{name: "action in the wrong case", method: "POST", target: "/api/stations/CS0001/reset", status: 404,
			want: "did you mean Reset?"},
		{name: "a station's own action", method: "POST", target: "/api/stations/CS0001/BootNotification", status: 404},
		{name: "unknown station", method: "POST", target: "/api/stations/CS0099/Reset", body: `{"type":"Soft"}`,
			status: 404, want: `no station \"CS0099\"`},
		{name: "not connected", method: "POST", target: "/api/stations/CS0002/Reset", body: `{"type":"Soft"}`,
			status: 409, want: "must be connected and booted"},
		{name: "CALLERROR", method: "POST", target: "/api/stations/CS0003/Reset", body: `{"type":"Soft"}`,
			status: 502, want: `"details": {`},
		{name: "hung up", method: "POST", target: "/api/stations/CS0004/Reset", body: `{"type":"Soft"}`,
			status: 502, want: "disconnected before answering"},
		{name: "answer breaks the schema", method: "POST", target: "/api/stations/CS0006/Reset", body: `{"type":"Soft"}`,
			status: 502, field: "status", want: `answered Reset with a payload that breaks the OCPP 1.6 schema`},
		{name: "answer breaks the schema, as Call found", method: "POST", target: "/api/stations/CS0007/SendLocalList",
			body: `{"listVersion":1,"updateType":"Full"}`, status: 502, field: "status", want: `"code": "PropertyConstraintViolation"`},
		{name: "no answer", method: "POST", target: "/api/stations/CS0005/Reset", body: `{"type":"Soft"}`,
			status: 504, want: "within 30s"},
		{name: "no answer, shorter timeout", method: "POST", target: "/api/stations/CS0005/Reset?timeout=2s", body: `{"type":"Soft"}`,
			status: 504, want: "within 2s"},
	} {
		t.Run(rq.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { rq.run(t, calling(t, &fakeCall{})) })
		})
	}
}

func TestCallError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := request{method: "POST", target: "/api/stations/CS0003/Reset", body: `{"type":"Soft"}`, status: 502}.
			run(t, calling(t, &fakeCall{}))
		var got struct{ Code, Description string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Code != "NotSupported" || got.Description != "not on this model" {
			t.Errorf("code %q and description %q, want the CALLERROR's NotSupported and \"not on this model\"", got.Code, got.Description)
		}
	})
}

// Call gets the request decoded into the action's type, and a deadline:
// ?timeout=, or the default.
func TestCallGetsRequestAndDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		query    string
		dflt     time.Duration
		deadline time.Duration
	}{
		{"default", "", 0, api.DefaultTimeout},
		{"configured default", "", 10 * time.Second, 10 * time.Second},
		{"default above the maximum", "", time.Hour, api.MaxTimeout},
		{"timeout", "?timeout=2m", 0, 2 * time.Minute},
		{"timeout in seconds", "?timeout=90", 0, 90 * time.Second},
		{"the maximum", "?timeout=5m", 0, api.MaxTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeCall{}
				h := api.New(api.Options{Store: fill(t), Call: f.Call, DefaultTimeout: tc.dflt, Logger: discard})
				request{method: "POST", target: "/api/stations/CS0001/RemoteStartTransaction" + tc.query,
					body: `{"idTag":"OPERATOR1","connectorId":2}`, status: 200}.run(t, h)
				want := &ocpp.RemoteStartTransactionRequest{IdTag: "OPERATOR1", ConnectorId: ptr(2)}
				if !reflect.DeepEqual(f.req, want) {
					t.Errorf("Call got request %#v, want %#v", f.req, want)
				}
				if f.deadline != tc.deadline {
					t.Errorf("Call's context had %s to go, want %s", f.deadline, tc.deadline)
				}
			})
		})
	}
}

// GET /api lists every call a central system makes in OCPP 1.6, each with
// its profile and an example that the API takes as it is.
func TestIndex(t *testing.T) {
	h := calling(t, &fakeCall{})
	var index api.Index
	for _, target := range []string{"/api", "/api/"} {
		w := request{target: target, status: 200}.run(t, h)
		if err := json.Unmarshal(w.Body.Bytes(), &index); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{
		ocpp.ActionChangeAvailability: "Core", ocpp.ActionChangeConfiguration: "Core", ocpp.ActionClearCache: "Core",
		ocpp.ActionDataTransfer: "Core", ocpp.ActionGetConfiguration: "Core", ocpp.ActionRemoteStartTransaction: "Core",
		ocpp.ActionRemoteStopTransaction: "Core", ocpp.ActionReset: "Core", ocpp.ActionUnlockConnector: "Core",
		ocpp.ActionTriggerMessage: "Remote Trigger",
		ocpp.ActionGetDiagnostics: "Firmware Management", ocpp.ActionUpdateFirmware: "Firmware Management",
		ocpp.ActionGetLocalListVersion: "Local Auth List Management", ocpp.ActionSendLocalList: "Local Auth List Management",
		ocpp.ActionReserveNow: "Reservation", ocpp.ActionCancelReservation: "Reservation",
		ocpp.ActionSetChargingProfile: "Smart Charging", ocpp.ActionClearChargingProfile: "Smart Charging",
		ocpp.ActionGetCompositeSchedule: "Smart Charging",
	}
	got := map[string]string{}
	for i, ac := range index.Actions {
		got[ac.Action] = ac.Profile
		if i > 0 && index.Actions[i-1].Action >= ac.Action {
			t.Errorf("GET /api lists %s after %s: the actions are in alphabetical order", ac.Action, index.Actions[i-1].Action)
		}
		t.Run(ac.Action, func(t *testing.T) {
			f := &fakeCall{}
			request{method: "POST", target: "/api/stations/CS0001/" + ac.Action, body: string(ac.Example), status: 200}.run(t, calling(t, f))
			if want, _ := ocpp.RequestToStationFor(ac.Action); reflect.TypeOf(f.req) != reflect.TypeOf(want) {
				t.Errorf("Call got a %T, want a %T", f.req, want)
			}
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /api lists the actions and profiles\n%v\nwant\n%v", got, want)
	}
	if len(index.Endpoints) == 0 {
		t.Error("GET /api lists no endpoints")
	}
}

// Every action the issue names can be called, with its payload.
func TestEveryAction(t *testing.T) {
	for action, body := range map[string]string{
		ocpp.ActionChangeAvailability:     `{"connectorId":0,"type":"Inoperative"}`,
		ocpp.ActionChangeConfiguration:    `{"key":"HeartbeatInterval","value":"60"}`,
		ocpp.ActionClearCache:             `{}`,
		ocpp.ActionDataTransfer:           `{"vendorId":"com.example","messageId":"m","data":"x"}`,
		ocpp.ActionGetConfiguration:       `{"key":["HeartbeatInterval"]}`,
		ocpp.ActionRemoteStartTransaction: `{"idTag":"OPERATOR1"}`,
		ocpp.ActionRemoteStopTransaction:  `{"transactionId":2}`,
		ocpp.ActionReset:                  `{"type":"Hard"}`,
		ocpp.ActionTriggerMessage:         `{"requestedMessage":"Heartbeat"}`,
		ocpp.ActionUnlockConnector:        `{"connectorId":1}`,
		ocpp.ActionGetDiagnostics: `{"location":"ftp://example.com/up/","retries":2,"retryInterval":30,` +
			`"startTime":"2026-12-01T00:00:00Z","stopTime":"2026-12-01T10:00:00+02:00"}`,
		ocpp.ActionUpdateFirmware:      `{"location":"https://example.com/fw.bin","retrieveDate":"2026-12-01T12:00:00Z","retries":1}`,
		ocpp.ActionGetLocalListVersion: `{}`,
		ocpp.ActionSendLocalList: `{"listVersion":4,"updateType":"Differential","localAuthorizationList":` +
			`[{"idTag":"A","idTagInfo":{"status":"Blocked","expiryDate":"2027-01-01T00:00:00Z","parentIdTag":"P"}},{"idTag":"B"}]}`,
		ocpp.ActionReserveNow:        `{"connectorId":0,"expiryDate":"2026-12-01T12:00:00Z","idTag":"T","parentIdTag":"P","reservationId":7}`,
		ocpp.ActionCancelReservation: `{"reservationId":7}`,
		ocpp.ActionSetChargingProfile: `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":3,"stackLevel":1,` +
			`"chargingProfilePurpose":"ChargePointMaxProfile","chargingProfileKind":"Recurring","recurrencyKind":"Daily",` +
			`"validFrom":"2026-12-01T00:00:00Z","chargingSchedule":{"duration":86400,"startSchedule":"2026-12-01T00:00:00Z",` +
			`"chargingRateUnit":"W","minChargingRate":1400.5,"chargingSchedulePeriod":[{"startPeriod":0,"limit":11000},{"startPeriod":28800,"limit":7400,"numberPhases":1}]}}}`,
		ocpp.ActionClearChargingProfile: `{"id":3,"connectorId":0,"chargingProfilePurpose":"ChargePointMaxProfile","stackLevel":1}`,
		ocpp.ActionGetCompositeSchedule: `{"connectorId":0,"duration":86400,"chargingRateUnit":"W"}`,
	} {
		t.Run(action, func(t *testing.T) {
			f := &fakeCall{}
			request{method: "POST", target: "/api/stations/CS0001/" + action, body: body, status: 200}.run(t, calling(t, f))
			if want, _ := ocpp.RequestToStationFor(action); reflect.TypeOf(f.req) != reflect.TypeOf(want) {
				t.Errorf("Call got a %T, want a %T", f.req, want)
			}
		})
	}
}

func TestNoCall(t *testing.T) {
	h := api.New(api.Options{Store: fill(t), Step: "05", Logger: discard})
	request{method: "POST", target: "/api/stations/CS0001/Reset", body: `{"type":"Soft"}`, status: 501,
		want: "step 05 has no Call: the server calls stations from step 07 on"}.run(t, h)
	// The reads work all the same.
	request{target: "/api/stations", status: 200}.run(t, h)
}

// Without NotConnected, a step's not-connected error is just a failed call.
func TestNoClassifier(t *testing.T) {
	f := &fakeCall{}
	h := api.New(api.Options{Store: fill(t), Call: f.Call, Logger: discard})
	request{method: "POST", target: "/api/stations/CS0002/Reset", body: `{"type":"Soft"}`, status: 502,
		want: "station not connected"}.run(t, h)
}

// An operator who leaves before the station answers gets nothing, and the
// call ends with their request.
func TestOperatorLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeCall{}
		h := calling(t, f)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		r := httptest.NewRequestWithContext(ctx, "POST", "/api/stations/CS0005/Reset", strings.NewReader(`{"type":"Soft"}`))
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		if took := time.Since(start); took != time.Second {
			t.Errorf("the call ended %s after the request, want 1s, when the operator left", took)
		}
		if w.Body.Len() != 0 {
			t.Errorf("wrote %q to an operator who left", w.Body)
		}
	})
}

func TestNewWithoutStore(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without a Store did not panic")
		}
	}()
	api.New(api.Options{})
}

// A station that was not Accepted at its BootNotification is not called:
// OCPP 1.6 §4.2 forbids remote start and stop to a Pending one, anything to
// a Rejected one.
func TestNotAccepted(t *testing.T) {
	f := &fakeCall{}
	reg := map[string]string{"CS0003": "Pending", "CS0002": "Rejected", "CS0001": "Accepted"}
	h := api.New(api.Options{Store: fill(t), Call: f.Call, Logger: discard,
		Registration: func(id string) string { return reg[id] }})
	tests := []request{
		{method: "POST", target: "/api/stations/CS0003/RemoteStartTransaction", body: `{"idTag":"OPERATOR1"}`, status: 409,
			want: "is Pending: RemoteStartTransaction is not allowed until it is Accepted"},
		{method: "POST", target: "/api/stations/CS0003/GetConfiguration", body: `{}`, status: 409,
			want: "is Pending: this server calls a station once its BootNotification was Accepted"},
		{method: "POST", target: "/api/stations/CS0002/Reset", body: `{"type":"Soft"}`, status: 409,
			want: "was Rejected at its BootNotification: the central system sends it nothing"},
		{method: "POST", target: "/api/stations/CS0001/Reset", body: `{"type":"Soft"}`, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) { tt.run(t, h) })
	}
}

// The README's table of the API lists what GET /api does: every endpoint,
// and in the POST's row every action, under its profile.
func TestREADMEListsTheAPI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // by request
	for line := range strings.Lines(string(b)) {
		if req, rest, ok := strings.Cut(strings.TrimPrefix(line, "| `"), "` | "); ok && strings.HasPrefix(line, "| `") {
			rows[req] = rest
		}
	}
	w := request{target: "/api", status: 200}.run(t, calling(t, &fakeCall{}))
	var index api.Index
	if err := json.Unmarshal(w.Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	for _, e := range index.Endpoints {
		if _, ok := rows[e.Request]; !ok {
			t.Errorf("the README's table of the API has no row for %s", e.Request)
		}
	}
	post := rows["POST /api/stations/{id}/{Action}[?timeout=30s]"]
	for _, ac := range index.Actions {
		i := strings.Index(post, ac.Profile+":")
		if i < 0 || !strings.Contains(strings.SplitN(post[i:], ";", 2)[0], " "+ac.Action) {
			t.Errorf("the README's row of POST does not list %s under %s", ac.Action, ac.Profile)
		}
	}
}

// What a station Accepted is stored, and read back: its local list,
// reservations, charging profiles; what it did not accept is not. In fake
// time, so that a reservation expires on cue.
func TestAcceptedIsStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := fill(t)
		if err := m.Boot(t.Context(), "CS0008", ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Picky"}, time.Now()); err != nil {
			t.Fatal(err)
		}
		h := callingWith(t, &fakeCall{}, m)
		now := time.Now().UTC()
		at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
		post := func(station, action, body string) {
			t.Helper()
			request{method: "POST", target: "/api/stations/" + station + "/" + action, body: body, status: 200}.run(t, h)
		}
		get := func(station, what string, want any) {
			t.Helper()
			request{target: "/api/stations/" + station + "/" + what, status: 200, compare: want}.run(t, h)
		}
		accepted := ocpp.IdTagInfo{Status: ocpp.AuthorizationAccepted}
		blocked := ocpp.IdTagInfo{Status: ocpp.AuthorizationBlocked, ExpiryDate: &ocpp.DateTime{Time: now.Add(time.Hour)}, ParentIdTag: "P"}

		// Local list: Full replaces the list fill gave, Differential
		// changes it entry by entry.
		post("CS0001", ocpp.ActionSendLocalList, `{"listVersion":5,"updateType":"Full","localAuthorizationList":[`+
			`{"idTag":"A","idTagInfo":{"status":"Accepted"}},{"idTag":"B","idTagInfo":{"status":"Accepted"}}]}`)
		time.Sleep(time.Minute)
		post("CS0001", ocpp.ActionSendLocalList, `{"listVersion":6,"updateType":"Differential","localAuthorizationList":[`+
			`{"idTag":"A"},{"idTag":"C","idTagInfo":{"status":"Blocked","expiryDate":"`+at(time.Hour)+`","parentIdTag":"P"}}]}`)
		get("CS0001", "local-list", api.LocalList{Version: 6, Updated: ptr(now.Add(time.Minute)),
			Entries: []api.LocalListEntry{{IdTag: "B", IdTagInfo: accepted}, {IdTag: "C", IdTagInfo: blocked}}})

		// Reservations: made, cancelled, expired.
		post("CS0001", ocpp.ActionReserveNow, `{"connectorId":1,"expiryDate":"`+at(time.Hour)+`","idTag":"A","reservationId":1}`)
		post("CS0001", ocpp.ActionReserveNow, `{"connectorId":2,"expiryDate":"`+at(3*time.Hour)+`","idTag":"B","parentIdTag":"P","reservationId":2}`)
		post("CS0001", ocpp.ActionReserveNow, `{"connectorId":0,"expiryDate":"`+at(3*time.Hour)+`","idTag":"C","reservationId":3}`)
		post("CS0001", ocpp.ActionCancelReservation, `{"reservationId":3}`)
		r1 := api.Reservation{ID: 1, ConnectorID: 1, IdTag: "A", ExpiryDate: ptr(now.Add(time.Hour)), Made: ptr(now.Add(time.Minute))}
		r2 := api.Reservation{ID: 2, ConnectorID: 2, IdTag: "B", ParentIdTag: "P", ExpiryDate: ptr(now.Add(3 * time.Hour)), Made: ptr(now.Add(time.Minute))}
		r5 := api.Reservation{ID: 5, ConnectorID: 1, IdTag: "TAG2", ExpiryDate: ptr(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)), Made: ptr(t0.Add(7 * time.Minute).UTC())}
		get("CS0001", "reservations", []api.Reservation{r1, r2, r5})
		time.Sleep(time.Hour)
		get("CS0001", "reservations", []api.Reservation{r2, r5})

		// Charging profiles: set, replaced (same stackLevel and purpose
		// on the connector), cleared.
		profile := func(id, stack int, limit string) string {
			return fmt.Sprintf(`{"chargingProfileId":%d,"stackLevel":%d,"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative",`+
				`"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":%s}]}}`, id, stack, limit)
		}
		post("CS0001", ocpp.ActionSetChargingProfile, `{"connectorId":1,"csChargingProfiles":`+profile(2, 0, "16")+`}`)
		post("CS0001", ocpp.ActionSetChargingProfile, `{"connectorId":2,"csChargingProfiles":`+profile(3, 0, "10")+`}`)
		post("CS0001", ocpp.ActionSetChargingProfile, `{"connectorId":1,"csChargingProfiles":`+profile(4, 0, "6.5")+`}`)
		post("CS0001", ocpp.ActionClearChargingProfile, `{"connectorId":2}`)
		def := func(id int, limit float64) ocpp.ChargingProfile {
			return ocpp.ChargingProfile{ChargingProfileId: id, ChargingProfilePurpose: ocpp.PurposeTxDefault, ChargingProfileKind: ocpp.KindRelative,
				ChargingSchedule: ocpp.ChargingSchedule{ChargingRateUnit: ocpp.ChargingRateA, ChargingSchedulePeriod: []ocpp.ChargingSchedulePeriod{{Limit: limit}}}}
		}
		// A remote start's TxProfile is the transaction's, on the
		// connector it names; without a connector the store cannot tell
		// which, and keeps none.
		tx := `{"chargingProfileId":9,"stackLevel":1,"chargingProfilePurpose":"TxProfile","chargingProfileKind":"Relative",` +
			`"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":8}]}}`
		post("CS0001", ocpp.ActionRemoteStartTransaction, `{"idTag":"A","connectorId":2,"chargingProfile":`+tx+`}`)
		post("CS0001", ocpp.ActionRemoteStartTransaction, `{"idTag":"B","chargingProfile":`+strings.Replace(tx, `"chargingProfileId":9`, `"chargingProfileId":10`, 1)+`}`)
		txProfile := def(9, 8)
		txProfile.StackLevel, txProfile.ChargingProfilePurpose = 1, ocpp.PurposeTx
		set := ptr(now.Add(time.Hour + time.Minute))
		get("CS0001", "charging-profiles", []api.ChargingProfile{
			{ConnectorID: 0, Set: ptr(t0.Add(8 * time.Minute).UTC()), ChargingProfile: maxProfile},
			{ConnectorID: 1, Set: set, ChargingProfile: def(4, 6.5)},
			{ConnectorID: 2, Set: set, ChargingProfile: txProfile},
		})

		// What a station does not accept is not stored.
		post("CS0008", ocpp.ActionSendLocalList, `{"listVersion":1,"updateType":"Full"}`)
		post("CS0008", ocpp.ActionReserveNow, `{"connectorId":1,"expiryDate":"`+at(3*time.Hour)+`","idTag":"A","reservationId":1}`)
		post("CS0008", ocpp.ActionSetChargingProfile, `{"connectorId":1,"csChargingProfiles":`+profile(2, 0, "16")+`}`)
		get("CS0008", "local-list", api.LocalList{Entries: []api.LocalListEntry{}})
		get("CS0008", "reservations", []api.Reservation{})
		get("CS0008", "charging-profiles", []api.ChargingProfile{})
		post("CS0008", ocpp.ActionCancelReservation, `{"reservationId":2}`)
		post("CS0008", ocpp.ActionClearChargingProfile, `{}`)
		if rs, _ := m.Reservations(t.Context(), "CS0001", time.Now()); len(rs) != 2 {
			t.Errorf("CS0008's calls changed CS0001's reservations: %+v", rs)
		}
	})
}

// A station that accepted a call whose record the store refuses: the
// operator learns both, the answer and the failure.
func TestAcceptedNotStored(t *testing.T) {
	logs := &strings.Builder{}
	h := api.New(api.Options{Store: refusing{fill(t)}, Call: (&fakeCall{}).Call, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for _, tc := range []struct{ action, body string }{
		{ocpp.ActionSendLocalList, `{"listVersion":1,"updateType":"Full"}`},
		{ocpp.ActionReserveNow, `{"connectorId":1,"expiryDate":"2030-01-01T00:00:00Z","idTag":"A","reservationId":1}`},
		{ocpp.ActionCancelReservation, `{"reservationId":5}`},
		{ocpp.ActionSetChargingProfile, `{"connectorId":0,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",` +
			`"chargingProfileKind":"Relative","chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}}`},
		{ocpp.ActionClearChargingProfile, `{}`},
	} {
		t.Run(tc.action, func(t *testing.T) {
			w := request{method: "POST", target: "/api/stations/CS0001/" + tc.action, body: tc.body, status: 500,
				want: "answered " + tc.action + ` as \"answer\" says, but storing that failed: disk I/O error`}.run(t, h)
			var got struct {
				Answer struct{ Status string } `json:"answer"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Answer.Status != "Accepted" {
				t.Errorf("the body's answer is %+v (%v), want the station's, Accepted:\n%s", got.Answer, err, w.Body)
			}
		})
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("the failures are not in the log:\n%s", logs)
	}
	// A call that changes nothing the store keeps is answered as ever.
	request{method: "POST", target: "/api/stations/CS0001/Reset", body: `{"type":"Soft"}`, status: 200}.run(t, h)
}
