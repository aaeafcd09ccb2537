package batching_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	batching "github.com/ocppkata/kata/exercises/06-batching"
	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/stations/station"
)

// The server's tests: its meter values go through the Batcher to the
// backend's WriteBatch, on the workshop's latencies and fake time.

var serverBatch = batching.BatchConfig{Size: 50, Interval: time.Second, Concurrency: 2, Slots: 4}

func TestMeterValuesWrittenInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		srv := batching.New(batching.Config{Backend: b, Workers: 4, Batch: serverBatch})
		l := kit.Serve(t, srv)

		// 100 stations send 10 meter values each: 1000 in all.
		// They all boot first, then send at once.
		const stations, each = 100, 10
		booted := make([]*station.Station, stations)
		var wg sync.WaitGroup
		for i := range stations {
			wg.Go(func() { booted[i] = kit.Boot(t, l, i+1) })
		}
		wg.Wait()
		for _, st := range booted {
			wg.Go(func() { kit.AwaitAnswers(t, kit.SendMeterValues(t, st, each), time.Minute) })
		}
		wg.Wait()
		time.Sleep(time.Minute) // every write is done by now
		synctest.Wait()

		batches := b.Batches()
		sizes := make([]int, len(batches))
		for i, r := range batches {
			sizes[i] = len(r.Items)
		}

		// Each station's values, ids 2 to 11 (its BootNotification was 1):
		// written once each, in order within each write, writes not
		// interleaved.
		var wrong []string
		for i := range stations {
			id := station.StationID(i + 1)
			if got := writtenRuns(batches, id); !slices.Equal(slices.Concat(got...), kit.IDs(2, each)) {
				wrong = append(wrong, fmt.Sprintf("%s's were written as %v", id, got))
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%d stations' meter values were not each written once, in order (want ids 2 to %d), e.g. %s",
				len(wrong), each+1, strings.Join(wrong[:min(3, len(wrong))], "; "))
		}
		// The values pour in faster than they are written: every slot's
		// writes are full batches of 50, but for one, of what is left over.
		// The backend names each write by its slot.
		bySlot := make(map[string][]int)
		for _, r := range batches {
			bySlot[r.Worker] = append(bySlot[r.Worker], len(r.Items))
		}
		want, told := 0, false
		for _, slot := range slices.Sorted(maps.Keys(bySlot)) {
			sizes := bySlot[slot]
			total, full := 0, 0
			for _, n := range sizes {
				total += n
				if n == serverBatch.Size {
					full++
				}
			}
			want += (total + serverBatch.Size - 1) / serverBatch.Size
			if len(sizes) > full+1 && !told {
				t.Errorf("%s's %d meter values were written in %d writes (batch sizes %s), want %d: with values "+
					"waiting, each write carries a full batch of %d, and only the last one what is left over",
					slot, total, len(sizes), summary(sizes), (total+serverBatch.Size-1)/serverBatch.Size, serverBatch.Size)
				told = true
			}
		}
		if len(batches) != want {
			t.Errorf("%d meter values took %d backend writes, want %d: with batches of %d, each write carries many "+
				"values, and the database does one round trip where it did %d",
				stations*each, len(batches), want, serverBatch.Size, serverBatch.Size)
		} else if !told {
			t.Logf("%d meter values: %d backend writes (%d per 1000), batch sizes %v",
				stations*each, len(batches), len(batches)*1000/(stations*each), summary(sizes))
		}
	})
}

// writtenRuns returns the call ids of a station's items in each batch that
// has some, batches sorted by their station's first id: in order, their
// concatenation is 2, 3, … (Two batches of a slot in flight at once may
// start in either order.)
func writtenRuns(batches []backend.Record, station string) [][]int {
	var runs [][]int
	for _, r := range batches {
		var run []int
		for _, it := range r.Items {
			if it.Station == station {
				n, _ := strconv.Atoi(it.Call.ID)
				run = append(run, n)
			}
		}
		if run != nil {
			runs = append(runs, run)
		}
	}
	slices.SortStableFunc(runs, func(a, b []int) int { return a[0] - b[0] })
	return runs
}

// summary describes sizes: how many, smallest, largest, mean.
func summary(sizes []int) string {
	if len(sizes) == 0 {
		return "(none)"
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	return fmt.Sprintf("%d to %d, mean %.1f", slices.Min(sizes), slices.Max(sizes), float64(total)/float64(len(sizes)))
}

func TestCloseWaitsForWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindBatch })
		srv := batching.New(batching.Config{Backend: b, Workers: 4, Batch: serverBatch})
		l := kit.Serve(t, srv)
		// A full batch is held in its write; ten more values wait. (The
		// station sends them without waiting for answers: a server that
		// writes each value before reading the next one leaves them unread.)
		st := kit.Boot(t, l, 1)
		go func() {
			for i := range serverBatch.Size + 10 {
				if _, err := st.Send(t.Context(), ocpp.ActionMeterValues, station.MeterValue(i)); err != nil {
					return // the server closed the connection
				}
			}
		}()
		synctest.Wait()
		kit.CloseWaits(t, srv, b, gate)
	})
}
