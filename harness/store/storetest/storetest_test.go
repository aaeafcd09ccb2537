package storetest_test

import (
	"testing"

	"github.com/ocppkata/kata/harness/store"
	"github.com/ocppkata/kata/harness/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := &store.Memory{}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
