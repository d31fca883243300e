package store

// Schema step 8: query and use (Q1–Q7, R4.2) — what insured persons, employers and other bodies get from the
// records, and the control over who sees what.
//
//   - query_log gains the application a read was made under (Q6) and a hash chain: each row's hash covers the
//     previous row's hash and the row itself, so that a changed, removed or reordered row breaks the chain
//     (see internal/querylog). query_log_seals are signed statements of the chain's head (like the journal's
//     checkpoints), which tie the chain to the agency's key.
//   - statements: the yearly rights statements (权益记录单, Q5) as issued — their data, so that a statement can
//     be shown and printed again exactly as it was sent — and the runs of the yearly job.
//   - certificates (参保证明, Q2): what each certificate asserts, signed, and the journal events it rests on.
//   - objections (异议, Q4) with their history; proxy authorisations (授权委托, Q1); applications of other bodies
//     (Q6) with the persons they name; and the original materials attached to any of them (stored once, by
//     SHA-256, in review_materials).
//
// Keys are numbers the application assigns (MAX + 1 inside the write transaction), not sequences, so that a
// restored database continues them without resetting a sequence. Times are unix milliseconds; 0 means "none".
var _ = addMigration(8, `ALTER TABLE query_log ADD COLUMN application TEXT NOT NULL DEFAULT '';
	ALTER TABLE query_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
	CREATE INDEX query_log_at ON query_log (at, id);
	CREATE INDEX query_log_application ON query_log (application, id);
	CREATE TABLE query_log_seals (
		size    BIGINT PRIMARY KEY,
		last_id BIGINT NOT NULL,
		head    TEXT NOT NULL,
		at      BIGINT NOT NULL,
		signed  TEXT NOT NULL
	);
	CREATE TABLE statement_runs (
		id          BIGINT PRIMARY KEY,
		year        INTEGER NOT NULL,
		status      TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		finished_at BIGINT NOT NULL,
		started_by  TEXT NOT NULL,
		persons     BIGINT NOT NULL,
		done        BIGINT NOT NULL,
		issued      BIGINT NOT NULL,
		out_dir     TEXT NOT NULL,
		error       TEXT NOT NULL
	);
	CREATE TABLE statements (
		year            INTEGER NOT NULL,
		person          TEXT NOT NULL,
		version         INTEGER NOT NULL,
		run             BIGINT NOT NULL,
		issued_at       BIGINT NOT NULL,
		checkpoint_size BIGINT NOT NULL,
		data            {BLOB} NOT NULL,
		sha256          TEXT NOT NULL,
		PRIMARY KEY (year, person, version)
	);
	CREATE INDEX statements_person ON statements (person, year);
	CREATE TABLE certificates (
		number          TEXT PRIMARY KEY,
		code_hash       TEXT NOT NULL UNIQUE,
		code_sealed     {BLOB} NOT NULL,
		person          TEXT NOT NULL,
		kind            TEXT NOT NULL,
		span_from       INTEGER NOT NULL,
		span_to         INTEGER NOT NULL,
		issued_at       BIGINT NOT NULL,
		valid_until     BIGINT NOT NULL,
		issuer_kind     TEXT NOT NULL,
		issuer          TEXT NOT NULL,
		checkpoint_size BIGINT NOT NULL,
		body            TEXT NOT NULL,
		signed          TEXT NOT NULL,
		revoked_at      BIGINT NOT NULL,
		revoked_by      TEXT NOT NULL,
		revoke_reason   TEXT NOT NULL
	);
	CREATE INDEX certificates_person ON certificates (person, issued_at);
	CREATE TABLE objections (
		id          BIGINT PRIMARY KEY,
		person      TEXT NOT NULL,
		employer    TEXT NOT NULL,
		filer_kind  TEXT NOT NULL,
		filer       TEXT NOT NULL,
		channel     TEXT NOT NULL,
		subject     TEXT NOT NULL,
		event_seq   BIGINT NOT NULL,
		description TEXT NOT NULL,
		status      TEXT NOT NULL,
		filed_at    BIGINT NOT NULL,
		due_at      BIGINT NOT NULL,
		assignee    TEXT NOT NULL,
		draft_id    BIGINT NOT NULL,
		answer      TEXT NOT NULL,
		answered_by TEXT NOT NULL,
		closed_at   BIGINT NOT NULL,
		updated_at  BIGINT NOT NULL
	);
	CREATE INDEX objections_person ON objections (person, id);
	CREATE INDEX objections_status ON objections (status, due_at);
	CREATE TABLE objection_actions (
		objection_id BIGINT NOT NULL,
		n            INTEGER NOT NULL,
		at           BIGINT NOT NULL,
		actor        TEXT NOT NULL,
		action       TEXT NOT NULL,
		note         TEXT NOT NULL,
		PRIMARY KEY (objection_id, n)
	);
	CREATE TABLE proxy_authorisations (
		id            BIGINT PRIMARY KEY,
		person        TEXT NOT NULL,
		proxy_index   TEXT NOT NULL,
		proxy_sealed  {BLOB} NOT NULL,
		proxy_name    TEXT NOT NULL,
		fields        TEXT NOT NULL,
		valid_from    BIGINT NOT NULL,
		valid_until   BIGINT NOT NULL,
		recorded_by   TEXT NOT NULL,
		recorded_at   BIGINT NOT NULL,
		revoked_at    BIGINT NOT NULL,
		revoked_by    TEXT NOT NULL,
		revoke_reason TEXT NOT NULL
	);
	CREATE INDEX proxy_authorisations_proxy ON proxy_authorisations (proxy_index, valid_until);
	CREATE INDEX proxy_authorisations_person ON proxy_authorisations (person, id);
	CREATE TABLE access_applications (
		id            BIGINT PRIMARY KEY,
		body_name     TEXT NOT NULL,
		body_kind     TEXT NOT NULL,
		credential    TEXT NOT NULL,
		contact       TEXT NOT NULL,
		purpose       TEXT NOT NULL,
		legal_basis   TEXT NOT NULL,
		fields        TEXT NOT NULL,
		scope         TEXT NOT NULL,
		employer      TEXT NOT NULL,
		requested_until BIGINT NOT NULL,
		status        TEXT NOT NULL,
		registered_by TEXT NOT NULL,
		registered_at BIGINT NOT NULL,
		decided_by    TEXT NOT NULL,
		decided_at    BIGINT NOT NULL,
		reason        TEXT NOT NULL,
		valid_from    BIGINT NOT NULL,
		valid_until   BIGINT NOT NULL
	);
	CREATE INDEX access_applications_status ON access_applications (status, id);
	CREATE TABLE access_application_persons (
		application_id BIGINT NOT NULL,
		person         TEXT NOT NULL,
		PRIMARY KEY (application_id, person)
	);
	CREATE TABLE use_materials (
		owner        TEXT NOT NULL,
		sha256       TEXT NOT NULL,
		name         TEXT NOT NULL,
		content_type TEXT NOT NULL,
		added_by     TEXT NOT NULL,
		added_at     BIGINT NOT NULL,
		PRIMARY KEY (owner, sha256)
	)`)
