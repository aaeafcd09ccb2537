// Command certs writes a workshop's TLS certificates (make certs): a CA of
// its own, the server's certificate for the hosts given, and a client
// certificate for each station given, whose CN is the station's id (OCPP
// security profile 3). Nothing else is needed: no openssl.
//
//	make certs [DIR=certs] [HOSTS=127.0.0.1,localhost] [STATIONS=10 | STATIONS=CS0001,CS0002]
//
// A directory that already has a CA keeps it: running it again for more
// stations or another host leaves the certificates made before valid.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ocppkata/kata/harness/tlsauth"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "certs:", err)
		}
		os.Exit(1)
	}
}

// maxStations bounds STATIONS=N: a key pair each takes a moment.
const maxStations = 10000

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "certs", "the directory to write into")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "the server's names and addresses, comma-separated: what the stations' URL has for its host")
	stations := fs.String("stations", "10", "the stations that get a client certificate: a number N (CS0001 to CSN, as make stations names them) or ids, comma-separated; 0 for none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ids, err := stationIDs(*stations)
	if err != nil {
		return err
	}
	w := tlsauth.Workshop{Dir: *dir, Hosts: split(*hosts), Stations: ids, Now: time.Now()}
	if len(w.Hosts) == 0 {
		return errors.New("-hosts: want at least one host, such as 127.0.0.1")
	}
	files, err := tlsauth.WriteWorkshop(w)
	if err != nil {
		return err
	}
	made := "kept the CA in " + *dir
	if len(files) > 0 && strings.HasSuffix(files[0], tlsauth.CAFile) {
		made = "made a new CA"
	}
	stationsDir := *dir + "/" + tlsauth.StationsDir
	fmt.Fprintf(stdout, "%s; wrote %d files: the server's certificate for %s", made, len(files), strings.Join(w.Hosts, ", "))
	switch len(ids) {
	case 0:
	case 1:
		fmt.Fprintf(stdout, ", and %s's client certificate in %s", ids[0], stationsDir)
	default:
		fmt.Fprintf(stdout, ", and client certificates for %s to %s in %s", ids[0], ids[len(ids)-1], stationsDir)
	}
	fmt.Fprintf(stdout, `
  %[1]s/ca.pem            the CA: what stations trust (CA=) and the server checks stations against (TLS_CLIENT_CA=)
  %[1]s/ca-key.pem        its private key: keep it to make more certificates (make certs again)
  %[1]s/server.pem        the server's certificate, and server-key.pem its private key

make serve TLS_CERT=%[1]s/server.pem TLS_KEY=%[1]s/server-key.pem                             # profile 2 with AUTH_KEYS=FILE
make serve TLS_CERT=%[1]s/server.pem TLS_KEY=%[1]s/server-key.pem TLS_CLIENT_CA=%[1]s/ca.pem  # profile 3
make stations URL=wss://%[2]s/ocpp CA=%[1]s/ca.pem CERTS=%[3]s
`, *dir, hostPort(w.Hosts[0]), stationsDir)
	return nil
}

// stationIDs reads -stations: a number of stations, or ids.
func stationIDs(v string) ([]string, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n < 0 || n > maxStations {
			return nil, fmt.Errorf("-stations %d: want 0 to %d stations, or their ids", n, maxStations)
		}
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("CS%04d", i+1) // as make stations names them (stations/station.StationID)
		}
		return ids, nil
	}
	return split(v), nil
}

// split returns the comma-separated items of v, without spaces or empty
// ones.
func split(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// hostPort is host with make serve's default port, for the example.
func hostPort(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:8080"
	}
	return host + ":8080"
}
