package ocpp

import "fmt"

// Actions of the Smart Charging profile, which the central system sends to
// a station: limits on the power or current it may draw, over time.
const (
	ActionSetChargingProfile   = "SetChargingProfile"
	ActionClearChargingProfile = "ClearChargingProfile"
	ActionGetCompositeSchedule = "GetCompositeSchedule"
)

// ChargingProfilePurpose says what a profile limits (OCPP 1.6 §3.13.1).
type ChargingProfilePurpose string

// The values of ChargingProfilePurpose.
const (
	// PurposeChargePointMax limits the station as a whole: connector 0
	// only.
	PurposeChargePointMax ChargingProfilePurpose = "ChargePointMaxProfile"
	// PurposeTxDefault is the default for the transactions of a
	// connector, or of every connector when set on connector 0.
	PurposeTxDefault ChargingProfilePurpose = "TxDefaultProfile"
	// PurposeTx limits one transaction: a connector above 0 only.
	PurposeTx ChargingProfilePurpose = "TxProfile"
)

// Valid reports whether p is in the enumeration.
func (p ChargingProfilePurpose) Valid() bool {
	switch p {
	case PurposeChargePointMax, PurposeTxDefault, PurposeTx:
		return true
	}
	return false
}

// ChargingProfileKind says what a schedule's periods count from.
type ChargingProfileKind string

// The values of ChargingProfileKind.
const (
	KindAbsolute  ChargingProfileKind = "Absolute"
	KindRecurring ChargingProfileKind = "Recurring"
	KindRelative  ChargingProfileKind = "Relative"
)

// Valid reports whether k is in the enumeration.
func (k ChargingProfileKind) Valid() bool {
	switch k {
	case KindAbsolute, KindRecurring, KindRelative:
		return true
	}
	return false
}

// RecurrencyKind says how often a Recurring schedule starts again.
type RecurrencyKind string

// The values of RecurrencyKind.
const (
	RecurrencyDaily  RecurrencyKind = "Daily"
	RecurrencyWeekly RecurrencyKind = "Weekly"
)

// Valid reports whether k is in the enumeration.
func (k RecurrencyKind) Valid() bool { return k == RecurrencyDaily || k == RecurrencyWeekly }

// ChargingRateUnit is the unit of a schedule's limits: amperes per phase,
// or watts.
type ChargingRateUnit string

// The values of ChargingRateUnit.
const (
	ChargingRateA ChargingRateUnit = "A"
	ChargingRateW ChargingRateUnit = "W"
)

// Valid reports whether u is in the enumeration.
func (u ChargingRateUnit) Valid() bool { return u == ChargingRateA || u == ChargingRateW }

// ChargingSchedulePeriod is a limit from StartPeriod seconds after the
// schedule's start until the next period's.
type ChargingSchedulePeriod struct {
	StartPeriod int     `json:"startPeriod"`
	Limit       float64 `json:"limit"`
	// NumberPhases is 1 to 3; absent means 3.
	NumberPhases *int `json:"numberPhases,omitempty"`
}

// ChargingSchedule is a list of limits over time.
type ChargingSchedule struct {
	// Duration is the schedule's length in seconds; absent means the last
	// period lasts until the profile ends.
	Duration *int `json:"duration,omitempty"`
	// StartSchedule is when an Absolute or Recurring schedule starts.
	StartSchedule          *DateTime                `json:"startSchedule,omitempty"`
	ChargingRateUnit       ChargingRateUnit         `json:"chargingRateUnit"`
	ChargingSchedulePeriod []ChargingSchedulePeriod `json:"chargingSchedulePeriod"`
	MinChargingRate        *float64                 `json:"minChargingRate,omitempty"`
}

// ChargingProfile is a schedule and what it applies to. On a station, a
// profile with the same ChargingProfileId, or with the same StackLevel and
// ChargingProfilePurpose on the same connector, replaces the one before
// (OCPP 1.6 §3.13.2, §5.16).
type ChargingProfile struct {
	ChargingProfileId int `json:"chargingProfileId"`
	// TransactionId, for a TxProfile only, ties it to one transaction.
	TransactionId          *int                   `json:"transactionId,omitempty"`
	StackLevel             int                    `json:"stackLevel"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose"`
	ChargingProfileKind    ChargingProfileKind    `json:"chargingProfileKind"`
	RecurrencyKind         RecurrencyKind         `json:"recurrencyKind,omitempty"`
	ValidFrom              *DateTime              `json:"validFrom,omitempty"`
	ValidTo                *DateTime              `json:"validTo,omitempty"`
	ChargingSchedule       ChargingSchedule       `json:"chargingSchedule"`
}

