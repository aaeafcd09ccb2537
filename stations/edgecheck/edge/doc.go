// Package edge attacks the edge of a running OCPP 1.6-J central system the
// way chargers in the field and hostile clients do, and says per case
// whether the server answered as OCPP-J 1.6 and RFC 6455 call for. It is
// the check behind make edge (stations/edgecheck) and step 09's make demo.
//
// A Checker runs the cases of Cases in order, each on a fresh connection
// of its own to Checker.URL: handshakes without ocpp1.6, a 2 MiB frame, a
// binary frame, invalid UTF-8, malformed and schema-breaking frames (each
// followed by a Heartbeat that must still be answered), a second
// connection as a connected station and, with Checker.Keys, HTTP Basic
// auth. With Checker.Limits, the limit cases follow, all at once: they
// check the limits the server states on handshakes (harness/wsconn) with
// connections that never finish their headers, 1 MiB of headers, a
// connection idle after a refused handshake, and identities it must
// refuse; they wait for the server's timeouts. A case never waits longer than Checker.Timeout for one answer: a
// server that says nothing by then is taken to be silent, which is a
// result too. The check only reads the server's answers; it changes
// nothing the server keeps but the connections it opens and closes, so it
// can run against a server that is serving other stations meanwhile, as
// long as Keys names stations of its own.
package edge
