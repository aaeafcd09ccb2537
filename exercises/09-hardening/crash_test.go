package hardening_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	hardening "github.com/ocppkata/kata/exercises/09-hardening"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// A station deletes what the central system acknowledged: a meter value
// answered and then lost is billing data gone. A graceful shutdown drains
// what was acknowledged (step 08); a crash drains nothing. The only answer
// that survives a crash is one sent once the write holding it is done.

// batchInterval is how long a meter value waits for its batch in these
// cases: a batch is written this long after its first value came.
const batchInterval = time.Second

func TestMeterValuesAcknowledgedWhenWritten(t *testing.T) {
	t.Run("the answer waits for the write", func(t *testing.T) {
		b := backend.New(backend.Options{})
		cfg := timed(hardening.Config{Backend: b, Batch: hardening.BatchConfig{Interval: batchInterval}})
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			// Made in the bubble, so that the writes it holds wait durably.
			writing := b.Hold(func(w backend.Work) bool { return w.Kind == backend.KindBatch })
			st := e.boot(t, "CS0001")
			ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(1))
			if err != nil {
				t.Fatalf("CS0001's MeterValues: %v", err)
			}
			time.Sleep(batchInterval)
			kit.Settle(t)
			if n := writing.Waiting(); n != 1 {
				t.Fatalf("%v after CS0001's meter value came, %d batches were being written, want 1: a batch is "+
					"written Interval after its first value came (step 06)", batchInterval, n)
			}
			// The write takes its time (the test holds it): the station
			// must hear nothing meanwhile.
			select {
			case a := <-ans:
				t.Fatalf("CS0001's MeterValues was answered (%s) while the batch holding it was still being written: "+
					"had the server crashed then, the station would have deleted a meter value that was never stored. "+
					"Answer a meter value once the write of its batch is done, from the push (a group commit), "+
					"not when the reader hands it to the Batcher", describe(a))
			case <-time.After(deadAfter / 2):
			}
			writing.Open()
			select {
			case a := <-ans:
				if a.Err != nil || a.Result == nil {
					t.Fatalf("CS0001's MeterValues, once its batch was written, was answered %s, want its CALLRESULT", describe(a))
				}
				if written := b.Written("CS0001"); !slices.Contains(written, a.ID) {
					t.Errorf("CS0001's MeterValues %s was answered, but the backend wrote only %q", a.ID, written)
				}
			case <-time.After(time.Second):
				t.Fatalf("CS0001's MeterValues was not answered a second after the batch holding it was written, " +
					"want it answered at once: the push that wrote the batch knows, and the station waits")
			}
		})
	})

	t.Run("a write that failed is not acknowledged", func(t *testing.T) {
		b := backend.New(backend.Options{Store: fullDisk{&store.Memory{}}})
		cfg := timed(hardening.Config{Backend: b, Batch: hardening.BatchConfig{Interval: batchInterval}})
		runEdge(t, cfg, func(t *testing.T, e *edge) {
			st := e.boot(t, "CS0001")
			ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(1))
			if err != nil {
				t.Fatalf("CS0001's MeterValues: %v", err)
			}
			select {
			case a := <-ans:
				var ce *ocpp.CallError
				if !errors.As(a.Err, &ce) {
					t.Fatalf("CS0001's MeterValues, whose batch the store refused (disk full), was answered %s, "+
						"want a CALLERROR: the station deletes what it is told is stored. WriteBatch's error "+
						"says the batch was not written; answer each of its values with a CALLERROR "+
						"(InternalError), and the station sends them again", describe(a))
				}
			case <-time.After(silence):
				t.Fatalf("CS0001's MeterValues, whose batch the store refused (disk full), was not answered %v later, "+
					"want a CALLERROR (InternalError): the station waits for an answer before it sends anything "+
					"else", silence)
			}
		})
	})

	t.Run("a crash loses nothing acknowledged", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Each batch takes 2s to write, and two may be written at once.
			b := backend.New(backend.Options{Latencies: backend.Latencies{Batch: 2 * time.Second}})
			srv := hardening.New(timed(hardening.Config{Backend: b,
				Batch: hardening.BatchConfig{Interval: batchInterval, Slots: 2, Concurrency: 2}}))
			l := kit.Serve(t, srv)
			ids := []string{"CS0001", "CS0002", "CS0003", "CS0004"}
			var stations []*station.Station
			for _, id := range ids {
				st, err := station.Dial(t.Context(), id, kit.Stations(l))
				if err != nil {
					t.Fatalf("%s could not connect: %v", id, err)
				}
				t.Cleanup(func() { st.Close() })
				stations = append(stations, st)
			}
			type sent struct {
				station string
				answer  <-chan station.Answer
			}
			var all []sent
			wave := func() []sent {
				var w []sent
				for i, st := range stations {
					for j := range 2 {
						ans, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(10*i+j))
						if err != nil {
							t.Fatalf("%s's MeterValues: %v", st.ID(), err)
						}
						w = append(w, sent{st.ID(), ans})
					}
				}
				all = append(all, w...)
				return w
			}
			// The first wave is written from 1s to 3s; the second from
			// 4.5s, and still being written at the crash; the third waits
			// for its batch.
			first := wave()
			time.Sleep(3*time.Second + batchInterval/2)
			wave()
			time.Sleep(batchInterval + batchInterval/2)
			wave()
			time.Sleep(batchInterval / 2)
			kit.Settle(t)
			for _, s := range first {
				select {
				case a := <-s.answer:
					if a.Result == nil {
						t.Fatalf("%s's MeterValues, whose batch was written 2s ago, was answered %s, want its CALLRESULT",
							s.station, describe(a))
					}
					if !slices.Contains(b.Written(s.station), a.ID) {
						t.Fatalf("%s's MeterValues %s was answered before its batch was written: a crash then loses "+
							"what the station was told is stored", s.station, a.ID)
					}
				default:
					t.Fatalf("%s's MeterValues, whose batch was written 2s ago, had no answer yet, want its CALLRESULT "+
						"as soon as the batch was written", s.station)
				}
			}
			// The crash: Close abandons everything, as kill -9 would.
			kit.CheckClose(t, srv.Close())
			var lost []string
			for _, s := range all[len(first):] {
				a := <-s.answer // the connection is closed: every call has its answer, or its error
				if a.Result != nil && !slices.Contains(b.Written(s.station), a.ID) {
					lost = append(lost, fmt.Sprintf("%s's MeterValues %q", s.station, a.ID))
				}
			}
			if len(lost) > 0 {
				t.Errorf("%d of the %d meter values sent after the first batch were acknowledged and never written "+
					"(%s): the server crashed with them in memory, waiting for their batch or in its write, and "+
					"their stations have deleted them",
					len(lost), len(all)-len(first), strings.Join(lost, ", "))
			}
		})
	})
}

// fullDisk is a store whose every write of meter values fails.
type fullDisk struct{ *store.Memory }

func (fullDisk) MeterValues(context.Context, []store.Reading) error {
	return errors.New("disk full")
}

// describe says what a station's call got: its CALLRESULT, a CALLERROR, or
// why nothing came.
func describe(a station.Answer) string {
	if a.Result != nil {
		return "with its CALLRESULT"
	}
	var ce *ocpp.CallError
	if errors.As(a.Err, &ce) {
		return "with a CALLERROR " + string(ce.Code)
	}
	return "not at all (" + a.Err.Error() + ")"
}