// SetChargingProfileRequest sets a profile on a connector, or on the
// station as a whole for connector 0.
type SetChargingProfileRequest struct {
	ConnectorId        int             `json:"connectorId"`
	CsChargingProfiles ChargingProfile `json:"csChargingProfiles"`
}

// ChargingProfileStatus answers a SetChargingProfile.
type ChargingProfileStatus string

// The values of ChargingProfileStatus.
const (
	ChargingProfileAccepted     ChargingProfileStatus = "Accepted"
	ChargingProfileRejected     ChargingProfileStatus = "Rejected"
	ChargingProfileNotSupported ChargingProfileStatus = "NotSupported"
)

// Valid reports whether s is in the enumeration.
func (s ChargingProfileStatus) Valid() bool {
	switch s {
	case ChargingProfileAccepted, ChargingProfileRejected, ChargingProfileNotSupported:
		return true
	}
	return false
}

// SetChargingProfileResponse answers a SetChargingProfileRequest.
type SetChargingProfileResponse struct {
	Status ChargingProfileStatus `json:"status"`
}

// ClearChargingProfileRequest removes the profiles that match every field
// it gives; with none, every profile of the station.
type ClearChargingProfileRequest struct {
	Id                     *int                   `json:"id,omitempty"`
	ConnectorId            *int                   `json:"connectorId,omitempty"`
	ChargingProfilePurpose ChargingProfilePurpose `json:"chargingProfilePurpose,omitempty"`
	StackLevel             *int                   `json:"stackLevel,omitempty"`
}

// ClearChargingProfileStatus answers a ClearChargingProfile.
type ClearChargingProfileStatus string

// The values of ClearChargingProfileStatus.
const (
	ClearChargingProfileAccepted ClearChargingProfileStatus = "Accepted"
	ClearChargingProfileUnknown  ClearChargingProfileStatus = "Unknown" // no profile matched
)

// Valid reports whether s is in the enumeration.
func (s ClearChargingProfileStatus) Valid() bool {
	return s == ClearChargingProfileAccepted || s == ClearChargingProfileUnknown
}

// ClearChargingProfileResponse answers a ClearChargingProfileRequest.
type ClearChargingProfileResponse struct {
	Status ClearChargingProfileStatus `json:"status"`
}

// GetCompositeScheduleRequest asks what limits a connector, or the station
// for connector 0, will keep to over the next Duration seconds, all its
// profiles combined.
type GetCompositeScheduleRequest struct {
	ConnectorId      int              `json:"connectorId"`
	Duration         int              `json:"duration"`
	ChargingRateUnit ChargingRateUnit `json:"chargingRateUnit,omitempty"`
}

// GetCompositeScheduleStatus answers a GetCompositeSchedule.
type GetCompositeScheduleStatus string

// The values of GetCompositeScheduleStatus.
const (
	CompositeScheduleAccepted GetCompositeScheduleStatus = "Accepted"
	CompositeScheduleRejected GetCompositeScheduleStatus = "Rejected"
)

// Valid reports whether s is in the enumeration.
func (s GetCompositeScheduleStatus) Valid() bool {
	return s == CompositeScheduleAccepted || s == CompositeScheduleRejected
}

// GetCompositeScheduleResponse answers a GetCompositeScheduleRequest; the
// schedule comes with Accepted.
type GetCompositeScheduleResponse struct {
	Status           GetCompositeScheduleStatus `json:"status"`
	ConnectorId      *int                       `json:"connectorId,omitempty"`
	ScheduleStart    *DateTime                  `json:"scheduleStart,omitempty"`
	ChargingSchedule *ChargingSchedule          `json:"chargingSchedule,omitempty"`
}

func (p ChargingSchedulePeriod) validate() error {
	if err := checkDecimal("limit", p.Limit); err != nil {
		return err
	}
	if p.NumberPhases != nil && (*p.NumberPhases < 1 || *p.NumberPhases > 3) {
		return &FieldError{Field: "numberPhases", Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("%d is out of range, want 1 to 3", *p.NumberPhases)}
	}
	return nil
}

