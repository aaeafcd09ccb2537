package station

import (
	"context"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// SessionCalls is the number of calls in a charging session.
const SessionCalls = 14

// SessionActions are the actions of a charging session's calls, in order.
// It is a table to read, for tests that predict a session's work; changing
// it does not change what Session sends.
var SessionActions = []string{
	ocpp.ActionBootNotification,
	ocpp.ActionStatusNotification, // Available
	ocpp.ActionAuthorize,
	ocpp.ActionStatusNotification, // Preparing
	ocpp.ActionStartTransaction,
	ocpp.ActionStatusNotification, // Charging
	ocpp.ActionMeterValues,
	ocpp.ActionMeterValues,
	ocpp.ActionMeterValues,
	ocpp.ActionMeterValues,
	ocpp.ActionMeterValues,
	ocpp.ActionStatusNotification, // Finishing
	ocpp.ActionStopTransaction,
	ocpp.ActionStatusNotification, // Available
}

// sessionSamples is how many MeterValues a session sends while charging.
const sessionSamples = 5

// CallRecord is one call the station made and how it went.
type CallRecord struct {
	ID, Action string
	Sent       time.Time
	Received   time.Time // zero when no answer came
	Err        error     // a *ocpp.CallError, or why no answer came
}

// Latency is how long the call waited for its answer, or 0 if none came.
func (r CallRecord) Latency() time.Duration {
	if r.Received.IsZero() {
		return 0
	}
	return r.Received.Sub(r.Sent)
}

// Session runs one charging session, 14 calls in lock-step, each waiting for
// the answer to the one before: BootNotification, StatusNotification
// Available, Authorize, StatusNotification Preparing, StartTransaction,
// StatusNotification Charging, 5 MeterValues, StatusNotification Finishing,
// StopTransaction and StatusNotification Available.
//
// The session stops at the first call that fails and returns the records so
// far, the failed one last, with its error. A business "no" (a rejected boot
// or badge) is not a failure: the simulator is there to load the server, so
// it charges anyway.
func (s *Station) Session(ctx context.Context) ([]CallRecord, error) {
	p := newProfile(s.id)
	records := make([]CallRecord, 0, SessionCalls)
	step := func(action string, req, resp any) error {
		rec := s.exchange(ctx, action, req, resp)
		records = append(records, rec)
		if rec.Err != nil {
			return s.describe(rec)
		}
		return nil
	}
	status := func(st ocpp.ChargePointStatus) error {
		return step(ocpp.ActionStatusNotification, statusNotification(st), nil)
	}

	var boot ocpp.BootNotificationResponse
	if err := step(ocpp.ActionBootNotification, p.bootNotification(), &boot); err != nil {
		return records, err
	}
	if err := status(ocpp.StatusAvailable); err != nil {
		return records, err
	}
	if err := step(ocpp.ActionAuthorize, ocpp.AuthorizeRequest{IdTag: p.idTag}, nil); err != nil {
		return records, err
	}
	if err := status(ocpp.StatusPreparing); err != nil {
		return records, err
	}
	var started ocpp.StartTransactionResponse
	start := ocpp.StartTransactionRequest{
		ConnectorId: 1,
		IdTag:       p.idTag,
		MeterStart:  p.energy(0),
		Timestamp:   ocpp.DateTime{Time: time.Now()},
	}
	if err := step(ocpp.ActionStartTransaction, start, &started); err != nil {
		return records, err
	}
	tx := started.TransactionId
	if err := status(ocpp.StatusCharging); err != nil {
		return records, err
	}
	for n := 1; n <= sessionSamples; n++ {
		if err := step(ocpp.ActionMeterValues, p.meterValues(n, &tx), nil); err != nil {
			return records, err
		}
	}
	if err := status(ocpp.StatusFinishing); err != nil {
		return records, err
	}
	stop := ocpp.StopTransactionRequest{
		TransactionId: tx,
		MeterStop:     p.energy(sessionSamples),
		Timestamp:     ocpp.DateTime{Time: time.Now()},
		IdTag:         p.idTag,
		Reason:        ocpp.ReasonLocal,
	}
	if err := step(ocpp.ActionStopTransaction, stop, nil); err != nil {
		return records, err
	}
	if err := status(ocpp.StatusAvailable); err != nil {
		return records, err
	}
	return records, nil
}
