package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Memory is a Store that keeps everything in memory, for tests and for a
// server that needs to remember nothing across restarts. The zero value is
// ready to use.
type Memory struct {
	mu       sync.Mutex
	stations map[string]*Station
	txs      []Transaction // by id: txs[id-1]
	starts   map[startKey]int
	samples  map[int][]Sample // by transaction id

	localLists   map[string]*LocalList          // by station; Entries unsorted
	reservations map[string]map[int]Reservation // by station, then id
	profiles     map[string][]storedProfile     // by station
}

// storedProfile is a charging profile as Memory keeps it: its JSON, so
// that what the caller holds shares nothing with it and times keep what
// they keep in any store, and what finds it.
type storedProfile struct {
	connector  int
	id         int
	stackLevel int
	purpose    ocpp.ChargingProfilePurpose
	profile    []byte
	set        time.Time
}

// startKey is what makes a StartTransaction the same one again.
type startKey struct {
	station     string
	connector   int
	idTag       string
	meterStart  int
	timestampNs int64
}

var _ Store = (*Memory)(nil)

func (m *Memory) station(id string) *Station {
	if m.stations == nil {
		m.stations = make(map[string]*Station)
	}
	st, ok := m.stations[id]
	if !ok {
		st = &Station{ID: id}
		m.stations[id] = st
	}
	return st
}

func (m *Memory) seen(st *Station, at time.Time) {
	if at.After(st.LastSeen) {
		st.LastSeen = at.UTC()
	}
}

// Boot implements Store.
func (m *Memory) Boot(ctx context.Context, station string, req ocpp.BootNotificationRequest, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.station(station)
	st.Vendor, st.Model, st.Firmware = req.ChargePointVendor, req.ChargePointModel, req.FirmwareVersion
	m.seen(st, at)
	return nil
}

// FirmwareReport implements Store.
func (m *Memory) FirmwareReport(ctx context.Context, station string, r FirmwareReport) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.station(station)
	if r.Firmware != "" {
		st.FirmwareStatus, st.FirmwareStatusAt = r.Firmware, r.At.UTC()
	}
	if r.Diagnostics != "" {
		st.DiagnosticsStatus, st.DiagnosticsStatusAt = r.Diagnostics, r.At.UTC()
	}
	return nil
}

// Seen implements Store.
func (m *Memory) Seen(ctx context.Context, seen map[string]time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, at := range seen {
		m.seen(m.station(id), at)
	}
	return nil
}

// StartTransaction implements Store.
func (m *Memory) StartTransaction(ctx context.Context, station string, req ocpp.StartTransactionRequest) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := startKey{station, req.ConnectorId, req.IdTag, req.MeterStart, req.Timestamp.UnixNano()}
	if id, ok := m.starts[key]; ok {
		return id, nil
	}
	if m.starts == nil {
		m.starts = make(map[startKey]int)
	}
	m.station(station)
	id := len(m.txs) + 1
	m.txs = append(m.txs, Transaction{
		ID: id, Station: station, ConnectorID: req.ConnectorId, IdTag: req.IdTag,
		MeterStart: req.MeterStart, Start: req.Timestamp.UTC(),
	})
	m.starts[key] = id
	return id, nil
}

// StopTransaction implements Store.
func (m *Memory) StopTransaction(ctx context.Context, station string, req ocpp.StopTransactionRequest) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := req.TransactionId
	if id < 1 || id > len(m.txs) || m.txs[id-1].Station != station {
		return false, nil
	}
	tx := &m.txs[id-1]
	if tx.Stop != nil {
		return true, nil // a stop sent again: the first one stands, once
	}
	stop, meter := req.Timestamp.UTC(), req.MeterStop
	tx.Stop, tx.MeterStop, tx.Reason = &stop, &meter, req.Reason
	m.addSamples(id, req.TransactionData)
	return true, nil
}

// Statuses implements Store.
func (m *Memory) Statuses(ctx context.Context, updates []StatusUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range updates {
		st := m.station(u.Station)
		req := u.Request
		c := Connector{ID: req.ConnectorId, Status: string(req.Status), ErrorCode: string(req.ErrorCode), Info: req.Info, Updated: u.At.UTC()}
		if req.Timestamp != nil {
			c.Updated = req.Timestamp.UTC()
		}
		i := slices.IndexFunc(st.Connectors, func(x Connector) bool { return x.ID == c.ID })
		if i < 0 {
			st.Connectors = append(st.Connectors, c)
			slices.SortFunc(st.Connectors, func(a, b Connector) int { return cmp.Compare(a.ID, b.ID) })
		} else {
			st.Connectors[i] = c
		}
	}
	return nil
}

