package main

import (
	"fmt"

	"github.com/ocppkata/kata/harness/authkeys"
	"github.com/ocppkata/kata/stations/edgecheck/edge"
)

// readKeys reads the server's file of station keys (harness/authkeys: a
// line identity:password per station), in the order of the identities.
func readKeys(name string) ([]edge.Key, error) {
	m, err := authkeys.Load(name)
	if err != nil {
		return nil, fmt.Errorf("read station keys: %w", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("read station keys: %s holds no identity:password line", name)
	}
	return edge.KeysOf(m), nil
}
