//go:build !linux && !darwin

package netpoll_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocppkata/kata/harness/netpoll"
)

func TestUnsupportedSaysWhere(t *testing.T) {
	_, err := netpoll.New()
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "WSL") {
		t.Errorf("New here: %v, want errors.ErrUnsupported and a word on WSL", err)
	}
}