// validate checks a schedule: a duration of 0 or more, at least one
// period, periods that start at 0 or later, each after the one before
// (a period's start is the end of the one before), and rates that are
// multiples of 0.1.
func (s ChargingSchedule) validate() error {
	if s.Duration != nil {
		if err := negative("duration", *s.Duration); err != nil {
			return err
		}
	}
	if err := checkEnum("chargingRateUnit", string(s.ChargingRateUnit), true, s.ChargingRateUnit.Valid(), "ChargingRateUnitType"); err != nil {
		return err
	}
	if len(s.ChargingSchedulePeriod) == 0 {
		return missing("chargingSchedulePeriod")
	}
	for i, p := range s.ChargingSchedulePeriod {
		path := fmt.Sprintf("chargingSchedulePeriod[%d]", i)
		if i == 0 {
			if err := negative(path+".startPeriod", p.StartPeriod); err != nil {
				return err
			}
		} else if prev := s.ChargingSchedulePeriod[i-1].StartPeriod; p.StartPeriod <= prev {
			return &FieldError{Field: path + ".startPeriod", Code: PropertyConstraintViolation,
				Reason: fmt.Sprintf("%d does not come after the period before, which starts at %d", p.StartPeriod, prev)}
		}
		if err := within(path, p.validate()); err != nil {
			return err
		}
	}
	if s.MinChargingRate != nil {
		return checkDecimal("minChargingRate", *s.MinChargingRate)
	}
	return nil
}

// validate checks a profile: the enumerations, stackLevel ≥ 0, and a
// transactionId on a TxProfile only (OCPP 1.6 §7.8).
func (p ChargingProfile) validate() error {
	if err := firstError(
		negative("stackLevel", p.StackLevel),
		checkEnum("chargingProfilePurpose", string(p.ChargingProfilePurpose), true, p.ChargingProfilePurpose.Valid(), "ChargingProfilePurposeType"),
		checkEnum("chargingProfileKind", string(p.ChargingProfileKind), true, p.ChargingProfileKind.Valid(), "ChargingProfileKindType"),
		checkEnum("recurrencyKind", string(p.RecurrencyKind), false, p.RecurrencyKind.Valid(), "RecurrencyKindType"),
	); err != nil {
		return err
	}
	if p.TransactionId != nil && p.ChargingProfilePurpose != PurposeTx {
		return &FieldError{Field: "transactionId", Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("only a TxProfile names a transaction, not a %s", p.ChargingProfilePurpose)}
	}
	return within("chargingSchedule", p.ChargingSchedule.validate())
}

// Validate checks r against the OCPP 1.6 schema and §3.13.1: a
// ChargePointMaxProfile is set on connector 0 only, a TxProfile on a
// connector above 0 only.
func (r SetChargingProfileRequest) Validate() error {
	if err := checkConnector("connectorId", r.ConnectorId, 0); err != nil {
		return err
	}
	if err := within("csChargingProfiles", r.CsChargingProfiles.validate()); err != nil {
		return err
	}
	switch purpose := r.CsChargingProfiles.ChargingProfilePurpose; {
	case purpose == PurposeChargePointMax && r.ConnectorId != 0:
		return &FieldError{Field: "connectorId", Code: PropertyConstraintViolation,
			Reason: fmt.Sprintf("a ChargePointMaxProfile is set on connector 0, not %d", r.ConnectorId)}
	case purpose == PurposeTx && r.ConnectorId == 0:
		return &FieldError{Field: "connectorId", Code: PropertyConstraintViolation,
			Reason: "a TxProfile is set on a connector above 0, not on 0"}
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema.
func (r SetChargingProfileResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "ChargingProfileStatus")
}

// Validate checks r against the OCPP 1.6 schema: each field it gives.
func (r ClearChargingProfileRequest) Validate() error {
	if r.ConnectorId != nil {
		if err := checkConnector("connectorId", *r.ConnectorId, 0); err != nil {
			return err
		}
	}
	if r.StackLevel != nil {
		if err := negative("stackLevel", *r.StackLevel); err != nil {
			return err
		}
	}
	return checkEnum("chargingProfilePurpose", string(r.ChargingProfilePurpose), false,
		r.ChargingProfilePurpose.Valid(), "ChargingProfilePurposeType")
}

// Validate checks r against the OCPP 1.6 schema.
func (r ClearChargingProfileResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "ClearChargingProfileStatus")
}

// Validate checks r against the OCPP 1.6 schema. A duration of 0 cannot
// be told from a missing one; below 0 is out of range.
func (r GetCompositeScheduleRequest) Validate() error {
	return firstError(
		checkConnector("connectorId", r.ConnectorId, 0),
		negative("duration", r.Duration),
		checkEnum("chargingRateUnit", string(r.ChargingRateUnit), false, r.ChargingRateUnit.Valid(), "ChargingRateUnitType"),
	)
}

// Validate checks r against the OCPP 1.6 schema.
func (r GetCompositeScheduleResponse) Validate() error {
	if err := checkEnum("status", string(r.Status), true, r.Status.Valid(), "GetCompositeScheduleStatus"); err != nil {
		return err
	}
	if r.ConnectorId != nil {
		if err := checkConnector("connectorId", *r.ConnectorId, 0); err != nil {
			return err
		}
	}
	if r.ChargingSchedule != nil {
		return within("chargingSchedule", r.ChargingSchedule.validate())
	}
	return nil
}
