package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
)

// An action is one a POST may call: its OCPP 1.6 feature profile, and a
// valid request payload to show the operator.
type action struct {
	Name, Profile, Example string
}

// The feature profiles of OCPP 1.6 that the API calls stations with.
const (
	profileCore        = "Core"
	profileFirmware    = "Firmware Management"
	profileLocalList   = "Local Auth List Management"
	profileReservation = "Reservation"
	profileSmart       = "Smart Charging"
	profileTrigger     = "Remote Trigger"
)

// actions are the actions a POST may call, in alphabetical order: every
// call the central system makes to a station in OCPP 1.6's six profiles.
var actions = []action{
	{ocpp.ActionCancelReservation, profileReservation, `{"reservationId":1}`},
	{ocpp.ActionChangeAvailability, profileCore, `{"connectorId":1,"type":"Inoperative"}`},
	{ocpp.ActionChangeConfiguration, profileCore, `{"key":"HeartbeatInterval","value":"300"}`},
	{ocpp.ActionClearCache, profileCore, `{}`},
	{ocpp.ActionClearChargingProfile, profileSmart, `{"connectorId":1,"chargingProfilePurpose":"TxDefaultProfile"}`},
	{ocpp.ActionDataTransfer, profileCore, `{"vendorId":"com.example","data":"..."}`},
	{ocpp.ActionGetCompositeSchedule, profileSmart, `{"connectorId":1,"duration":3600,"chargingRateUnit":"A"}`},
	{ocpp.ActionGetConfiguration, profileCore, `{"key":["HeartbeatInterval"]}`},
	{ocpp.ActionGetDiagnostics, profileFirmware, `{"location":"ftp://diagnostics.example.com/uploads/"}`},
	{ocpp.ActionGetLocalListVersion, profileLocalList, `{}`},
	{ocpp.ActionRemoteStartTransaction, profileCore, `{"idTag":"OPERATOR1","connectorId":1}`},
	{ocpp.ActionRemoteStopTransaction, profileCore, `{"transactionId":1}`},
	{ocpp.ActionReserveNow, profileReservation, `{"connectorId":1,"expiryDate":"2030-01-01T12:00:00Z","idTag":"OPERATOR1","reservationId":1}`},
	{ocpp.ActionReset, profileCore, `{"type":"Soft"}`},
	{ocpp.ActionSendLocalList, profileLocalList, `{"listVersion":1,"updateType":"Full","localAuthorizationList":[{"idTag":"OPERATOR1","idTagInfo":{"status":"Accepted"}}]}`},
	{ocpp.ActionSetChargingProfile, profileSmart, `{"connectorId":1,"csChargingProfiles":{"chargingProfileId":1,"stackLevel":0,` +
		`"chargingProfilePurpose":"TxDefaultProfile","chargingProfileKind":"Relative",` +
		`"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":0,"limit":16}]}}}`},
	{ocpp.ActionTriggerMessage, profileTrigger, `{"requestedMessage":"StatusNotification","connectorId":1}`},
	{ocpp.ActionUnlockConnector, profileCore, `{"connectorId":1}`},
	{ocpp.ActionUpdateFirmware, profileFirmware, `{"location":"https://firmware.example.com/station-2.0.bin","retrieveDate":"2030-01-01T12:00:00Z"}`},
}

// lookup returns the action a POST names, if the API calls it.
func lookup(name string) (action, bool) {
	for _, a := range actions {
		if a.Name == name {
			return a, true
		}
	}
	return action{}, false
}

