package station_test

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	hardening "github.com/ocppkata/kata/solutions/09-hardening"

	"github.com/ocppkata/kata/harness/backend"
	"github.com/ocppkata/kata/harness/kit"
	"github.com/ocppkata/kata/harness/ocpp"
	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/stations/station"
)

// The operator's calls through the final server (step 09's solution) have
// their effect on a charger, and the server's store shows it: a remote
// start opens a transaction that collects meter values, a remote stop
// closes it, a reset stops the next one and the charger boots again. On the
// in-memory network in fake time, and over real TCP.
func TestChargerFinalServer(t *testing.T) {
	defer goleak.VerifyNone(t)
	t.Run("memnet", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			wait := func(cond func() bool) bool {
				for range 600 {
					synctest.Wait()
					if cond() {
						return true
					}
					time.Sleep(time.Second)
				}
				return false
			}
			finalServerScenario(t, func(srv kit.Server) station.Options { return kit.Stations(kit.Serve(t, srv)) }, wait)
		})
	})
	t.Run("TCP", func(t *testing.T) {
		// Real time: the conditions are polled, with a generous bound for
		// a loaded machine. Nothing measures how long they took.
		wait := func(cond func() bool) bool {
			for range 2000 {
				if cond() {
					return true
				}
				time.Sleep(10 * time.Millisecond)
			}
			return false
		}
		finalServerScenario(t, func(srv kit.Server) station.Options {
			opts, _ := kit.ServeLoopback(t, srv)
			return opts
		}, wait)
	})
}

// finalServerScenario runs the scenario against a final server that serve
// starts, waiting for each effect with wait.
func finalServerScenario(t *testing.T, serve func(kit.Server) station.Options, wait func(cond func() bool) bool) {
	ctx := t.Context()
	mem := &store.Memory{}
	srv := hardening.New(hardening.Config{Backend: backend.New(backend.Options{Store: mem}), Workers: 2})
	opts := serve(srv)
	ch, err := station.StartCharger(ctx, "CS0001", station.ChargerOptions{Options: opts, RebootDelay: 100 * time.Millisecond})
	require.NoError(t, err)
	defer ch.Close()

	call := func(action string, req any) string {
		t.Helper()
		resp, _ := ocpp.ResponseFor(action)
		var err error
		// Just after a (re)boot the server may not have the station yet.
		require.True(t, wait(func() bool {
			err = srv.Call(ctx, "CS0001", action, req, resp)
			return !errors.Is(err, hardening.ErrNotConnected)
		}), "CS0001 never connected")
		require.NoError(t, err, action)
		switch r := resp.(type) {
		case *ocpp.RemoteStartTransactionResponse:
			return r.Status
		case *ocpp.RemoteStopTransactionResponse:
			return r.Status
		case *ocpp.ResetResponse:
			return r.Status
		case *ocpp.ChangeConfigurationResponse:
			return r.Status
		}
		return ""
	}
	connector := func() string {
		st, err := mem.Station(ctx, "CS0001")
		if err != nil || len(st.Connectors) == 0 {
			return ""
		}
		return st.Connectors[0].Status
	}
	transactions := func() []store.Transaction {
		txs, err := mem.Transactions(ctx, "CS0001")
		require.NoError(t, err)
		return txs
	}
	stopped := func(n int, reason string) func() bool {
		return func() bool {
			txs := transactions()
			return len(txs) == n && txs[n-1].Stop != nil && txs[n-1].Reason == reason && connector() == string(ocpp.StatusAvailable)
		}
	}

	require.True(t, wait(func() bool { return connector() == string(ocpp.StatusAvailable) }), "the boot's StatusNotification")
	require.Equal(t, ocpp.ConfigurationAccepted, call(ocpp.ActionChangeConfiguration,
		ocpp.ChangeConfigurationRequest{Key: station.KeyMeterValueSampleInterval, Value: "1"}))
	require.Equal(t, ocpp.RemoteStartStopAccepted, call(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1", 1)))
	require.True(t, wait(func() bool {
		txs := transactions()
		return len(txs) == 1 && txs[0].Stop == nil && connector() == string(ocpp.StatusCharging)
	}), "a transaction, charging")
	tx := transactions()[0]
	require.Equal(t, "OPERATOR1", tx.IdTag)
	require.True(t, wait(func() bool {
		samples, err := mem.TransactionMeterValues(ctx, tx.ID)
		require.NoError(t, err)
		return len(samples) >= 4 // two readings of two values each
	}), "meter values")

	require.Equal(t, ocpp.RemoteStartStopAccepted, call(ocpp.ActionRemoteStopTransaction, ocpp.RemoteStopTransactionRequest{TransactionId: tx.ID}))
	require.True(t, wait(stopped(1, ocpp.ReasonRemote)), "the transaction stopped")
	require.Greater(t, *transactions()[0].MeterStop, tx.MeterStart)

	require.Equal(t, ocpp.RemoteStartStopAccepted, call(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
	require.True(t, wait(func() bool { return len(transactions()) == 2 && connector() == string(ocpp.StatusCharging) }), "charging again")
	require.Equal(t, ocpp.ResetAccepted, call(ocpp.ActionReset, ocpp.ResetRequest{Type: ocpp.ResetSoft}))
	require.True(t, wait(stopped(2, ocpp.ReasonSoftReset)), "the reset stopped the transaction")
	boots := func() int {
		return len(slices.DeleteFunc(ch.Calls(), func(c station.CallRecord) bool { return c.Action != ocpp.ActionBootNotification }))
	}
	require.True(t, wait(func() bool { return boots() == 2 }), "booted again")
	// Connected again, it answers the server.
	require.Equal(t, ocpp.ConfigurationAccepted, call(ocpp.ActionChangeConfiguration,
		ocpp.ChangeConfigurationRequest{Key: station.KeyHeartbeatInterval, Value: "60"}))
	for _, c := range ch.Calls() {
		require.NoError(t, c.Err, "%s %s", c.Action, c.ID)
	}
	require.NoError(t, ch.Err())
}
