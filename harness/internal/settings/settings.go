// Package settings declares make serve's settings, once: for each, the make
// variable a learner sets, the flag that kata serve and the run command
// take, the environment variable the server falls back on when it runs as
// a service, and what it does. The Makefile passes every setting of its
// serve-settings list as -set NAME=value; kata serve checks the name here,
// makes a file's path absolute and hands the value on as the flag; the run
// command reads the flags, or the environment, by this same table.
package settings

import (
	"fmt"
	"slices"
	"strings"
)

// A Kind says how a setting's value travels from make to the server.
type Kind int

const (
	// Text is passed on as it is.
	Text Kind = iota
	// File names a file from where make ran: kata serve makes it absolute,
	// since the server runs from the repository's root.
	File
	// Switch is on or off: 1, yes or true turn it on.
	Switch
	// Secret travels only in the environment, never on a command line
	// that every user of the machine can read (ps).
	Secret
)

// A Setting is one of make serve's settings.
type Setting struct {
	Make    string // the make variable: "DB"
	Flag    string // the flag of the run command: "db"; kata serve never passes a Secret's
	Env     string // the environment variable the server falls back on: "OCPP_DB"
	Kind    Kind
	Default string // the server's default, as a flag value
	Usage   string // what it does, for -h
}

// All returns make serve's settings, in the order make help lists them.
func All() []Setting {
	return []Setting{
		{Make: "ADDR", Flag: "addr", Env: "OCPP_ADDR", Default: "127.0.0.1:8080", Usage: "the address to listen on"},
		{Make: "WORKERS", Flag: "workers", Default: "0", Usage: "Config.Workers; 0 leaves the step's default"},
		{Make: "SCALE", Flag: "scale", Default: "1", Usage: "multiplies the backend's latencies (the workshop's): 0.1 is ten times faster, 0 none"},
		{Make: "AUTH_KEYS", Flag: "auth-keys", Env: "OCPP_AUTH_KEYS", Kind: File, Usage: "a file of identity:password lines: turns on HTTP Basic authentication (step 09 on)"},
		{Make: "TLS_CERT", Flag: "tls-cert", Env: "OCPP_TLS_CERT", Kind: File, Usage: "the server's certificate chain (PEM): serves wss:// and https:// (OCPP security profile 2 with AUTH_KEYS)"},
		{Make: "TLS_KEY", Flag: "tls-key", Env: "OCPP_TLS_KEY", Kind: File, Usage: "the private key of TLS_CERT (PEM)"},
		{Make: "TLS_CLIENT_CA", Flag: "tls-client-ca", Env: "OCPP_TLS_CLIENT_CA", Kind: File, Usage: "the CA of the stations' certificates (PEM): a station must present one whose CN is its id (security profile 3)"},
		{Make: "DB", Flag: "db", Env: "OCPP_DB", Kind: File, Default: ".kata/serve.db", Usage: `the SQLite database file, or a PostgreSQL database's postgres:// URL; "memory" keeps nothing across restarts`},
		{Make: "ID_TAGS", Flag: "id-tags", Env: "OCPP_ID_TAGS", Kind: File, Usage: "a file of idTags to authorize, one a line: tag [status] [expiry]; none: every tag is accepted"},
		{Make: "HEARTBEAT", Flag: "heartbeat", Env: "OCPP_HEARTBEAT", Default: "0", Usage: "the heartbeat interval BootNotification answers give, in seconds; 0: 300"},
		{Make: "MAX_FRAME", Flag: "max-frame", Env: "OCPP_MAX_FRAME", Default: "0", Usage: "the largest frame a station may send, in bytes; 0: the step's default (step 09 on)"},
		{Make: "NATS_URL", Flag: "nats-url", Env: "OCPP_NATS_URL", Usage: "the NATS server the nodes of a cluster share, nats://HOST:4222 (several: comma-separated): the server joins it as one node (step 10 on)"},
		{Make: "NODE", Flag: "node", Env: "OCPP_NODE", Usage: "this node's name in the cluster; default HOSTNAME:PORT, this machine's short hostname and the port the server listens on"},
		{Make: "API_TOKEN", Flag: "api-token", Env: "OCPP_API_TOKEN", Kind: Secret, Usage: "the operator side (API, live view, metrics, profiles) wants this token"},
		{Make: "REGISTRATION", Flag: "registration", Env: "OCPP_REGISTRATION", Default: "Accepted", Usage: "what BootNotification answers: Accepted, Pending or Rejected"},
		{Make: "LOG", Flag: "log", Env: "LOG", Usage: "the log format: text or json; default text on a terminal, json otherwise"},
		{Make: "LOG_LEVEL", Flag: "log-level", Env: "LOG_LEVEL", Default: "info", Usage: "the least a log line must weigh to be written: debug (every call), info, warn or error"},
		{Make: "PPROF", Flag: "pprof", Env: "OCPP_PPROF", Kind: Switch, Usage: "serve Go's profiles at /debug/pprof/ on the same port"},
	}
}

// ByMake returns the setting whose make variable is name.
func ByMake(name string) (Setting, error) {
	all := All()
	if i := slices.IndexFunc(all, func(s Setting) bool { return s.Make == name }); i >= 0 {
		return all[i], nil
	}
	names := make([]string, len(all))
	for i, s := range all {
		names[i] = s.Make
	}
	return Setting{}, fmt.Errorf("make serve has no setting %s; its settings are %s", name, strings.Join(names, ", "))
}

// On reports whether a Switch's value turns it on.
func On(value string) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}