// call serves POST /api/stations/{id}/{action}.
func (a *api) call(w http.ResponseWriter, r *http.Request) {
	station, action := r.PathValue("id"), r.PathValue("action")
	req, ok := ocpp.RequestToStationFor(action)
	if _, listed := lookup(action); !ok || !listed {
		writeError(w, http.StatusNotFound, unknownAction(action))
		return
	}
	if a.opts.Call == nil {
		step := "this step"
		if a.opts.Step != "" {
			step = "step " + a.opts.Step
		}
		writeError(w, http.StatusNotImplemented, fmt.Sprintf(
			"%s has no Call: the server calls stations from step 07 on (make serve STEP=7 or later)", step))
		return
	}
	timeout, err := a.timeoutOf(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if why := a.notAccepted(station, action); why != "" {
		writeError(w, http.StatusConflict, why)
		return
	}
	if status, body := decodeRequest(w, r, action, req); status != 0 {
		writeJSON(w, status, body)
		return
	}
	resp, _ := ocpp.ResponseFor(action)

	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	start := time.Now()
	err = a.opts.Call(ctx, station, action, req, resp)
	took := time.Since(start)
	status, body := a.outcome(r.Context(), station, action, took, err)
	if err == nil {
		// The step's Call checks the answer as it decodes it; a Call
		// that does not (a learner's, at step 07) must not pass on what
		// breaks the schema either.
		if v, ok := resp.(interface{ Validate() error }); ok {
			if verr := v.Validate(); verr != nil {
				code := ocpp.PropertyConstraintViolation
				var fieldErr *ocpp.FieldError
				if errors.As(verr, &fieldErr) {
					code = fieldErr.Code
				}
				err = fmt.Errorf("%s to %s: the answer breaks the schema: %w", action, station, verr)
				status, body = http.StatusBadGateway, brokenAnswer(station, action, code, verr.Error(), verr)
			}
		}
	}
	log := a.log.With("station", station, "action", action, "status", status, "took", took)
	switch {
	case status == 0:
		log.Info("api: the operator left before the station answered", "err", err)
		return
	case err != nil:
		log.Warn("api: call failed", "err", err)
		writeJSON(w, status, body)
		return
	}
	// The station has done what it answered, whether the operator waits
	// for the answer or not: what it now holds is stored all the same.
	if err := a.record(context.WithoutCancel(r.Context()), station, req, resp, time.Now()); err != nil {
		log.Error("api: the station's answer was not stored", "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{
			Error: fmt.Sprintf("station %q answered %s as \"answer\" says, but storing that failed: %v; "+
				"GET /api/stations/%s/%s does not show what the station holds now until the call is made "+
				"again and stored; the server's log has the details", station, action, err, station, recordedIn(action)),
			Answer: resp,
		})
		return
	}
	log.Info("api: call answered")
	writeJSON(w, http.StatusOK, resp)
}

// record keeps what a station's answer says it now holds: the local list
// of a SendLocalList, a reservation made or cancelled, charging profiles
// set or cleared (a RemoteStartTransaction's among them); each once the
// station Accepted, and nothing otherwise.
// at is when it answered.
func (a *api) record(ctx context.Context, station string, req, resp any, at time.Time) error {
	st := a.opts.Store
	switch req := req.(type) {
	case *ocpp.SendLocalListRequest:
		if resp.(*ocpp.SendLocalListResponse).Status == ocpp.UpdateAccepted {
			return st.SendLocalList(ctx, station, *req, at)
		}
	case *ocpp.ReserveNowRequest:
		if resp.(*ocpp.ReserveNowResponse).Status == ocpp.ReservationAccepted {
			return st.Reserve(ctx, station, *req, at)
		}
	case *ocpp.CancelReservationRequest:
		if resp.(*ocpp.CancelReservationResponse).Status == ocpp.CancelReservationAccepted {
			_, err := st.EndReservation(ctx, station, req.ReservationId)
			return err
		}
	case *ocpp.SetChargingProfileRequest:
		if resp.(*ocpp.SetChargingProfileResponse).Status == ocpp.ChargingProfileAccepted {
			return st.SetChargingProfile(ctx, station, *req, at)
		}
	case *ocpp.ClearChargingProfileRequest:
		if resp.(*ocpp.ClearChargingProfileResponse).Status == ocpp.ClearChargingProfileAccepted {
			_, err := st.ClearChargingProfile(ctx, station, *req)
			return err
		}
	case *ocpp.RemoteStartTransactionRequest:
		// The TxProfile a remote start brings is the transaction's, on
		// the connector it names (without one the station picks, and the
		// store cannot know which); the backend clears it when the
		// transaction stops.
		accepted := resp.(*ocpp.RemoteStartTransactionResponse).Status == ocpp.RemoteStartStopAccepted
		if accepted && req.ChargingProfile != nil && req.ConnectorId != nil && *req.ConnectorId > 0 {
			return st.SetChargingProfile(ctx, station, ocpp.SetChargingProfileRequest{
				ConnectorId: *req.ConnectorId, CsChargingProfiles: *req.ChargingProfile}, at)
		}
	}
	return nil
}

