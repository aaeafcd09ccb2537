package sqlite

// migrations are the schema's versions: migrations[i] takes a database
// from version i (PRAGMA user_version) to version i+1. Open applies the
// missing ones, each in a transaction of its own, and refuses a database
// whose version is past the end of this list: a newer kata wrote it.
//
// Append, never edit: a step that has run on somebody's file must stay
// what it was.
//
// Times are INTEGER nanoseconds since the Unix epoch, UTC (exact, and
// ordered as numbers are); NULL is the zero time.
var migrations = []string{
	// 1: stations, connectors, transactions, samples.
	`
CREATE TABLE stations (
	id        TEXT PRIMARY KEY,
	vendor    TEXT NOT NULL DEFAULT '',
	model     TEXT NOT NULL DEFAULT '',
	firmware  TEXT NOT NULL DEFAULT '',
	last_seen INTEGER
) STRICT;

CREATE TABLE connectors (
	station    TEXT NOT NULL REFERENCES stations (id),
	id         INTEGER NOT NULL,
	status     TEXT NOT NULL,
	error_code TEXT NOT NULL,
	info       TEXT NOT NULL,
	updated    INTEGER,
	PRIMARY KEY (station, id)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: an id is never given twice, not even after the highest
-- row is gone. A station keeps using the id it got.
CREATE TABLE transactions (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	station     TEXT NOT NULL REFERENCES stations (id),
	connector   INTEGER NOT NULL,
	id_tag      TEXT NOT NULL,
	meter_start INTEGER NOT NULL,
	start       INTEGER,
	meter_stop  INTEGER,
	stop        INTEGER,
	reason      TEXT NOT NULL DEFAULT '',
	-- What makes a StartTransaction a replay of an earlier one.
	UNIQUE (station, connector, id_tag, meter_start, start)
) STRICT;

CREATE INDEX transactions_open ON transactions (station, id) WHERE stop IS NULL;

-- One row per sampled value. transaction_id is what the station said,
-- not a reference: a station may report for a transaction this database
-- has never seen, and the sample is kept all the same.
CREATE TABLE samples (
	seq            INTEGER PRIMARY KEY,
	station        TEXT NOT NULL,
	connector      INTEGER NOT NULL,
	transaction_id INTEGER,
	taken          INTEGER,
	value          TEXT NOT NULL,
	measurand      TEXT NOT NULL DEFAULT '',
	unit           TEXT NOT NULL DEFAULT '',
	context        TEXT NOT NULL DEFAULT '',
	phase          TEXT NOT NULL DEFAULT '',
	location       TEXT NOT NULL DEFAULT '',
	format         TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX samples_transaction ON samples (transaction_id, taken, seq) WHERE transaction_id IS NOT NULL;
`,
	// 2: what each station last said of its firmware and its diagnostics.
	`
ALTER TABLE stations ADD COLUMN firmware_status TEXT NOT NULL DEFAULT '';
ALTER TABLE stations ADD COLUMN firmware_status_at INTEGER;
ALTER TABLE stations ADD COLUMN diagnostics_status TEXT NOT NULL DEFAULT '';
ALTER TABLE stations ADD COLUMN diagnostics_status_at INTEGER;
`,
	// 3: what stations accepted of the operator's calls: local lists,
	// reservations, charging profiles.
	`
CREATE TABLE local_lists (
	station TEXT PRIMARY KEY REFERENCES stations (id),
	version INTEGER NOT NULL,
	updated INTEGER
) STRICT, WITHOUT ROWID;

-- idTagInfo's fields: status, expiryDate, parentIdTag.
CREATE TABLE local_list_entries (
	station       TEXT NOT NULL REFERENCES stations (id),
	id_tag        TEXT NOT NULL,
	status        TEXT NOT NULL,
	expiry        INTEGER,
	parent_id_tag TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (station, id_tag)
) STRICT, WITHOUT ROWID;

-- A reservation's id is the station's: the operator picks it per call.
-- An ended one is deleted; an expired one is left to the reads to skip.
CREATE TABLE reservations (
	station       TEXT NOT NULL REFERENCES stations (id),
	id            INTEGER NOT NULL,
	connector     INTEGER NOT NULL,
	id_tag        TEXT NOT NULL,
	parent_id_tag TEXT NOT NULL DEFAULT '',
	expiry        INTEGER NOT NULL,
	made          INTEGER,
	PRIMARY KEY (station, id)
) STRICT, WITHOUT ROWID;

-- profile is the ChargingProfile's JSON, as the station got it; the
-- columns beside it are what replaces and clears it.
CREATE TABLE charging_profiles (
	station     TEXT NOT NULL REFERENCES stations (id),
	id          INTEGER NOT NULL,
	connector   INTEGER NOT NULL,
	stack_level INTEGER NOT NULL,
	purpose     TEXT NOT NULL,
	profile     TEXT NOT NULL,
	set_at      INTEGER,
	PRIMARY KEY (station, id)
) STRICT, WITHOUT ROWID;
`,
}
