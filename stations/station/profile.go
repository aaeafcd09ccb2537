package station

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// profile is what makes one simulated station different from another: its
// badge, serial number, meter and charging power. It is derived from the
// station id alone, so every run sends the same values and a test can
// predict them.
type profile struct {
	idTag      string
	serial     string
	meterStart int // Wh on the energy register when a session starts
	power      int // W drawn while charging, about 11 kW (16 A, three phases)
}

// sampleInterval is the meter's sampling period that the energy readings
// model. The simulator does not wait for it: a session runs as fast as the
// server answers.
const sampleInterval = 60 * time.Second

// The station's identity as a BootNotification reports it.
const (
	vendor   = "OCPPKata"
	model    = "SimCharger AC11"
	firmware = "1.6.0-sim"
	meter    = "SimMeter 3P"
)

func newProfile(id string) profile {
	h := fnv.New32a()
	h.Write([]byte(id))
	x := h.Sum32()
	serial := "SIM-" + id
	if len(serial) > 25 {
		serial = serial[:25]
	}
	return profile{
		idTag:      fmt.Sprintf("TAG%08X", x),
		serial:     serial,
		meterStart: 100_000 + int(x%4_000_000),
		power:      10_800 + int(x>>16)%400,
	}
}

// energy is the register's reading after n samples of charging.
func (p profile) energy(n int) int {
	return p.meterStart + n*p.power*int(sampleInterval/time.Second)/3600
}

// powerAt is the power measured at sample n: the charging power with the
// small wobble of a real measurement.
func (p profile) powerAt(n int) int {
	wobble := [...]int{0, 35, -20, 15, -30}
	return p.power + wobble[n%len(wobble)]
}

func (p profile) bootNotification() ocpp.BootNotificationRequest {
	return ocpp.BootNotificationRequest{
		ChargePointVendor:       vendor,
		ChargePointModel:        model,
		ChargePointSerialNumber: p.serial,
		FirmwareVersion:         firmware,
		MeterType:               meter,
		MeterSerialNumber:       p.serial,
	}
}

func statusNotification(status ocpp.ChargePointStatus) ocpp.StatusNotificationRequest {
	return ocpp.StatusNotificationRequest{
		ConnectorId: 1,
		ErrorCode:   ocpp.ChargePointNoError,
		Status:      status,
		Timestamp:   ocpp.NewDateTime(time.Now()),
	}
}

// meterValues is the n-th periodic sample (n from 1) of connector 1, within
// transaction tx if there is one.
func (p profile) meterValues(n int, tx *int) ocpp.MeterValuesRequest {
	return ocpp.MeterValuesRequest{
		ConnectorId:   1,
		TransactionId: tx,
		MeterValue: []ocpp.MeterValue{{
			Timestamp: ocpp.DateTime{Time: time.Now()},
			SampledValue: []ocpp.SampledValue{
				{
					Value:     fmt.Sprint(p.energy(n)),
					Context:   ocpp.ContextSamplePeriodic,
					Format:    ocpp.FormatRaw,
					Measurand: ocpp.MeasurandEnergyActiveImportRegister,
					Location:  ocpp.LocationOutlet,
					Unit:      ocpp.UnitWh,
				},
				{
					Value:     fmt.Sprint(p.powerAt(n)),
					Context:   ocpp.ContextSamplePeriodic,
					Format:    ocpp.FormatRaw,
					Measurand: ocpp.MeasurandPowerActiveImport,
					Location:  ocpp.LocationOutlet,
					Unit:      ocpp.UnitW,
				},
			},
		}},
	}
}