// recordedIn names the sub-resource of a station where record keeps what
// an action's answer says.
func recordedIn(action string) string {
	switch action {
	case ocpp.ActionSendLocalList:
		return "local-list"
	case ocpp.ActionReserveNow, ocpp.ActionCancelReservation:
		return "reservations"
	}
	return "charging-profiles"
}

// notAccepted says why a station that was not Accepted at its
// BootNotification may not get this call, or "".
func (a *api) notAccepted(station, action string) string {
	if a.opts.Registration == nil {
		return ""
	}
	switch a.opts.Registration(station) {
	case string(ocpp.RegistrationRejected):
		return fmt.Sprintf("station %q was Rejected at its BootNotification: the central system sends it nothing (OCPP 1.6 §4.2)", station)
	case string(ocpp.RegistrationPending):
		if action == ocpp.ActionRemoteStartTransaction || action == ocpp.ActionRemoteStopTransaction {
			return fmt.Sprintf("station %q is Pending: %s is not allowed until it is Accepted (OCPP 1.6 §4.2)", station, action)
		}
		return fmt.Sprintf("station %q is Pending: this server calls a station once its BootNotification was Accepted", station)
	}
	return ""
}

// unknownAction says which actions there are, and the right spelling of
// one that differs only in case.
func unknownAction(action string) string {
	names := make([]string, 0, len(actions))
	for _, known := range actions {
		if strings.EqualFold(action, known.Name) {
			return fmt.Sprintf("no action %q: did you mean %s? Action names are case-sensitive", action, known.Name)
		}
		names = append(names, known.Name)
	}
	return fmt.Sprintf("no action %q: the API calls stations with %s (GET /api lists them with examples)", action, strings.Join(names, ", "))
}

// timeoutOf reads ?timeout=: a Go duration such as 45s or 2m, or a number
// of seconds.
func (a *api) timeoutOf(r *http.Request) (time.Duration, error) {
	raw := r.URL.Query().Get("timeout")
	if raw == "" {
		return a.timeout, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		secs, serr := strconv.ParseFloat(raw, 64)
		if serr != nil {
			return 0, fmt.Errorf("timeout %q is not a duration: write it like 45s or 2m", raw)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 || d > MaxTimeout {
		return 0, fmt.Errorf("timeout %s is out of range: it must be above 0 and at most %s", raw, short(MaxTimeout))
	}
	return d, nil
}

// decodeRequest reads the body into req, a pointer to the action's request
// type, and checks it against the OCPP 1.6 schema. It returns status 0 if
// the request is good, or the status and body of the error to answer.
func decodeRequest(w http.ResponseWriter, r *http.Request, action string, req any) (int, errorBody) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf(
			"the body is over %d bytes: an OCPP request payload is far smaller", tooBig.Limit)}
	case err != nil:
		return http.StatusBadRequest, errorBody{Error: fmt.Sprintf("reading the body: %v", err)}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return http.StatusBadRequest, errorBody{Error: fmt.Sprintf(
			"the body must be a JSON object, %s's request payload, such as %s", action, example(action))}
	}
	if field, in, fields := unknownField(reflect.TypeOf(req).Elem(), body, ""); field != "" {
		have := "no fields"
		if len(fields) > 0 {
			have = "the fields " + strings.Join(fields, ", ")
		}
		what := "a " + action + " request"
		if in != "" {
			what = fmt.Sprintf("%s of a %s request", in, action)
		}
		return http.StatusBadRequest, errorBody{Field: field, Error: fmt.Sprintf(
			"field %q is not part of %s here: it has %s (names are case-sensitive)", field, what, have)}
	}
	call := ocpp.Call{ID: "api", Action: action, Payload: body}
	if err := call.UnmarshalPayload(req); err != nil {
		reason := err.Error()
		var fe *ocpp.FrameError
		if errors.As(err, &fe) {
			reason = fe.Reason
		}
		return http.StatusBadRequest, errorBody{
			Error: fmt.Sprintf("%s request breaks the OCPP 1.6 schema: %s", action, reason), Field: fieldOf(err)}
	}
	return 0, errorBody{}
}

