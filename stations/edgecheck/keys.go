package main

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ocppkata/kata/harness/authkeys"
)

// readKeys reads the server's file of station keys (harness/authkeys: a
// line identity:password per station), in the order of the identities.
func readKeys(name string) ([]Key, error) {
	m, err := authkeys.Load(name)
	if err != nil {
		return nil, fmt.Errorf("read station keys: %w", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("read station keys: %s holds no identity:password line", name)
	}
	keys := make([]Key, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		keys = append(keys, Key{Station: id, Password: m[id]})
	}
	return keys, nil
}
