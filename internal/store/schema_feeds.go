package store

// Schema step 11: reconciliation with other departments and submissions from service institutions (R5.2, R5.3).
//
// None of these are projections: they are what other departments and institutions sent, and the agency's own
// working state beside the journal. Nothing here is record: a feed row or a submission becomes record only
// through a reviewed draft.
//
//   - feed_files / feed_rows: an imported feed (tax bureau, market regulation, civil affairs, public security,
//     staffing office) and its validated rows. A file is known by its SHA-256 (imported once). ID numbers are
//     kept only as the keyed index, sealed and masked (I7), like the persons projection keeps them.
//     feed_rows_person serves the reconciliation's merge by (ID index, period, type) and its lookups by person;
//     feed_rows_employer its lookups by credit code.
//   - feed_runs / feed_differences: each reconciliation of a feed against the record, with its progress, and
//     every difference it found. A run's differences are written as it goes, in transactions of a few thousand,
//     so a run of any size holds little memory; the run row says whether it finished.
//   - institutions: service institutions under agreement (medical institutions, pharmacies, work-injury
//     rehabilitation, assistive-device fitters, banks) and the machine account each submits through.
//   - institution_submissions: every accepted submission, by its idempotency key (unique per institution), with
//     the response first given, so that a repeat returns it; and the draft it became.
//   - payment_followups: benefit payments a bank reported as failed, marked for follow-up.
var _ = addMigration(11, `CREATE TABLE feed_files (
		id           BIGINT PRIMARY KEY,
		kind         TEXT NOT NULL,
		name         TEXT NOT NULL,
		format       TEXT NOT NULL,
		sha256       TEXT NOT NULL UNIQUE,
		size         BIGINT NOT NULL,
		row_count    BIGINT NOT NULL,
		complete     INTEGER NOT NULL,
		periods      TEXT NOT NULL,
		types        TEXT NOT NULL,
		imported_by  TEXT NOT NULL,
		imported_at  BIGINT NOT NULL
	);
	CREATE INDEX feed_files_kind ON feed_files (kind, id);
	CREATE TABLE feed_rows (
		feed            BIGINT NOT NULL,
		line            BIGINT NOT NULL,
		id_index        TEXT NOT NULL,
		id_sealed       {BLOB} NOT NULL,
		id_masked       TEXT NOT NULL,
		credit_code     TEXT NOT NULL,
		period          INTEGER NOT NULL,
		type            TEXT NOT NULL,
		base            BIGINT NOT NULL,
		employer_paid   BIGINT NOT NULL,
		individual_paid BIGINT NOT NULL,
		event           TEXT NOT NULL,
		event_date      TEXT NOT NULL,
		end_date        TEXT NOT NULL,
		name            TEXT NOT NULL,
		new_index       TEXT NOT NULL,
		new_sealed      {BLOB} NOT NULL,
		new_masked      TEXT NOT NULL,
		post            TEXT NOT NULL,
		PRIMARY KEY (feed, line)
	);
	CREATE INDEX feed_rows_person ON feed_rows (feed, id_index, period, type);
	CREATE INDEX feed_rows_employer ON feed_rows (feed, credit_code, period);
	CREATE TABLE feed_runs (
		id          BIGINT PRIMARY KEY,
		feed        BIGINT NOT NULL,
		status      TEXT NOT NULL,
		started_by  TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		heartbeat   BIGINT NOT NULL,
		finished_at BIGINT NOT NULL,
		rows_read   BIGINT NOT NULL,
		differences BIGINT NOT NULL,
		counts      TEXT NOT NULL,
		work_items  TEXT NOT NULL,
		error       TEXT NOT NULL
	);
	CREATE INDEX feed_runs_feed ON feed_runs (feed, id);
	CREATE TABLE feed_differences (
		run          BIGINT NOT NULL,
		n            BIGINT NOT NULL,
		kind         TEXT NOT NULL,
		severity     TEXT NOT NULL,
		line         BIGINT NOT NULL,
		person       TEXT NOT NULL,
		id_masked    TEXT NOT NULL,
		employer     TEXT NOT NULL,
		period       INTEGER NOT NULL,
		type         TEXT NOT NULL,
		seq          BIGINT NOT NULL,
		feed_value   TEXT NOT NULL,
		record_value TEXT NOT NULL,
		detail       TEXT NOT NULL,
		finding_key  TEXT NOT NULL,
		PRIMARY KEY (run, n)
	);
	CREATE INDEX feed_differences_kind ON feed_differences (run, kind, n);
	CREATE TABLE institutions (
		code            TEXT PRIMARY KEY,
		kind            TEXT NOT NULL,
		name            TEXT NOT NULL,
		username        TEXT NOT NULL UNIQUE,
		agreement       TEXT NOT NULL,
		agreement_until TEXT NOT NULL,
		created_at      BIGINT NOT NULL,
		created_by      TEXT NOT NULL
	);
	CREATE TABLE institution_submissions (
		id           BIGINT PRIMARY KEY,
		institution  TEXT NOT NULL,
		kind         TEXT NOT NULL,
		idem_key     TEXT NOT NULL,
		request_hash TEXT NOT NULL,
		draft_id     BIGINT NOT NULL,
		row_count    BIGINT NOT NULL,
		followups    BIGINT NOT NULL,
		submitted_by TEXT NOT NULL,
		created_at   BIGINT NOT NULL,
		response     TEXT NOT NULL,
		UNIQUE (institution, idem_key)
	);
	CREATE INDEX institution_submissions_draft ON institution_submissions (draft_id);
	CREATE TABLE payment_followups (
		id          BIGINT PRIMARY KEY,
		payment_seq BIGINT NOT NULL,
		person      TEXT NOT NULL,
		id_masked   TEXT NOT NULL,
		kind        TEXT NOT NULL,
		period      INTEGER NOT NULL,
		amount      BIGINT NOT NULL,
		bank        TEXT NOT NULL,
		reference   TEXT NOT NULL,
		reason      TEXT NOT NULL,
		submission  BIGINT NOT NULL,
		created_at  BIGINT NOT NULL
	);
	CREATE INDEX payment_followups_payment ON payment_followups (payment_seq);`)
