package metrics_test

import (
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/metrics"
)

// BenchmarkMetricsCall is what the metrics cost the server per call
// answered: make serve's backend reports every one.
func BenchmarkMetricsCall(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.ReportAllocs()
	for b.Loop() {
		m.Call("Heartbeat", metrics.ResultOK, 40*time.Microsecond)
	}
}
