package station

import (
	"context"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// boot sends the BootNotification every mode begins with.
func (s *Station) boot(ctx context.Context, p profile) (CallRecord, error) {
	var resp ocpp.BootNotificationResponse
	rec := s.exchange(ctx, ocpp.ActionBootNotification, p.bootNotification(), &resp)
	if rec.Err != nil {
		return rec, s.describe(rec)
	}
	return rec, nil
}

// pipeline sends a BootNotification, then n MeterValues without waiting for
// their answers, then collects the answers. It returns a record per call, in
// the order sent, and the first failure.
func (s *Station) pipeline(ctx context.Context, n int) ([]CallRecord, error) {
	p := newProfile(s.id)
	rec, err := s.boot(ctx, p)
	records := []CallRecord{rec}
	if err != nil {
		return records, err
	}

	type inFlight struct {
		id string
		p  *pending
	}
	flight := make([]inFlight, 0, n)
	var sendErr error
	for k := 1; k <= n; k++ {
		id, pd, err := s.send(ctx, ocpp.ActionMeterValues, p.meterValues(k, nil))
		if err != nil {
			sendErr = err
			break
		}
		flight = append(flight, inFlight{id, pd})
	}

	var firstErr error
	for _, f := range flight {
		a := s.await(ctx, f.id, f.p)
		rec := CallRecord{ID: f.id, Action: ocpp.ActionMeterValues, Sent: a.Sent, Received: a.Received, Err: a.Err}
		records = append(records, rec)
		if rec.Err != nil && firstErr == nil {
			firstErr = s.describe(rec)
		}
	}
	if sendErr != nil {
		records = append(records, CallRecord{Action: ocpp.ActionMeterValues, Err: sendErr})
		if firstErr == nil {
			firstErr = sendErr
		}
	}
	return records, firstErr
}

// idle sends a BootNotification and then stays connected, answering the
// server's calls on the read loop, until hold passes (if not zero), ctx ends
// or the server ends the connection; only the last is a failure.
func (s *Station) idle(ctx context.Context, hold time.Duration) ([]CallRecord, error) {
	rec, err := s.boot(ctx, newProfile(s.id))
	records := []CallRecord{rec}
	if err != nil {
		return records, err
	}
	var expired <-chan time.Time
	if hold > 0 {
		timer := time.NewTimer(hold)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-expired:
	case <-ctx.Done():
	case <-s.Done():
		return records, s.Err()
	}
	return records, nil
}
