package backend_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/ocpp"
)

// nopHooks is an Observer and a Tracer that do nothing, as make serve's
// are while no page watches and before its metrics exist.
type nopHooks struct{}

func (nopHooks) Call(string, string, time.Duration)                       {}
func (nopHooks) Batch(int)                                                {}
func (nopHooks) StoreError(string)                                        {}
func (nopHooks) WorkStarted(int, backend.Work, time.Time)                 {}
func (nopHooks) WorkReplied(int)                                          {}
func (nopHooks) WorkEnded(int, backend.Work, time.Time, time.Time, error) {}

// BenchmarkBackendHandleNoRecords is the backend's own cost of a
// Heartbeat answered through Handle as make serve runs it: no records, no
// latencies, no store, its observer and tracer doing nothing.
func BenchmarkBackendHandleNoRecords(b *testing.B) {
	for _, tt := range []struct {
		name  string
		hooks bool
	}{
		{"bare", false},
		{"hooks", true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			opts := backend.Options{NoRecords: true}
			if tt.hooks {
				opts.Observer, opts.Tracer = nopHooks{}, nopHooks{}
			}
			be := backend.New(opts)
			ctx := backend.WithWorker(context.Background(), "worker-1")
			calls := make([]*ocpp.Call, 1024)
			for i := range calls {
				calls[i] = heartbeat(strconv.Itoa(19223201 + i))
			}
			reply := func(ocpp.Message) error { return nil }
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := be.Handle(ctx, "CS00001", calls[i%len(calls)], reply); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
