package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// Station is a station as GET /api/stations lists it.
type Station struct {
	ID        string `json:"id"`
	Connected bool   `json:"connected"`
	// Node names the node that holds the station's connection, when it
	// is connected and the API knows the nodes (Options.Cluster).
	Node string `json:"node,omitempty"`
	// LastSeen is null for a station the store has no time for.
	LastSeen        *time.Time `json:"lastSeen"`
	Vendor          string     `json:"vendor"`
	Model           string     `json:"model"`
	FirmwareVersion string     `json:"firmwareVersion,omitempty"`
	// Connectors are by id; connector 0 is the station as a whole.
	Connectors []Connector `json:"connectors"`
	// OpenTransactions are the ids of the station's transactions not yet
	// stopped.
	OpenTransactions []int `json:"openTransactions"`
	// Firmware and Diagnostics are what the station last said of a
	// firmware update (FirmwareStatusNotification) and of a diagnostics
	// upload (DiagnosticsStatusNotification); absent if it never did.
	Firmware    *Report `json:"firmware,omitempty"`
	Diagnostics *Report `json:"diagnostics,omitempty"`
}

// Report is a station's last status of one kind, and when it came.
type Report struct {
	Status string     `json:"status"`
	At     *time.Time `json:"at"`
}

// Connector is a connector's last reported status.
type Connector struct {
	ID        int        `json:"id"`
	Status    string     `json:"status"`
	ErrorCode string     `json:"errorCode"`
	Info      string     `json:"info,omitempty"`
	Updated   *time.Time `json:"updated,omitempty"`
}

// Transaction is a charging session; MeterStop and Stop are null while it
// runs.
type Transaction struct {
	ID          int        `json:"id"`
	Station     string     `json:"station"`
	ConnectorID int        `json:"connectorId"`
	IdTag       string     `json:"idTag"`
	MeterStart  int        `json:"meterStart"`
	MeterStop   *int       `json:"meterStop"`
	Start       *time.Time `json:"start"`
	Stop        *time.Time `json:"stop"`
	Reason      string     `json:"reason"`
}

// Sample is one sampled value of a transaction's meter readings.
type Sample struct {
	Timestamp *time.Time `json:"timestamp"`
	Value     string     `json:"value"`
	Measurand string     `json:"measurand,omitempty"`
	Unit      string     `json:"unit,omitempty"`
	Context   string     `json:"context,omitempty"`
	Phase     string     `json:"phase,omitempty"`
	Location  string     `json:"location,omitempty"`
	Format    string     `json:"format,omitempty"`
}

// utc is t in UTC for the JSON, or nil (null) for the zero time.
func utc(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *api) connected(id string) bool {
	return a.opts.Connected != nil && a.opts.Connected(id)
}

// where says whether station id is connected, and to which node if the
// API knows the nodes: from holders, Options.Cluster's listing, if not nil;
// from Options.Cluster otherwise; without one, from Connected, and node is
// "".
func (a *api) where(ctx context.Context, id string, holders map[string]string) (connected bool, node string) {
	switch {
	case holders != nil:
		node = holders[id]
	case a.opts.Cluster != nil:
		node = a.opts.Cluster.Holder(ctx, id)
	default:
		return a.connected(id), ""
	}
	return node != "", node
}

// view is st as the API shows it, connected or not, to node if known.
func view(st store.Station, connected bool, node string) Station {
	v := Station{
		ID: st.ID, Connected: connected, Node: node, LastSeen: utc(st.LastSeen),
		Vendor: st.Vendor, Model: st.Model, FirmwareVersion: st.Firmware,
		Connectors:       make([]Connector, 0, len(st.Connectors)),
		OpenTransactions: append([]int{}, st.OpenTransactions...),
	}
	for _, c := range st.Connectors {
		v.Connectors = append(v.Connectors, Connector{
			ID: c.ID, Status: c.Status, ErrorCode: c.ErrorCode, Info: c.Info, Updated: utc(c.Updated),
		})
	}
	if st.FirmwareStatus != "" {
		v.Firmware = &Report{Status: string(st.FirmwareStatus), At: utc(st.FirmwareStatusAt)}
	}
	if st.DiagnosticsStatus != "" {
		v.Diagnostics = &Report{Status: string(st.DiagnosticsStatus), At: utc(st.DiagnosticsStatusAt)}
	}
	return v
}

