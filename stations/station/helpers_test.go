package station_test

import (
	"testing"
	"testing/synctest"

	"github.com/ocppkata/kata/harness/memnet"
	"github.com/ocppkata/kata/stations/station"
)

// inBubble runs f inside a synctest bubble, with a fake central system on an
// in-memory network and station options that reach it. Time is fake: a
// latency of a second costs nothing, and durations can be compared exactly.
func inBubble(t *testing.T, cfg fakeConfig, f func(t *testing.T, fc *fakeCS, opts station.Options)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		ln := memnet.Listen()
		fc := newFakeCS(t, ln, cfg)
		defer fc.Close()
		f(t, fc, station.Options{URL: "ws://central.test/ocpp", Dial: ln.DialContext})
	})
}
