// Package station simulates OCPP 1.6-J charging stations: one station that a
// test drives call by call, a Charger that acts on the central system's
// calls as a charger does (a remote start charges, a reset reboots), and a
// fleet that loads a central system the way the kata's steps need it
// (lock-step sessions, pipelined and flooding senders, a deaf station that
// never reads, idle stations that answer the server's own calls, or act on
// them as Chargers).
//
// A station works over real TCP and over an in-memory network such as
// harness/memnet, and it uses nothing but channels, timers and short
// critical sections, so it runs inside a testing/synctest bubble on fake
// time. Every goroutine it starts ends when the station is closed or its
// connection ends.
//
// A station numbers its own CALLs "1", "2", "3", … in the order it writes
// them, so a server's test can read the message ids as sequence numbers.
package station
