// Package store is where the central system keeps what its stations tell
// it: the stations and their connectors, the transactions, the meter
// values; and what they accepted of the operator's calls: their local
// lists, reservations and charging profiles. The backend writes to a
// Store as it answers and processes calls, the operator API as stations
// answer its calls; the API reads from it.
//
// A Store is safe for concurrent use. A write that returns nil is stored
// (durably, for a store on disk): the backend acknowledges nothing a store
// has not taken. Memory is the in-memory Store; package store/sqlite keeps
// the same on disk.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// ErrNotFound is what the reads of one thing return when there is no such
// thing.
var ErrNotFound = errors.New("store: not found")

// Store keeps a central system's state.
type Store interface {
	// Boot records a station's BootNotification: its vendor, model and
	// firmware, and that it was seen at at.
	Boot(ctx context.Context, station string, req ocpp.BootNotificationRequest, at time.Time) error
	// Seen records when stations were last heard from. The backend
	// collects signs of life in memory and hands them over in bulk, so
	// that a Heartbeat costs no write of its own.
	Seen(ctx context.Context, seen map[string]time.Time) error
	// StartTransaction records a transaction's start and returns its id.
	// A replayed start (the same station, connector, idTag, meterStart and
	// timestamp) returns the id the first one got, and records nothing
	// new. Ids are unique across all stations.
	StartTransaction(ctx context.Context, station string, req ocpp.StartTransactionRequest) (int, error)
	// StopTransaction records a transaction's stop (meterStop, time,
	// reason) and the meter values in its transactionData. It reports
	// whether the transaction was known; an unknown one is not an error:
	// the station must get its answer all the same.
	StopTransaction(ctx context.Context, station string, req ocpp.StopTransactionRequest) (known bool, err error)
	// Statuses records connectors' statuses and error codes (connector 0
	// is the station as a whole) in one write: all of them, or, with an
	// error, none. Of two updates of the same connector, the later in
	// updates wins.
	Statuses(ctx context.Context, updates []StatusUpdate) error
	// MeterValues records many MeterValues requests in one write: all of
	// them, or, with an error, none.
	MeterValues(ctx context.Context, readings []Reading) error
	// FirmwareReport records what a station said of its firmware update or
	// of its diagnostics upload (the Firmware Management profile's
	// notifications): it replaces what the station said of the same
	// before.
	FirmwareReport(ctx context.Context, station string, r FirmwareReport) error

	// The operator's calls that a station accepted are kept through the
	// methods below, once it has: the central system's record of what
	// the station holds. Each gives a station that was never seen a row.

	// SendLocalList applies a SendLocalList the station Accepted: a Full
	// update replaces the station's list with its entries, a Differential
	// one adds or replaces each entry with an idTagInfo and removes each
	// without; either way the list's version becomes req.ListVersion. at
	// is when.
	SendLocalList(ctx context.Context, station string, req ocpp.SendLocalListRequest, at time.Time) error
	// Reserve records a reservation the station Accepted (ReserveNow),
	// made at at; one of the station's with the same id is replaced, as
	// the station replaces it (OCPP 1.6 §5.13).
	Reserve(ctx context.Context, station string, req ocpp.ReserveNowRequest, at time.Time) error
	// EndReservation ends one of a station's reservations, cancelled
	// (CancelReservation Accepted) or used (a StartTransaction naming
	// it). It reports whether the store held it; ending one it does not
	// hold, or no longer, is not an error.
	EndReservation(ctx context.Context, station string, id int) (known bool, err error)
	// SetChargingProfile records a profile the station Accepted
	// (SetChargingProfile), set at at. As on the station (OCPP 1.6
	// §3.13.2, §5.16), it replaces the station's profile with the same
	// chargingProfileId, on whatever connector, and the one on the same
	// connector with the same stackLevel and chargingProfilePurpose.
	SetChargingProfile(ctx context.Context, station string, req ocpp.SetChargingProfileRequest, at time.Time) error
	// ClearChargingProfile removes the station's profiles that match
	// every field req gives (id, connectorId, chargingProfilePurpose,
	// stackLevel), all of them if it gives none, as a station does on a
	// ClearChargingProfile it Accepted. It returns how many it removed.
	ClearChargingProfile(ctx context.Context, station string, req ocpp.ClearChargingProfileRequest) (removed int, err error)

	// Stations returns every station ever seen, by id.
	Stations(ctx context.Context) ([]Station, error)
	// Station returns one station, or ErrNotFound.
	Station(ctx context.Context, id string) (Station, error)
	// Transactions returns the transactions of one station, or of all if
	// station is "", by id.
	Transactions(ctx context.Context, station string) ([]Transaction, error)
	// Transaction returns one transaction, or ErrNotFound.
	Transaction(ctx context.Context, id int) (Transaction, error)
	// TransactionMeterValues returns the samples recorded for a
	// transaction, in the order they were taken, or ErrNotFound if there
	// is no such transaction.
	TransactionMeterValues(ctx context.Context, id int) ([]Sample, error)
	// LocalList returns the local list the station last accepted, its
	// entries by idTag: version 0, no entries and the zero Updated if it
	// never accepted one.
	LocalList(ctx context.Context, station string) (LocalList, error)
	// Reservations returns the station's reservations in force at at:
	// made, not ended, and expiring after at; by id. An expired one
	// needs no end: it is no longer returned.
	Reservations(ctx context.Context, station string, at time.Time) ([]Reservation, error)
	// ChargingProfiles returns the station's charging profiles, by
	// connector, then id.
	ChargingProfiles(ctx context.Context, station string) ([]ChargingProfile, error)

	// Close releases the store. Nothing may be called after it.
	Close() error
}