// unknownField finds the first field of raw, a value of type t, that t
// does not have, at any depth: nested objects (a charging profile, an
// idTagInfo) and arrays of them are checked as the top level is. It
// returns the field's path, the path of the object that holds it ("" at
// the top) and the fields that object may have; "" if there is none.
// What does not decode as t expects (a string for an object) is left to
// the decoder, which words that error.
func unknownField(t reflect.Type, raw json.RawMessage, path string) (field, in string, fields []string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return "", "", nil // a value with its own syntax, such as a dateTime
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", "", nil
		}
		for i, e := range elems {
			if field, in, fields := unknownField(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); field != "" {
				return field, in, fields
			}
		}
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", "", nil
		}
		names := jsonFields(t)
		prefix := path
		if prefix != "" {
			prefix += "."
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			i := slices.IndexFunc(names, func(f jsonField) bool { return f.name == name })
			if i < 0 {
				have := make([]string, len(names))
				for j, f := range names {
					have[j] = f.name
				}
				return prefix + name, path, have
			}
			if field, in, fields := unknownField(names[i].typ, obj[name], prefix+name); field != "" {
				return field, in, fields
			}
		}
	}
	return "", "", nil
}

// jsonField is a struct field as JSON names it.
type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields returns the JSON names and the types of the fields of t, a
// struct.
func jsonFields(t reflect.Type) []jsonField {
	var names []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, jsonField{name, f.Type})
	}
	return names
}

// example is a valid payload for action, for the message of a body that is
// no JSON object.
func example(name string) string {
	if a, ok := lookup(name); ok {
		return a.Example
	}
	return "{}"
}

// outcome classifies Call's error as the status and body to answer; nil is
// 200, and status 0 means the operator's request ended (the client hung
// up), so there is no one to answer.
func (a *api) outcome(reqCtx context.Context, station, action string, took time.Duration, err error) (int, errorBody) {
	var (
		callErr  *ocpp.CallError
		frameErr *ocpp.FrameError
	)
	switch {
	case err == nil:
		return http.StatusOK, errorBody{}
	case reqCtx.Err() != nil:
		return 0, errorBody{}
	case a.opts.NotConnected != nil && a.opts.NotConnected(err):
		// The step does not know the station now; the store tells a
		// station that never came from one that left.
		_, serr := a.opts.Store.Station(reqCtx, station)
		if errors.Is(serr, store.ErrNotFound) && !a.connected(station) {
			return http.StatusNotFound, errorBody{Error: fmt.Sprintf(
				"no station %q: none with that id has connected; GET /api/stations lists those that have", station)}
		}
		return http.StatusConflict, errorBody{Error: fmt.Sprintf(
			"station %q cannot take calls now (%v): it must be connected and booted; try again when it is", station, err)}
	case errors.As(err, &callErr):
		out := errorBody{
			Error: fmt.Sprintf("station %q answered %s with a CALLERROR: %s: %s",
				station, action, callErr.Code, callErr.Description),
			Code: string(callErr.Code), Description: callErr.Description,
		}
		if d := bytes.TrimSpace(callErr.Details); len(d) > 0 && string(d) != "{}" && json.Valid(d) {
			out.Details = d
		}
		return http.StatusBadGateway, out
	case errors.As(err, &frameErr) && frameErr.Type == ocpp.TypeCallResult:
		return http.StatusBadGateway, brokenAnswer(station, action, frameErr.Code, frameErr.Reason, frameErr.Err)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, errorBody{Error: fmt.Sprintf(
			"station %q did not answer %s within %s (%v); ?timeout= waits longer, up to %s",
			station, action, short(took.Round(time.Millisecond)), err, short(MaxTimeout))}
	default:
		return http.StatusBadGateway, errorBody{Error: fmt.Sprintf(
			"calling station %q failed: %v; it may or may not have done what it was asked", station, err)}
	}
}

// brokenAnswer is the 502 of an answer that breaks the OCPP 1.6 schema:
// the station answered, but what it said is not passed on.
func brokenAnswer(station, action string, code ocpp.ErrorCode, reason string, cause error) errorBody {
	return errorBody{
		Error: fmt.Sprintf("station %q answered %s with a payload that breaks the OCPP 1.6 schema (%s): %s; "+
			"it is not passed on: the station may or may not have done what it was asked", station, action, code, reason),
		Code: string(code), Field: fieldOf(cause),
	}
}

// fieldOf names the field a payload's error is about: the schema's
// violation, or a value of the wrong JSON type; "" if it names none.
func fieldOf(err error) string {
	var (
		fieldErr *ocpp.FieldError
		typeErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &fieldErr):
		return fieldErr.Field
	case errors.As(err, &typeErr):
		return typeErr.Field
	}
	return ""
}

// short writes d as people do: 5m rather than 5m0s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