// Endpoint is one request the API serves, as GET /api lists it.
type Endpoint struct {
	Request string `json:"request"`
	Answer  string `json:"answer"`
}

// Action is one action a POST calls, as GET /api lists it.
type Action struct {
	Action  string          `json:"action"`
	Profile string          `json:"profile"`
	Example json.RawMessage `json:"example"`
}

// Index is GET /api's answer.
type Index struct {
	Endpoints []Endpoint `json:"endpoints"`
	Actions   []Action   `json:"actions"`
}

// endpoints are what GET /api lists.
var endpoints = []Endpoint{
	{"GET /api", "this list, and the actions a POST calls, each with its profile and an example body"},
	{"GET /api/stations", "every station ever seen"},
	{"GET /api/stations/{id}", "one station"},
	{"GET /api/stations/{id}/local-list", "the local list the station accepted last: version, when, and its entries by idTag"},
	{"GET /api/stations/{id}/reservations", "the station's reservations in force, by id"},
	{"GET /api/stations/{id}/charging-profiles", "the charging profiles the station accepted, by connector, then id"},
	{"GET /api/transactions[?station=ID]", "transactions, of one station or all"},
	{"GET /api/transactions/{id}/meter-values", "the samples of one transaction"},
	{"POST /api/stations/{id}/{Action}[?timeout=30s]", "a call to a station: the body is the action's request, the answer the station's"},
}

// index serves GET /api.
func (a *api) index(w http.ResponseWriter, r *http.Request) {
	out := Index{Endpoints: endpoints, Actions: make([]Action, 0, len(actions))}
	for _, ac := range actions {
		out.Actions = append(out.Actions, Action{Action: ac.Name, Profile: ac.Profile, Example: json.RawMessage(ac.Example)})
	}
	writeJSON(w, http.StatusOK, out)
}

// stations serves GET /api/stations.
func (a *api) stations(w http.ResponseWriter, r *http.Request) {
	sts, err := a.opts.Store.Stations(r.Context())
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	var holders map[string]string
	if a.opts.Cluster != nil {
		holders = a.opts.Cluster.Holders(r.Context())
	}
	out := make([]Station, 0, len(sts))
	for _, st := range sts {
		connected, node := a.where(r.Context(), st.ID, holders)
		out = append(out, view(st, connected, node))
	}
	writeJSON(w, http.StatusOK, out)
}

// station serves GET /api/stations/{id}.
func (a *api) station(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := a.opts.Store.Station(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		msg := fmt.Sprintf("no station %q: none with that id has sent a message; GET /api/stations lists those that have", id)
		if connected, _ := a.where(r.Context(), id, nil); connected {
			msg = fmt.Sprintf("station %q is connected but the store has nothing of it yet: it has sent no message", id)
		}
		writeError(w, http.StatusNotFound, msg)
	case err != nil:
		a.storeFailed(w, r, err)
	default:
		connected, node := a.where(r.Context(), id, nil)
		writeJSON(w, http.StatusOK, view(st, connected, node))
	}
}

func transaction(tx store.Transaction) Transaction {
	out := Transaction{
		ID: tx.ID, Station: tx.Station, ConnectorID: tx.ConnectorID, IdTag: tx.IdTag,
		MeterStart: tx.MeterStart, Start: utc(tx.Start), Reason: tx.Reason,
	}
	if tx.MeterStop != nil {
		m := *tx.MeterStop
		out.MeterStop = &m
	}
	if tx.Stop != nil {
		out.Stop = utc(*tx.Stop)
	}
	return out
}

// transactions serves GET /api/transactions[?station=ID]. A station with
// no transactions, known or not, has an empty list: the filter found none.
func (a *api) transactions(w http.ResponseWriter, r *http.Request) {
	txs, err := a.opts.Store.Transactions(r.Context(), r.URL.Query().Get("station"))
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := make([]Transaction, 0, len(txs))
	for _, tx := range txs {
		out = append(out, transaction(tx))
	}
	writeJSON(w, http.StatusOK, out)
}