// A FirmwareReport is one FirmwareStatusNotification (Firmware is set) or
// DiagnosticsStatusNotification (Diagnostics is set), and when it came.
type FirmwareReport struct {
	Firmware    ocpp.FirmwareStatus
	Diagnostics ocpp.DiagnosticsStatus
	At          time.Time
}

// A StatusUpdate is one StatusNotification request, with the station that
// sent it and when it came: the connector's status is of the time the
// request gives, or else of At.
type StatusUpdate struct {
	Station string
	Request ocpp.StatusNotificationRequest
	At      time.Time
}

// A Reading is one MeterValues request, with the station that sent it.
type Reading struct {
	Station string
	Request ocpp.MeterValuesRequest
}

// Station is what the store knows of a station. The operator API has its
// own types for the wire (package api); these are the store's.
type Station struct {
	ID       string
	Vendor   string
	Model    string
	Firmware string
	LastSeen time.Time
	// Connectors are the connectors the station reported a status for,
	// by id.
	Connectors []Connector
	// OpenTransactions are the ids of its transactions not yet stopped.
	OpenTransactions []int
	// FirmwareStatus and DiagnosticsStatus are what the station last said
	// of a firmware update and of a diagnostics upload, and when: "" and
	// the zero time if it never did.
	FirmwareStatus      ocpp.FirmwareStatus
	FirmwareStatusAt    time.Time
	DiagnosticsStatus   ocpp.DiagnosticsStatus
	DiagnosticsStatusAt time.Time
}

// Connector is a connector's last reported status.
type Connector struct {
	ID        int
	Status    string
	ErrorCode string
	Info      string
	Updated   time.Time
}

// Transaction is a charging session.
type Transaction struct {
	ID          int
	Station     string
	ConnectorID int
	IdTag       string
	MeterStart  int
	MeterStop   *int
	Start       time.Time
	Stop        *time.Time
	Reason      string
}

// Sample is one sampled value of a meter reading.
type Sample struct {
	Timestamp time.Time
	Value     string
	Measurand string
	Unit      string
	Context   string
	Phase     string
	Location  string
	Format    string
}

// LocalList is the local authorization list a station accepted last.
type LocalList struct {
	Version int
	// Updated is when the station accepted the last SendLocalList.
	Updated time.Time
	// Entries are by idTag.
	Entries []LocalListEntry
}

// LocalListEntry is one idTag of a local list, and what the station says
// of it when it authorizes on its own.
type LocalListEntry struct {
	IdTag string
	Info  ocpp.IdTagInfo
}

// Reservation is a reservation a station accepted.
type Reservation struct {
	// ID is the reservationId, the station's: two stations may each
	// have a reservation 1.
	ID int
	// ConnectorID 0 reserves the station as a whole.
	ConnectorID int
	IdTag       string
	ParentIdTag string
	Expiry      time.Time
	// Made is when the station accepted it.
	Made time.Time
}

// ChargingProfile is a charging profile a station accepted, on a
// connector (0: the station as a whole). Its times keep milliseconds, as
// the wire does.
type ChargingProfile struct {
	ConnectorID int
	Profile     ocpp.ChargingProfile
	// Set is when the station accepted it.
	Set time.Time
}
