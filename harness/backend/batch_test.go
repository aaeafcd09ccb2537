package backend_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// meterItems returns n items of one station's meter values, ids first…first+n-1.
func meterItems(station string, first, n int) []backend.Item {
	items := make([]backend.Item, n)
	for i := range items {
		items[i] = backend.Item{Station: station, Call: rawCall(fmt.Sprint(first+i), ocpp.ActionMeterValues, `{}`)}
	}
	return items
}

func TestWorkshopBatchLatency(t *testing.T) {
	l := backend.WorkshopLatencies()
	require.Equal(t, 600*time.Millisecond, l.ForBatch(0))
	require.Equal(t, 1600*time.Millisecond, l.ForBatch(100), "a batch of 100 costs the round trip and 10 ms a row")
	s := l.Scaled(0.1)
	require.Equal(t, 60*time.Millisecond, s.Batch)
	require.Equal(t, time.Millisecond, s.BatchItem)
	require.Zero(t, backend.Latencies{}.ForBatch(50), "the zero Latencies are instant")
}

func TestWriteBatchOnFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lat := backend.WorkshopLatencies()
		b := backend.New(backend.Options{Latencies: lat})
		items := append(meterItems("CS1", 1, 3), meterItems("CS2", 1, 2)...)
		start := time.Now()
		require.NoError(t, b.WriteBatch(backend.WithWorker(t.Context(), "slot-0"), items))
		require.Equal(t, lat.ForBatch(5), time.Since(start), "one write of 5 items costs one round trip and 5 rows")

		recs := b.Records()
		require.Len(t, recs, 1, "a batch is one piece of work")
		rec := recs[0]
		require.Equal(t, backend.Work{Kind: backend.KindBatch, Station: "CS1", Action: ocpp.ActionMeterValues, Worker: "slot-0"}, rec.Work)
		require.Equal(t, items, rec.Items)
		require.Equal(t, start, rec.Start)
		require.Equal(t, time.Now(), rec.End)
		require.Equal(t, "batch", backend.KindBatch.String())
		require.Equal(t, backend.Stats{Peak: 1, Done: 1}, b.Stats())
		require.Zero(t, b.StationPeak("CS1", backend.KindBatch), "a batch is no one station's work")

		require.Equal(t, []string{"1", "2", "3"}, b.Written("CS1"))
		require.Equal(t, []string{"1", "2"}, b.Written("CS2"))
		require.Empty(t, b.Written("CS3"))
	})
}

func TestWriteBatchCopiesItems(t *testing.T) {
	// The caller may reuse its slice once WriteBatch returned: what the
	// record shows is what was written.
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		buf := meterItems("CS1", 1, 2)
		require.NoError(t, b.WriteBatch(t.Context(), buf))
		buf[0].Station, buf[1] = "CS9", backend.Item{Station: "CS9", Call: rawCall("99", ocpp.ActionMeterValues, `{}`)}
		require.NoError(t, b.WriteBatch(t.Context(), buf[:1]))

		require.Equal(t, []string{"1", "2"}, b.Written("CS1"))
		require.Equal(t, []string{"1"}, b.Written("CS9"))
		recs := b.Records()
		recs[0].Items[0].Station = "changed"
		require.Equal(t, "CS1", b.Records()[0].Items[0].Station, "Records returns copies")
	})
}

func TestWriteBatchAllOrNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := b.WriteBatch(ctx, meterItems("CS1", 1, 4))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 100*time.Millisecond, time.Since(start), "the write ended when its context did")
		require.ErrorIs(t, b.Records()[0].Err, context.DeadlineExceeded)
		require.Empty(t, b.Batches(), "a write cut short wrote nothing")
		require.Empty(t, b.Written("CS1"))
	})
}

func TestWriteBatchHeldAtGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backend.New(backend.Options{Latencies: backend.WorkshopLatencies()})
		gate := b.HoldFirm(func(w backend.Work) bool { return w.Kind == backend.KindBatch && w.Worker == "slot-1" })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 2)
		go func() { done <- b.WriteBatch(backend.WithWorker(ctx, "slot-1"), meterItems("CS1", 1, 2)) }()
		go func() { done <- b.WriteBatch(backend.WithWorker(ctx, "slot-2"), meterItems("CS2", 1, 2)) }()
		synctest.Wait()
		require.Equal(t, 1, gate.Waiting(), "the gate holds the batches it matches")
		require.Empty(t, b.Batches(), "a write in flight has written nothing yet")
		require.Empty(t, b.Written("CS2"))
		require.Equal(t, backend.Stats{InFlight: 2, Peak: 2, Held: 1}, b.Stats())
		cancel() // a firm gate ignores it; the other write ends early
		synctest.Wait()
		require.Equal(t, 1, gate.Waiting())
		gate.Open()
		for range 2 {
			require.ErrorIs(t, <-done, context.Canceled)
		}
		require.Empty(t, b.Batches(), "both writes were cancelled: the held one when the gate let it go")
	})
}
