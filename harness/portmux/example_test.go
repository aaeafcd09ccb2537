package portmux_test

import (
	"log"
	"net"
	"net/http"

	"github.com/ocppkata/kata/harness/portmux"
	"github.com/ocppkata/kata/harness/wsconn"
)

func Example() {
	l, err := net.Listen("tcp", "localhost:8180")
	if err != nil {
		log.Fatal(err)
	}
	m := portmux.New(l, portmux.Options{})
	go m.Serve()

	step := &wsconn.Server{Handle: func(c *wsconn.Conn) { /* the step's server */ }}
	go step.Serve(m.Stations())

	api := http.NewServeMux()
	api.HandleFunc("GET /api/connected", func(w http.ResponseWriter, r *http.Request) {
		log.Println(m.Connected())
	})
	hs := &http.Server{Handler: api}
	go hs.Serve(m.HTTP())

	// … until it is time to stop: the servers first, then the Mux, so that
	// each Serve returns as after its own Close.
	step.Close()
	hs.Close()
	m.Close()
}
