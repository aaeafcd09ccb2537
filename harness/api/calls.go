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

// actions are the actions a POST may call, in alphabetical order: the
// Core profile's calls to a station, and TriggerMessage.
var actions = []string{
	ocpp.ActionChangeAvailability, ocpp.ActionChangeConfiguration, ocpp.ActionClearCache,
	ocpp.ActionDataTransfer, ocpp.ActionGetConfiguration, ocpp.ActionRemoteStartTransaction,
	ocpp.ActionRemoteStopTransaction, ocpp.ActionReset, ocpp.ActionTriggerMessage,
	ocpp.ActionUnlockConnector,
}

// call serves POST /api/stations/{id}/{action}.
func (a *api) call(w http.ResponseWriter, r *http.Request) {
	station, action := r.PathValue("id"), r.PathValue("action")
	req, ok := ocpp.RequestToStationFor(action)
	if !ok || !slices.Contains(actions, action) {
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
	log.Info("api: call answered")
	writeJSON(w, http.StatusOK, resp)
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
	for _, known := range actions {
		if strings.EqualFold(action, known) {
			return fmt.Sprintf("no action %q: did you mean %s? Action names are case-sensitive", action, known)
		}
	}
	return fmt.Sprintf("no action %q: the API calls stations with %s", action, strings.Join(actions, ", "))
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
	fields := jsonFields(req)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return http.StatusBadRequest, errorBody{Error: fmt.Sprintf(
			"the body must be a JSON object, %s's request payload, such as %s", action, example(action))}
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		if !slices.Contains(fields, name) {
			have := "no fields"
			if len(fields) > 0 {
				have = "the fields " + strings.Join(fields, ", ")
			}
			return http.StatusBadRequest, errorBody{Field: name, Error: fmt.Sprintf(
				"field %q is not part of a %s request here: it has %s (names are case-sensitive)", name, action, have)}
		}
	}
	call := ocpp.Call{ID: "api", Action: action, Payload: body}
	if err := call.UnmarshalPayload(req); err != nil {
		reason := err.Error()
		var fe *ocpp.FrameError
		if errors.As(err, &fe) {
			reason = fe.Reason
		}
		out := errorBody{Error: fmt.Sprintf("%s request breaks the OCPP 1.6 schema: %s", action, reason)}
		var (
			fieldErr *ocpp.FieldError
			typeErr  *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &fieldErr):
			out.Field = fieldErr.Field
		case errors.As(err, &typeErr):
			out.Field = typeErr.Field
		}
		return http.StatusBadRequest, out
	}
	return 0, errorBody{}
}

// jsonFields returns the JSON names of the fields of *v, a struct.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// example is a valid payload for action, for the message of a body that is
// no JSON object.
func example(action string) string {
	switch action {
	case ocpp.ActionRemoteStartTransaction:
		return `{"idTag":"OPERATOR1","connectorId":1}`
	case ocpp.ActionRemoteStopTransaction:
		return `{"transactionId":1}`
	case ocpp.ActionReset:
		return `{"type":"Soft"}`
	case ocpp.ActionChangeAvailability:
		return `{"connectorId":1,"type":"Inoperative"}`
	case ocpp.ActionChangeConfiguration:
		return `{"key":"HeartbeatInterval","value":"300"}`
	case ocpp.ActionGetConfiguration:
		return `{"key":["HeartbeatInterval"]}`
	case ocpp.ActionUnlockConnector:
		return `{"connectorId":1}`
	case ocpp.ActionDataTransfer:
		return `{"vendorId":"com.example","data":"..."}`
	case ocpp.ActionTriggerMessage:
		return `{"requestedMessage":"StatusNotification","connectorId":1}`
	}
	return "{}"
}

// outcome classifies Call's error as the status and body to answer; nil is
// 200, and status 0 means the operator's request ended (the client hung
// up), so there is no one to answer.
func (a *api) outcome(reqCtx context.Context, station, action string, took time.Duration, err error) (int, errorBody) {
	var callErr *ocpp.CallError
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
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, errorBody{Error: fmt.Sprintf(
			"station %q did not answer %s within %s (%v); ?timeout= waits longer, up to %s",
			station, action, short(took.Round(time.Millisecond)), err, short(MaxTimeout))}
	default:
		return http.StatusBadGateway, errorBody{Error: fmt.Sprintf(
			"calling station %q failed: %v; it may or may not have done what it was asked", station, err)}
	}
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
