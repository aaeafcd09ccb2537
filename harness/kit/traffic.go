package kit

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// Dial connects station n (CS0001 for 1) to the server behind l. The
// caller closes it.
func Dial(t testing.TB, l *memnet.Listener, n int) *station.Station {
	t.Helper()
	st, err := station.Dial(t.Context(), station.StationID(n), Stations(l))
	if err != nil {
		t.Fatalf("connecting %s: %v", station.StationID(n), err)
	}
	return st
}

// Boot connects station n and registers it with a BootNotification; the
// station is closed when the test ends.
func Boot(t testing.TB, l *memnet.Listener, n int) *station.Station {
	t.Helper()
	st := Dial(t, l, n)
	t.Cleanup(func() { st.Close() })
	req := ocpp.BootNotificationRequest{ChargePointVendor: "Kata", ChargePointModel: "Test"}
	if err := st.Call(t.Context(), ocpp.ActionBootNotification, req, nil); err != nil {
		t.Fatalf("BootNotification from %s: %v", st.ID(), err)
	}
	return st
}

// SendMeterValues pipelines n meter values from st: it sends them back to
// back without waiting, and returns their answers to come. The station
// numbers its calls, so their ids tell the order they were sent in.
func SendMeterValues(t testing.TB, st *station.Station, n int) []<-chan station.Answer {
	t.Helper()
	answers := make([]<-chan station.Answer, 0, n)
	for i := range n {
		req := station.MeterValue(i)
		ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, req)
		if err != nil {
			t.Errorf("%s's meter value %d: %v", st.ID(), i+1, err)
			return answers
		}
		answers = append(answers, ans)
	}
	return answers
}

// AwaitAnswers waits for every answer, failing the test for an error or
// for an answer that has not come within the given time (fake time, in a
// synctest bubble: the timer is also what keeps a missing answer from
// looking like a deadlock).
func AwaitAnswers(t testing.TB, answers []<-chan station.Answer, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for i, ans := range answers {
		select {
		case a := <-ans:
			if a.Err != nil {
				t.Errorf("call %s: %v", a.ID, a.Err)
			}
		case <-deadline:
			t.Errorf("%d of %d calls were not answered within %v", len(answers)-i, len(answers), within)
			return
		}
	}
}

// IDs returns the call ids first, first+1, …, first+n-1: what a station
// that numbers its calls sent, in order.
func IDs(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

// Processed returns the call ids of a station's background work, in the
// order the backend started it.
func Processed(b *backend.Backend, id string) []int {
	var order []int
	for _, r := range b.StationRecords(id, backend.KindProcess) {
		n, err := strconv.Atoi(r.CallID)
		if err != nil {
			panic(fmt.Sprintf("kit: call id %q of %s is not a number: the stations number their calls", r.CallID, id))
		}
		order = append(order, n)
	}
	return order
}
