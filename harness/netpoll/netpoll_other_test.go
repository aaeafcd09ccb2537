//go:build !linux && !darwin

package netpoll_test

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestUnsupportedSaysWhere checks that a socket is refused here, with a
// word on where it works; in-memory connections are tested everywhere.
func TestUnsupportedSaysWhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := newPoller(t)
	_, err = p.Add(c, nil)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "WSL") {
		t.Errorf("Add of a socket here: %v, want errors.ErrUnsupported and a word on WSL", err)
	}
}
