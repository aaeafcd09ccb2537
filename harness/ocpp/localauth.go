package ocpp

import "fmt"

// Actions of the Local Auth List Management profile, which the central
// system sends to a station: the list of idTags the station may authorize
// on its own, offline included.
const (
	ActionGetLocalListVersion = "GetLocalListVersion"
	ActionSendLocalList       = "SendLocalList"
)

// GetLocalListVersionRequest asks a station for the version of its local
// list; its payload is empty.
type GetLocalListVersionRequest struct{}

// GetLocalListVersionResponse answers a GetLocalListVersionRequest.
type GetLocalListVersionResponse struct {
	// ListVersion is the version of the station's list: 0 when it has
	// none or an empty one, -1 when it does not support local lists
	// (OCPP 1.6 §5.10).
	ListVersion int `json:"listVersion"`
}

// UpdateType says how a SendLocalList changes the station's list.
type UpdateType string

// The values of UpdateType.
const (
	// UpdateDifferential changes the entries it names: an entry with an
	// idTagInfo is added or replaced, one without is removed.
	UpdateDifferential UpdateType = "Differential"
	// UpdateFull replaces the whole list with the entries sent; every
	// entry has an idTagInfo.
	UpdateFull UpdateType = "Full"
)

// Valid reports whether t is in the enumeration.
func (t UpdateType) Valid() bool { return t == UpdateDifferential || t == UpdateFull }

// AuthorizationData is one entry of a local list. IdTagInfo is required in
// a full update; in a differential one, an entry without it is removed.
type AuthorizationData struct {
	IdTag     string     `json:"idTag"`
	IdTagInfo *IdTagInfo `json:"idTagInfo,omitempty"`
}

// SendLocalListRequest sends a station its local list, whole or as
// changes.
type SendLocalListRequest struct {
	// ListVersion is the version of the list once the update is applied.
	ListVersion            int                 `json:"listVersion"`
	LocalAuthorizationList []AuthorizationData `json:"localAuthorizationList,omitempty"`
	UpdateType             UpdateType          `json:"updateType"`
}

// UpdateStatus answers a SendLocalList.
type UpdateStatus string

// The values of UpdateStatus.
const (
	UpdateAccepted        UpdateStatus = "Accepted"
	UpdateFailed          UpdateStatus = "Failed"
	UpdateNotSupported    UpdateStatus = "NotSupported"
	UpdateVersionMismatch UpdateStatus = "VersionMismatch"
)

// Valid reports whether s is in the enumeration.
func (s UpdateStatus) Valid() bool {
	switch s {
	case UpdateAccepted, UpdateFailed, UpdateNotSupported, UpdateVersionMismatch:
		return true
	}
	return false
}

// SendLocalListResponse answers a SendLocalListRequest.
type SendLocalListResponse struct {
	Status UpdateStatus `json:"status"`
}

// Validate accepts every GetLocalListVersionRequest: its payload is empty.
func (GetLocalListVersionRequest) Validate() error { return nil }

// Validate checks r against OCPP 1.6 §5.10: a version is -1 or more.
func (r GetLocalListVersionResponse) Validate() error {
	return checkAtLeast("listVersion", r.ListVersion, -1)
}

// Validate checks r against the OCPP 1.6 schema: the version of a list
// sent is 0 or more (§5.10 keeps -1 for "not supported"), every entry has
// an idTag, and in a full update an idTagInfo; an idTag appears once,
// since two entries for one tag would leave the station to pick.
func (r SendLocalListRequest) Validate() error {
	if err := firstError(
		checkAtLeast("listVersion", r.ListVersion, 0),
		checkEnum("updateType", string(r.UpdateType), true, r.UpdateType.Valid(), "UpdateType"),
	); err != nil {
		return err
	}
	seen := make(map[string]bool, len(r.LocalAuthorizationList))
	for i, e := range r.LocalAuthorizationList {
		path := fmt.Sprintf("localAuthorizationList[%d]", i)
		if err := checkString(path+".idTag", e.IdTag, MaxCiString20, true); err != nil {
			return err
		}
		if seen[e.IdTag] {
			return &FieldError{Field: path + ".idTag", Code: PropertyConstraintViolation,
				Reason: fmt.Sprintf("idTag %q is in the list twice", e.IdTag)}
		}
		seen[e.IdTag] = true
		switch {
		case e.IdTagInfo != nil:
			if err := within(path+".idTagInfo", e.IdTagInfo.validate()); err != nil {
				return err
			}
		case r.UpdateType == UpdateFull:
			return &FieldError{Field: path + ".idTagInfo", Code: OccurenceConstraintViolation,
				Reason: "required in a Full update (without it, a Differential one removes the idTag)"}
		}
	}
	return nil
}

// Validate checks r against the OCPP 1.6 schema.
func (r SendLocalListResponse) Validate() error {
	return checkEnum("status", string(r.Status), true, r.Status.Valid(), "UpdateStatus")
}
