package ocpp

import (
	"testing"
	"time"
)

// The benchmarks follow one call through the server: Decode and
// UnmarshalPayload on the way in, NewCallResult and Encode on the way out.
// Run them with -benchmem: the allocations are half the cost.

// Frames as the kata's station simulator sends them.
var (
	heartbeatFrame   = []byte(`[2,"19223201","Heartbeat",{}]`)
	meterValuesFrame = []byte(`[2,"19223202","MeterValues",{"connectorId":1,"transactionId":1,"meterValue":[{"timestamp":"2026-11-22T10:00:00.123Z","sampledValue":[{"value":"12000","measurand":"Energy.Active.Import.Register","unit":"Wh"}]}]}]`)
	statusFrame      = []byte(`[2,"19223203","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":"2026-11-22T10:00:00.123Z"}]`)
	benchTime        = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
)

// benchDecode decodes frame and its payload into a new request, b.N times.
func benchDecode(b *testing.B, frame []byte) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		msg, err := Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		call := msg.(*Call)
		req, _ := RequestFor(call.Action)
		if err := call.UnmarshalPayload(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHeartbeat is the read path of a lock-step Heartbeat.
func BenchmarkDecodeHeartbeat(b *testing.B) { benchDecode(b, heartbeatFrame) }

// BenchmarkDecodeMeterValues is the read path of the kata's busiest call.
func BenchmarkDecodeMeterValues(b *testing.B) { benchDecode(b, meterValuesFrame) }

// BenchmarkDecodeStatusNotification reads enumerations and an optional
// dateTime.
func BenchmarkDecodeStatusNotification(b *testing.B) { benchDecode(b, statusFrame) }

// BenchmarkDecodeFrame is Decode alone: the envelope, and the payload
// checked and compacted.
func BenchmarkDecodeFrame(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(meterValuesFrame)))
	for b.Loop() {
		if _, err := Decode(meterValuesFrame); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEncodeResult builds and encodes the answer v, b.N times.
func benchEncodeResult(b *testing.B, v any) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		res, err := NewCallResult("19223201", v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Encode(res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeResult is the write path of a lock-step Heartbeat.
func BenchmarkEncodeResult(b *testing.B) {
	benchEncodeResult(b, HeartbeatResponse{CurrentTime: DateTime{benchTime}})
}

// BenchmarkEncodeEmptyResult answers a MeterValues or StatusNotification.
func BenchmarkEncodeEmptyResult(b *testing.B) { benchEncodeResult(b, MeterValuesResponse{}) }

// BenchmarkEncodeBootResult answers a BootNotification.
func BenchmarkEncodeBootResult(b *testing.B) {
	benchEncodeResult(b, BootNotificationResponse{Status: RegistrationAccepted, CurrentTime: DateTime{benchTime}, Interval: 300})
}

// BenchmarkEncodeError encodes the CALLERROR a malformed call gets.
func BenchmarkEncodeError(b *testing.B) {
	e := NewCallError("19223201", OccurenceConstraintViolation, `field "idTag": required field is missing`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDateTimeMarshal writes one dateTime.
func BenchmarkDateTimeMarshal(b *testing.B) {
	d := DateTime{benchTime}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
