package ocpp

// Actions of the Reservation profile, which the central system sends to a
// station. A reservation ends when its expiryDate passes, when it is
// cancelled, or when a StartTransaction names its reservationId.
const (
	ActionReserveNow        = "ReserveNow"
	ActionCancelReservation = "CancelReservation"
)

// ReserveNowRequest reserves a connector, or the station as a whole for
// connector 0, for an idTag until ExpiryDate. A ReservationId the station
// holds already replaces that reservation.
type ReserveNowRequest struct {
	ConnectorId   int      `json:"connectorId"`
	ExpiryDate    DateTime `json:"expiryDate"`
	IdTag         string   `json:"idTag"`
	ParentIdTag   string   `json:"parentIdTag,omitempty"`
	ReservationId int      `json:"reservationId"`
}

// ReservationStatus answers a ReserveNow.
type ReservationStatus string

// The values of ReservationStatus.
const (
	ReservationAccepted    ReservationStatus = "Accepted"
	ReservationFaulted     ReservationStatus = "Faulted"
	ReservationOccupied    ReservationStatus = "Occupied"
	ReservationRejected    ReservationStatus = "Rejected"
	ReservationUnavailable ReservationStatus = "Unavailable"
)

// Valid reports whether s is in the enumeration.
func (s ReservationStatus) Valid() bool {
	switch s {
	case ReservationAccepted, ReservationFaulted, ReservationOccupied, ReservationRejected, ReservationUnavailable:
		return true
	}
	return false
}

// ReserveNowResponse answers a ReserveNowRequest.
type ReserveNowResponse struct {
	Status ReservationStatus `json:"status"`
}

// CancelReservationRequest ends a reservation.
type CancelReservationRequest struct {
	ReservationId int `json:"reservationId"`
}

// CancelReservationStatus answers a CancelReservation.
type CancelReservationStatus string

// The values of CancelReservationStatus.
const (
	CancelReservationAccepted CancelReservationStatus = "Accepted"
	CancelReservationRejected CancelReservationStatus = "Rejected"
)

// Valid reports whether s is in the enumeration.
func (s CancelReservationStatus) Valid() bool {
	return s == CancelReservationAccepted || s == CancelReservationRejected
}

// CancelReservationResponse answers a CancelReservationRequest.
type CancelReservationResponse struct {
	Status CancelReservationStatus `json:"status"`
}

// Validate checks r against the OCPP 1.6 schema. reservationId is not
// checked: 0 is valid and cannot be told from missing.
func (r ReserveNowRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 0),
		checkTime("expiryDate", r.ExpiryDate),
		checkString("idTag", r.IdTag, MaxCiString20, true),
		checkString("parentIdTag", r.ParentIdTag, MaxCiString20, false),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r ReserveNowResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "ReservationStatus")
}

// Validate accepts every CancelReservationRequest: reservationId is an
// integer, and 0 is valid.
func (CancelReservationRequest) Validate() error { return nil }

// Validate checks r against the OCPP 1.6 schema.
func (r CancelReservationResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "CancelReservationStatus")
}
