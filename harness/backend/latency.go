package backend

import (
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// Latencies is how long the backend's work takes. The zero value is a backend
// with no delay at all, which suits tests about order and threads.
type Latencies struct {
	// Before is spent on every message before its action's work (parsing,
	// loading the station's record).
	Before time.Duration
	// Action is the work of each action; actions not listed take Other.
	Action map[string]time.Duration
	Other  time.Duration
	// After is spent once the reply is sent (writing the audit trail).
	After time.Duration
	// Batch is what one WriteBatch costs whatever its size (the round trip
	// to the database), and BatchItem what each item in it adds.
	Batch, BatchItem time.Duration
}

// WorkshopLatencies returns the per-action latencies of the source workshop:
// a lock-step session of 14 calls keeps the backend busy for 18.8 s.
func WorkshopLatencies() Latencies {
	return Latencies{
		Before: 500 * time.Millisecond,
		Action: map[string]time.Duration{
			ocpp.ActionBootNotification:   1000 * time.Millisecond,
			ocpp.ActionAuthorize:          800 * time.Millisecond,
			ocpp.ActionStartTransaction:   1200 * time.Millisecond,
			ocpp.ActionStopTransaction:    1000 * time.Millisecond,
			ocpp.ActionMeterValues:        600 * time.Millisecond,
			ocpp.ActionStatusNotification: 400 * time.Millisecond,
			ocpp.ActionHeartbeat:          300 * time.Millisecond,
		},
		Other: 500 * time.Millisecond,
		After: 200 * time.Millisecond,
		// A batch write costs what one meter value's processing does, plus
		// a little per row: writing 100 values in one go takes 1.6 s, one
		// at a time 60 s.
		Batch:     600 * time.Millisecond,
		BatchItem: 10 * time.Millisecond,
	}
}

// Scaled returns l with every duration multiplied by f: make demo runs the
// workshop's latencies at a tenth of real time.
func (l Latencies) Scaled(f float64) Latencies {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	out := Latencies{Before: scale(l.Before), Other: scale(l.Other), After: scale(l.After),
		Batch: scale(l.Batch), BatchItem: scale(l.BatchItem)}
	if l.Action != nil {
		out.Action = make(map[string]time.Duration, len(l.Action))
		for a, d := range l.Action {
			out.Action[a] = scale(d)
		}
	}
	return out
}

// For returns the work time of one action.
func (l Latencies) For(action string) time.Duration {
	if d, ok := l.Action[action]; ok {
		return d
	}
	return l.Other
}

// Total returns how long Handle keeps a caller busy with one message of the action.
func (l Latencies) Total(action string) time.Duration {
	return l.Before + l.For(action) + l.After
}

// ForBatch returns how long a WriteBatch of n items takes.
func (l Latencies) ForBatch(n int) time.Duration {
	return l.Batch + time.Duration(n)*l.BatchItem
}