// MeterValues implements Store.
func (m *Memory) MeterValues(ctx context.Context, readings []Reading) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range readings {
		m.station(r.Station)
		if id := r.Request.TransactionId; id != nil && *id >= 1 && *id <= len(m.txs) && m.txs[*id-1].Station == r.Station {
			m.addSamples(*id, r.Request.MeterValue)
		}
	}
	return nil
}

// addSamples records values for transaction id, in time order.
func (m *Memory) addSamples(id int, values []ocpp.MeterValue) {
	if len(values) == 0 {
		return
	}
	if m.samples == nil {
		m.samples = make(map[int][]Sample)
	}
	for _, v := range values {
		for _, sv := range v.SampledValue {
			m.samples[id] = append(m.samples[id], Sample{
				Timestamp: v.Timestamp.UTC(), Value: sv.Value, Measurand: sv.Measurand, Unit: sv.Unit,
				Context: sv.Context, Phase: sv.Phase, Location: sv.Location, Format: sv.Format,
			})
		}
	}
	slices.SortStableFunc(m.samples[id], func(a, b Sample) int { return a.Timestamp.Compare(b.Timestamp) })
}

// Stations implements Store.
func (m *Memory) Stations(ctx context.Context) ([]Station, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Station, 0, len(m.stations))
	for _, st := range m.stations {
		out = append(out, m.view(st))
	}
	slices.SortFunc(out, func(a, b Station) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Station implements Store.
func (m *Memory) Station(ctx context.Context, id string) (Station, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.stations[id]
	if !ok {
		return Station{}, fmt.Errorf("station %q: %w", id, ErrNotFound)
	}
	return m.view(st), nil
}

// view is a copy of st that shares nothing with the store.
func (m *Memory) view(st *Station) Station {
	v := *st
	v.Connectors = slices.Clone(st.Connectors)
	if v.Connectors == nil {
		v.Connectors = []Connector{}
	}
	v.OpenTransactions = []int{}
	for _, tx := range m.txs {
		if tx.Station == st.ID && tx.Stop == nil {
			v.OpenTransactions = append(v.OpenTransactions, tx.ID)
		}
	}
	return v
}

// Transactions implements Store.
func (m *Memory) Transactions(ctx context.Context, station string) ([]Transaction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Transaction{}
	for _, tx := range m.txs {
		if station == "" || tx.Station == station {
			out = append(out, tx)
		}
	}
	return out, nil
}

// Transaction implements Store.
func (m *Memory) Transaction(ctx context.Context, id int) (Transaction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || id > len(m.txs) {
		return Transaction{}, fmt.Errorf("transaction %d: %w", id, ErrNotFound)
	}
	return m.txs[id-1], nil
}

// TransactionMeterValues implements Store.
func (m *Memory) TransactionMeterValues(ctx context.Context, id int) ([]Sample, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id < 1 || id > len(m.txs) {
		return nil, fmt.Errorf("transaction %d: %w", id, ErrNotFound)
	}
	out := slices.Clone(m.samples[id])
	if out == nil {
		out = []Sample{}
	}
	return out, nil
}

// cloneInfo is info sharing nothing with the caller's, its time in UTC.
func cloneInfo(info ocpp.IdTagInfo) ocpp.IdTagInfo {
	if info.ExpiryDate != nil {
		info.ExpiryDate = &ocpp.DateTime{Time: info.ExpiryDate.UTC()}
	}
	return info
}

// SendLocalList implements Store.
func (m *Memory) SendLocalList(ctx context.Context, station string, req ocpp.SendLocalListRequest, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.station(station)
	if m.localLists == nil {
		m.localLists = make(map[string]*LocalList)
	}
	list := m.localLists[station]
	if list == nil || req.UpdateType == ocpp.UpdateFull {
		list = &LocalList{}
		m.localLists[station] = list
	}
	for _, e := range req.LocalAuthorizationList {
		i := slices.IndexFunc(list.Entries, func(x LocalListEntry) bool { return x.IdTag == e.IdTag })
		switch {
		case e.IdTagInfo == nil && i >= 0:
			list.Entries = slices.Delete(list.Entries, i, i+1)
		case e.IdTagInfo == nil:
		case i >= 0:
			list.Entries[i].Info = cloneInfo(*e.IdTagInfo)
		default:
			list.Entries = append(list.Entries, LocalListEntry{IdTag: e.IdTag, Info: cloneInfo(*e.IdTagInfo)})
		}
	}
	list.Version, list.Updated = req.ListVersion, at.UTC()
	return nil
}

// LocalList implements Store.
func (m *Memory) LocalList(ctx context.Context, station string) (LocalList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := LocalList{Entries: []LocalListEntry{}}
	if list := m.localLists[station]; list != nil {
		out.Version, out.Updated = list.Version, list.Updated
		for _, e := range list.Entries {
			out.Entries = append(out.Entries, LocalListEntry{IdTag: e.IdTag, Info: cloneInfo(e.Info)})
		}
		slices.SortFunc(out.Entries, func(a, b LocalListEntry) int { return cmp.Compare(a.IdTag, b.IdTag) })
	}
	return out, nil
}

// Reserve implements Store.
func (m *Memory) Reserve(ctx context.Context, station string, req ocpp.ReserveNowRequest, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.station(station)
	if m.reservations == nil {
		m.reservations = make(map[string]map[int]Reservation)
	}
	if m.reservations[station] == nil {
		m.reservations[station] = make(map[int]Reservation)
	}
	m.reservations[station][req.ReservationId] = Reservation{
		ID: req.ReservationId, ConnectorID: req.ConnectorId, IdTag: req.IdTag, ParentIdTag: req.ParentIdTag,
		Expiry: req.ExpiryDate.UTC(), Made: at.UTC(),
	}
	return nil
}

// EndReservation implements Store.
func (m *Memory) EndReservation(ctx context.Context, station string, id int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, known := m.reservations[station][id]
	delete(m.reservations[station], id)
	return known, nil
}

// Reservations implements Store.
func (m *Memory) Reservations(ctx context.Context, station string, at time.Time) ([]Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Reservation{}
	for _, r := range m.reservations[station] {
		if r.Expiry.After(at) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Reservation) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// SetChargingProfile implements Store.
func (m *Memory) SetChargingProfile(ctx context.Context, station string, req ocpp.SetChargingProfileRequest, at time.Time) error {
	b, err := json.Marshal(req.CsChargingProfiles)
	if err != nil {
		return fmt.Errorf("store: charging profile %d of %s: %w", req.CsChargingProfiles.ChargingProfileId, station, err)
	}
	p := req.CsChargingProfiles
	m.mu.Lock()
	defer m.mu.Unlock()
	m.station(station)
	if m.profiles == nil {
		m.profiles = make(map[string][]storedProfile)
	}
	m.profiles[station] = slices.DeleteFunc(m.profiles[station], func(x storedProfile) bool {
		return x.id == p.ChargingProfileId ||
			(x.connector == req.ConnectorId && x.stackLevel == p.StackLevel && x.purpose == p.ChargingProfilePurpose)
	})
	m.profiles[station] = append(m.profiles[station], storedProfile{
		connector: req.ConnectorId, id: p.ChargingProfileId, stackLevel: p.StackLevel,
		purpose: p.ChargingProfilePurpose, profile: b, set: at.UTC(),
	})
	return nil
}

// ClearChargingProfile implements Store.
func (m *Memory) ClearChargingProfile(ctx context.Context, station string, req ocpp.ClearChargingProfileRequest) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	before := len(m.profiles[station])
	if before == 0 {
		return 0, nil
	}
	m.profiles[station] = slices.DeleteFunc(m.profiles[station], func(x storedProfile) bool {
		return (req.Id == nil || x.id == *req.Id) &&
			(req.ConnectorId == nil || x.connector == *req.ConnectorId) &&
			(req.ChargingProfilePurpose == "" || x.purpose == req.ChargingProfilePurpose) &&
			(req.StackLevel == nil || x.stackLevel == *req.StackLevel)
	})
	return before - len(m.profiles[station]), nil
}

// ChargingProfiles implements Store.
func (m *Memory) ChargingProfiles(ctx context.Context, station string) ([]ChargingProfile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ChargingProfile, 0, len(m.profiles[station]))
	for _, x := range m.profiles[station] {
		cp := ChargingProfile{ConnectorID: x.connector, Set: x.set}
		if err := json.Unmarshal(x.profile, &cp.Profile); err != nil {
			return nil, fmt.Errorf("store: charging profile %d of %s: %w", x.id, station, err)
		}
		out = append(out, cp)
	}
	slices.SortFunc(out, compareProfiles)
	return out, nil
}

// compareProfiles orders profiles as ChargingProfiles returns them.
func compareProfiles(a, b ChargingProfile) int {
	return cmp.Or(cmp.Compare(a.ConnectorID, b.ConnectorID), cmp.Compare(a.Profile.ChargingProfileId, b.Profile.ChargingProfileId))
}

// Close implements Store; a Memory has nothing to release.
func (m *Memory) Close() error { return nil }
