package gotest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ocppkata/kata/harness/cmd/kata/internal/step"
)

func TestStepMetaTestTimeout(t *testing.T) {
	tests := []struct {
		json    string
		want    time.Duration
		wantErr bool
	}{
		{`{"title": "x"}`, 0, false},
		{`{"test_timeout": "40s"}`, 40 * time.Second, false},
		{`{"test_timeout": "forty"}`, 0, true},
		{`{"test_timeout": "-1s"}`, 0, true},
	}
	for _, tt := range tests {
		var m step.Meta
		err := json.Unmarshal([]byte(tt.json), &m)
		if (err != nil) != tt.wantErr || m.TestTimeout != tt.want {
			t.Errorf("%s: TestTimeout %v, err %v; want %v, error %v", tt.json, m.TestTimeout, err, tt.want, tt.wantErr)
		}
		if lim := TestLimit(step.Step{Meta: m}); err == nil && tt.want == 0 && lim != DefaultTestLimit {
			t.Errorf("%s: limit %v, want the default %v", tt.json, lim, DefaultTestLimit)
		}
	}
}
