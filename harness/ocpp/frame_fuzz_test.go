package ocpp

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		// Valid frames of each type.
		`[2,"19223201","BootNotification",{"chargePointVendor":"VendorX","chargePointModel":"SingleSocketCharger"}]`,
		`[2,"1","Heartbeat",{}]`,
		`[3,"19223201",{"status":"Accepted","currentTime":"2026-11-22T10:00:00.000Z","interval":300}]`,
		`[3,"1",{}]`,
		`[4,"1","NotImplemented","",{}]`,
		`[4,"1","OccurrenceConstraintViolation","x",{"a":[1,{"b":null}]}]`,
		`[4,"1","Bogus","",{}]`,
		` [ 2 , "a" , "A" , { "k" : "<&>" } ] `,
		`[2,"\u00e9\ud83d\ude00","A",{"x":"\u2028"}]`,
		`[2,"\ud800","A",{}]`,
		// Truncated.
		`[2,"1","Heartbeat",{}`,
		`[2,"1","Heartbeat",`,
		`[2,"1"`,
		`[2`,
		`[`,
		``,
		// Wrong types and counts.
		`[2,"1","Heartbeat",[]]`,
		`[2,1,"Heartbeat",{}]`,
		`["2","1","Heartbeat",{}]`,
		`[2.0,"1","Heartbeat",{}]`,
		`[null,null,null,null]`,
		`[3,"1"]`,
		`[4,"1","GenericError",null,{}]`,
		`[5,"1",{}]`,
		`[-1]`,
		`{"type":2}`,
		`null`,
		`"frame"`,
		`[2,"1","Heartbeat",{}] trailing`,
		// Huge ids.
		`[2,"` + strings.Repeat("9", MaxIDLength) + `","A",{}]`,
		`[2,"` + strings.Repeat("9", MaxIDLength+1) + `","A",{}]`,
		`[3,"` + strings.Repeat("\u00e9", MaxIDLength+1) + `",{}]`,
		// Nested garbage.
		`[2,"1","A",{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}]`,
		`[` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `]`,
		`[2,"1","A",{"a":{"b":{"c":{}}}},{"d":1}]`,
		"[2,\"1\",\"A\",{\"a\":\"\xff\"}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		if err != nil {
			require.Nil(t, msg)
			var fe *FrameError
			require.True(t, errors.As(err, &fe), "error %T is not a *FrameError", err)
			require.NotEmpty(t, fe.Code)
			if fe.ID != "" {
				require.NoError(t, checkID(fe.ID), "a FrameError's id must be one we can answer to")
			}
			return
		}
		require.NoError(t, checkID(msg.MessageID()))
		b, err := Encode(msg)
		require.NoError(t, err)
		again, err := Decode(b)
		require.NoError(t, err, "re-encoded frame %q", b)
		require.Equal(t, msg, again)
	})
}
