package station

import (
	"strconv"
	"time"

	"github.com/ocppkata/kata/harness/ocpp"
)

// MeterValue returns the i-th reading of a station charging in transaction
// 1: its energy register grows by 1 kWh a reading.
func MeterValue(i int) ocpp.MeterValuesRequest {
	tx := 1
	return ocpp.MeterValuesRequest{ConnectorId: 1, TransactionId: &tx, MeterValue: []ocpp.MeterValue{{
		Timestamp: ocpp.DateTime{Time: time.Now()},
		SampledValue: []ocpp.SampledValue{{
			Value: strconv.Itoa(1000 * i), Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: ocpp.UnitWh,
		}},
	}}}
}

// OutOfOrder counts the ids that come after a larger one.
func OutOfOrder(ids []int) int {
	n, highest := 0, 0
	for _, id := range ids {
		if id < highest {
			n++
		}
		highest = max(highest, id)
	}
	return n
}
