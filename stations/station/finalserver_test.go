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

// The other profiles' calls through the final server have their effect on
// a charger, and the server's store shows it: a firmware update's and a
// diagnostics upload's statuses and the new firmware version, a
// reservation that the charger's StartTransaction ends, a local list and a
// charging profile the charger then acts on. On the in-memory network in
// fake time.
func TestChargerFinalServerProfiles(t *testing.T) {
	defer goleak.VerifyNone(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		mem := &store.Memory{}
		srv := hardening.New(hardening.Config{Backend: backend.New(backend.Options{Store: mem}), Workers: 2})
		opts := kit.Stations(kit.Serve(t, srv))
		ch, err := station.StartCharger(ctx, "CS0001", station.ChargerOptions{Options: opts, Connectors: 2})
		require.NoError(t, err)
		defer ch.Close()
		synctest.Wait()
		call := func(action string, req any) any {
			t.Helper()
			resp, _ := ocpp.ResponseFor(action)
			err := srv.Call(ctx, "CS0001", action, req, resp)
			if errors.Is(err, hardening.ErrNotConnected) {
				time.Sleep(time.Second) // rebooting
				err = srv.Call(ctx, "CS0001", action, req, resp)
			}
			require.NoError(t, err, action)
			synctest.Wait()
			return resp
		}
		st := func() store.Station {
			s, err := mem.Station(ctx, "CS0001")
			require.NoError(t, err)
			return s
		}

		require.Equal(t, &ocpp.GetDiagnosticsResponse{FileName: "CS0001-20000101T000000Z.log"},
			call(ocpp.ActionGetDiagnostics, ocpp.GetDiagnosticsRequest{Location: "ftp://diagnostics.example.com/"}))
		require.Equal(t, ocpp.DiagnosticsUploading, st().DiagnosticsStatus)
		call(ocpp.ActionUpdateFirmware, ocpp.UpdateFirmwareRequest{Location: "https://firmware.example.com/station-2.0.bin", RetrieveDate: ocpp.DateTime{Time: time.Now()}})
		require.Equal(t, ocpp.FirmwareDownloading, st().FirmwareStatus)
		time.Sleep(time.Minute) // the upload, the download and the reboot
		synctest.Wait()
		require.Equal(t, ocpp.DiagnosticsUploaded, st().DiagnosticsStatus)
		require.Equal(t, ocpp.FirmwareInstalled, st().FirmwareStatus)
		require.Equal(t, "station-2.0", st().Firmware)

		reserve := ocpp.ReserveNowRequest{ConnectorId: 2, ExpiryDate: ocpp.DateTime{Time: time.Now().Add(time.Hour)}, IdTag: "OPERATOR1", ReservationId: 5}
		require.Equal(t, &ocpp.ReserveNowResponse{Status: ocpp.ReservationAccepted}, call(ocpp.ActionReserveNow, reserve))
		require.NoError(t, mem.Reserve(ctx, "CS0001", reserve, time.Now())) // as the operator API records it
		require.Equal(t, string(ocpp.StatusReserved), st().Connectors[1].Status)
		require.Equal(t, &ocpp.SendLocalListResponse{Status: ocpp.UpdateAccepted}, call(ocpp.ActionSendLocalList,
			sendLocalList(1, ocpp.UpdateFull, entry("OPERATOR1", ocpp.AuthorizationAccepted))))
		require.Equal(t, &ocpp.GetLocalListVersionResponse{ListVersion: 1}, call(ocpp.ActionGetLocalListVersion, ocpp.GetLocalListVersionRequest{}))
		require.Equal(t, &ocpp.ChangeConfigurationResponse{Status: ocpp.ConfigurationAccepted}, call(ocpp.ActionChangeConfiguration,
			ocpp.ChangeConfigurationRequest{Key: station.KeyLocalPreAuthorize, Value: "true"}))

		require.Equal(t, &ocpp.RemoteStartTransactionResponse{Status: ocpp.RemoteStartStopAccepted}, call(ocpp.ActionRemoteStartTransaction, remoteStart("OPERATOR1")))
		txs, err := mem.Transactions(ctx, "CS0001")
		require.NoError(t, err)
		require.Len(t, txs, 1)
		require.Equal(t, 2, txs[0].ConnectorID, "the reserved connector")
		left, err := mem.Reservations(ctx, "CS0001", time.Now())
		require.NoError(t, err)
		require.Empty(t, left, "the StartTransaction ended the reservation")
		require.NotContains(t, recordActions(ch.Calls()), ocpp.ActionAuthorize, "the local list pre-authorized")

		set := profileReq(2, 1, 0, ocpp.PurposeTx, ocpp.ChargingRateW, 0, 7400)
		require.Equal(t, &ocpp.SetChargingProfileResponse{Status: ocpp.ChargingProfileAccepted}, call(ocpp.ActionSetChargingProfile, set))
		got := call(ocpp.ActionGetCompositeSchedule, ocpp.GetCompositeScheduleRequest{ConnectorId: 2, Duration: 600, ChargingRateUnit: ocpp.ChargingRateW}).(*ocpp.GetCompositeScheduleResponse)
		require.Equal(t, []ocpp.ChargingSchedulePeriod{{StartPeriod: 0, Limit: 7400}}, got.ChargingSchedule.ChargingSchedulePeriod)
		for _, c := range ch.Calls() {
			require.NoError(t, c.Err, "%s %s", c.Action, c.ID)
		}
	})
}

// recordActions returns the actions of a charger's calls, in order.
func recordActions(calls []station.CallRecord) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Action
	}
	return out
}
