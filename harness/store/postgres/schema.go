package postgres

// migrations are the schema's versions: migrations[i] takes a database
// from version i (the one row of kata_schema) to version i+1. Open applies
// the missing ones in one transaction, under an advisory lock, and refuses
// a schema whose version is past the end of this list: a newer kata wrote
// it.
//
// Append, never edit: a step that has run on somebody's database must
// stay what it was.
//
// The tables are the SQLite store's (package store/sqlite), in
// PostgreSQL's types. Times are bigint nanoseconds since the Unix epoch,
// UTC, as there: timestamptz keeps microseconds only, and the store gives
// back the times it was given, exact. NULL is the zero time.
var migrations = []string{
	// 1: everything the SQLite store's three versions hold.
	`
CREATE TABLE stations (
	id                    text PRIMARY KEY,
	vendor                text NOT NULL DEFAULT '',
	model                 text NOT NULL DEFAULT '',
	firmware              text NOT NULL DEFAULT '',
	last_seen             bigint,
	firmware_status       text NOT NULL DEFAULT '',
	firmware_status_at    bigint,
	diagnostics_status    text NOT NULL DEFAULT '',
	diagnostics_status_at bigint
);

CREATE TABLE connectors (
	station    text NOT NULL REFERENCES stations (id),
	id         integer NOT NULL,
	status     text NOT NULL,
	error_code text NOT NULL,
	info       text NOT NULL,
	updated    bigint,
	PRIMARY KEY (station, id)
);

-- The id is an identity: its sequence gives each id once, to whichever
-- node of a cluster asks, and never again, not even after a rollback. OCPP's
-- transactionId is an integer: 32 bits.
CREATE TABLE transactions (
	id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	station     text NOT NULL REFERENCES stations (id),
	connector   integer NOT NULL,
	id_tag      text NOT NULL,
	meter_start integer NOT NULL,
	start       bigint,
	meter_stop  integer,
	stop        bigint,
	reason      text NOT NULL DEFAULT ''
);

-- What makes a StartTransaction a replay of an earlier one; INSERT … ON
-- CONFLICT names it. A NULL start (no timestamp) is a value like any other
-- here: coalesce, since UNIQUE NULLS NOT DISTINCT needs PostgreSQL 15.
CREATE UNIQUE INDEX transactions_start
	ON transactions (station, connector, id_tag, meter_start, (coalesce(start, -9223372036854775808)));

CREATE INDEX transactions_open ON transactions (station, id) WHERE stop IS NULL;

-- One row per sampled value. transaction_id is what the station said, not
-- a reference: a station may report for a transaction this database has
-- never seen, and the sample is kept all the same.
CREATE TABLE samples (
	seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	station        text NOT NULL,
	connector      integer NOT NULL,
	transaction_id integer,
	taken          bigint,
	value          text NOT NULL,
	measurand      text NOT NULL DEFAULT '',
	unit           text NOT NULL DEFAULT '',
	context        text NOT NULL DEFAULT '',
	phase          text NOT NULL DEFAULT '',
	location       text NOT NULL DEFAULT '',
	format         text NOT NULL DEFAULT ''
);

CREATE INDEX samples_transaction ON samples (transaction_id, taken, seq) WHERE transaction_id IS NOT NULL;

CREATE TABLE local_lists (
	station text PRIMARY KEY REFERENCES stations (id),
	version integer NOT NULL,
	updated bigint
);

-- idTagInfo's fields: status, expiryDate, parentIdTag.
CREATE TABLE local_list_entries (
	station       text NOT NULL REFERENCES stations (id),
	id_tag        text NOT NULL,
	status        text NOT NULL,
	expiry        bigint,
	parent_id_tag text NOT NULL DEFAULT '',
	PRIMARY KEY (station, id_tag)
);

-- A reservation's id is the station's: the operator picks it per call.
-- An ended one is deleted; an expired one is left to the reads to skip.
CREATE TABLE reservations (
	station       text NOT NULL REFERENCES stations (id),
	id            integer NOT NULL,
	connector     integer NOT NULL,
	id_tag        text NOT NULL,
	parent_id_tag text NOT NULL DEFAULT '',
	expiry        bigint NOT NULL,
	made          bigint,
	PRIMARY KEY (station, id)
);

-- profile is the ChargingProfile's JSON, as the station got it; the
-- columns beside it are what replaces and clears it.
CREATE TABLE charging_profiles (
	station     text NOT NULL REFERENCES stations (id),
	id          integer NOT NULL,
	connector   integer NOT NULL,
	stack_level integer NOT NULL,
	purpose     text NOT NULL,
	profile     text NOT NULL,
	set_at      bigint,
	PRIMARY KEY (station, id)
);
`,
}
