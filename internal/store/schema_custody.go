package store

// Schema step 7: the custody log — every backup taken and every restore drill run against this database, with
// its outcome and report (R9.2, R9.3). It describes the custody of this one database, so backups do not carry
// it (see custodyOwn): a restored database starts a custody log of its own.
var _ = addMigration(7, `CREATE TABLE custody_runs (
		id          {SERIAL} PRIMARY KEY,
		kind        TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		finished_at BIGINT NOT NULL,
		status      TEXT NOT NULL,
		started_by  TEXT NOT NULL,
		url         TEXT NOT NULL,
		events      BIGINT NOT NULL,
		root        TEXT NOT NULL,
		bytes       BIGINT NOT NULL,
		summary     TEXT NOT NULL,
		report      TEXT NOT NULL
	);
	CREATE INDEX custody_runs_kind ON custody_runs (kind, id)`)
