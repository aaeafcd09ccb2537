package ocpp

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValue holds the scanner's value to encoding/json's judgement of what
// is JSON, for values nested less than maxFastDepth deep.
func FuzzValue(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `{"a":[1,2,{"b":null}],"c":"d"}`, ` [ 1 , [ ] , { } ] `, `[1,]`, `{"a" 1}`,
		`{"a":1,}`, `[}`, `{]`, `[[[[["x"]]]]]`, `{"a":{"b":{"c":[true,false,null]}}}`, `"\u00e9"`, `-0.5e+3`,
		`{"a":1}}`, `[1 2]`, `{,}`, `{"a":}`, ``, ` `,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if depth(v) >= maxFastDepth {
			return // left to encoding/json
		}
		s := scanner{data: []byte(v)}
		got := s.value(0) && s.atEnd()
		if want := json.Valid([]byte(v)); got != want {
			t.Fatalf("value(%q) = %v, encoding/json says %v", v, got, want)
		}
	})
}

// depth is an upper bound of how deeply v nests objects and arrays.
func depth(v string) int { return strings.Count(v, "{") + strings.Count(v, "[") }

func TestValueDepth(t *testing.T) {
	// The outermost container is at depth 0: maxFastDepth of them fit.
	nested := strings.Repeat("[", maxFastDepth) + strings.Repeat("]", maxFastDepth)
	s := scanner{data: []byte(nested)}
	if !s.value(0) || !s.atEnd() {
		t.Errorf("%d arrays nested: want a valid value", maxFastDepth)
	}
	s = scanner{data: []byte("[" + nested + "]")}
	if s.value(0) {
		t.Errorf("%d arrays nested: want the fast path to give up", maxFastDepth+1)
	}
	s = scanner{data: []byte(nested)}
	if s.value(1) {
		t.Errorf("%d arrays nested at depth 1: want the fast path to give up", maxFastDepth)
	}
}