// meterValues serves GET /api/transactions/{id}/meter-values.
func (a *api) meterValues(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	id, err := strconv.Atoi(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest,
			fmt.Sprintf("transaction id %q is not an integer: the ids are those of GET /api/transactions", raw))
		return
	}
	samples, err := a.opts.Store.TransactionMeterValues(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound,
			fmt.Sprintf("no transaction %d; GET /api/transactions lists them", id))
		return
	case err != nil:
		a.storeFailed(w, r, err)
		return
	}
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		out = append(out, Sample{
			Timestamp: utc(s.Timestamp), Value: s.Value, Measurand: s.Measurand, Unit: s.Unit,
			Context: s.Context, Phase: s.Phase, Location: s.Location, Format: s.Format,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// LocalList is the local list a station accepted last; version 0, no time
// and no entries if none.
type LocalList struct {
	Version int              `json:"version"`
	Updated *time.Time       `json:"updated"`
	Entries []LocalListEntry `json:"entries"`
}

// LocalListEntry is an idTag of a local list, and its idTagInfo as sent.
type LocalListEntry struct {
	IdTag     string         `json:"idTag"`
	IdTagInfo ocpp.IdTagInfo `json:"idTagInfo"`
}

// Reservation is a reservation a station accepted, in force.
type Reservation struct {
	ID          int        `json:"id"`
	ConnectorID int        `json:"connectorId"`
	IdTag       string     `json:"idTag"`
	ParentIdTag string     `json:"parentIdTag,omitempty"`
	ExpiryDate  *time.Time `json:"expiryDate"`
	Made        *time.Time `json:"made"`
}

// ChargingProfile is a charging profile a station accepted, on a connector
// (0: the station as a whole), as SetChargingProfile sent it.
type ChargingProfile struct {
	ConnectorID     int                  `json:"connectorId"`
	Set             *time.Time           `json:"set"`
	ChargingProfile ocpp.ChargingProfile `json:"chargingProfile"`
}

// known answers 404 (or 500) and reports false if the store has never
// heard of the station.
func (a *api) known(w http.ResponseWriter, r *http.Request, id string) bool {
	_, err := a.opts.Store.Station(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("no station %q: none with that id has sent a message; GET /api/stations lists those that have", id))
		return false
	case err != nil:
		a.storeFailed(w, r, err)
		return false
	}
	return true
}

// localList serves GET /api/stations/{id}/local-list.
func (a *api) localList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.known(w, r, id) {
		return
	}
	list, err := a.opts.Store.LocalList(r.Context(), id)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := LocalList{Version: list.Version, Updated: utc(list.Updated), Entries: make([]LocalListEntry, 0, len(list.Entries))}
	for _, e := range list.Entries {
		out.Entries = append(out.Entries, LocalListEntry{IdTag: e.IdTag, IdTagInfo: e.Info})
	}
	writeJSON(w, http.StatusOK, out)
}

// reservations serves GET /api/stations/{id}/reservations: those in force
// now.
func (a *api) reservations(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.known(w, r, id) {
		return
	}
	rs, err := a.opts.Store.Reservations(r.Context(), id, time.Now())
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := make([]Reservation, 0, len(rs))
	for _, res := range rs {
		out = append(out, Reservation{ID: res.ID, ConnectorID: res.ConnectorID, IdTag: res.IdTag, ParentIdTag: res.ParentIdTag,
			ExpiryDate: utc(res.Expiry), Made: utc(res.Made)})
	}
	writeJSON(w, http.StatusOK, out)
}

// chargingProfiles serves GET /api/stations/{id}/charging-profiles.
func (a *api) chargingProfiles(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !a.known(w, r, id) {
		return
	}
	ps, err := a.opts.Store.ChargingProfiles(r.Context(), id)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	out := make([]ChargingProfile, 0, len(ps))
	for _, p := range ps {
		out = append(out, ChargingProfile{ConnectorID: p.ConnectorID, Set: utc(p.Set), ChargingProfile: p.Profile})
	}
	writeJSON(w, http.StatusOK, out)
}
