package store

// Schema step 6: maintenance (issue 6) — work items raised by the data checks (and, later, by reconciliation),
// the record of check runs, outside helpers' confidentiality agreements, and the archive's retention settings
// and its index of which persons each draft with materials names (R11.1, R11.2, R12, R13).
//
// None of these are projections: they are the application's own state beside the journal. work_items may be
// updated (status, assignment) but every change is also written to work_item_actions, which no code path
// changes or deletes. The unique index on finding_key over items that are not closed is what keeps a re-run of a
// check from opening a second item for the same finding. archive_draft_persons is a derived index (rebuilt from
// the sealed draft payloads when a draft changes); it holds person keys, never ID numbers.
var _ = addMigration(6, `CREATE TABLE work_items (
		id               BIGINT PRIMARY KEY,
		source           TEXT NOT NULL,
		kind             TEXT NOT NULL,
		finding_key      TEXT NOT NULL,
		severity         TEXT NOT NULL,
		person           TEXT NOT NULL,
		masked_id        TEXT NOT NULL,
		employer         TEXT NOT NULL,
		period           INTEGER NOT NULL,
		seq              BIGINT NOT NULL,
		detail           TEXT NOT NULL,
		status           TEXT NOT NULL,
		resolution       TEXT NOT NULL,
		assignee         TEXT NOT NULL,
		draft_id         BIGINT NOT NULL,
		proposal_grounds TEXT NOT NULL,
		proposal_reason  TEXT NOT NULL,
		proposed_by      TEXT NOT NULL,
		proposed_at      BIGINT NOT NULL,
		closed_by        TEXT NOT NULL,
		closed_at        BIGINT NOT NULL,
		first_run        BIGINT NOT NULL,
		last_run         BIGINT NOT NULL,
		last_seen        BIGINT NOT NULL,
		gone_since       BIGINT NOT NULL,
		created_at       BIGINT NOT NULL,
		updated_at       BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX work_items_open_finding ON work_items (finding_key) WHERE status <> 'closed';
	CREATE INDEX work_items_finding ON work_items (finding_key, status);
	CREATE INDEX work_items_status ON work_items (status, severity, id);
	CREATE INDEX work_items_assignee ON work_items (assignee, status);
	CREATE INDEX work_items_person ON work_items (person);
	CREATE INDEX work_items_source_run ON work_items (source, kind, last_run);
	CREATE INDEX work_items_draft ON work_items (draft_id);
	CREATE TABLE work_item_actions (
		item_id BIGINT NOT NULL,
		n       INTEGER NOT NULL,
		at      BIGINT NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		detail  TEXT NOT NULL,
		PRIMARY KEY (item_id, n)
	);
	CREATE TABLE check_runs (
		id            BIGINT PRIMARY KEY,
		trigger_kind  TEXT NOT NULL,
		started_by    TEXT NOT NULL,
		checks        TEXT NOT NULL,
		status        TEXT NOT NULL,
		started_at    BIGINT NOT NULL,
		heartbeat     BIGINT NOT NULL,
		finished_at   BIGINT NOT NULL,
		current_check TEXT NOT NULL,
		checks_done   INTEGER NOT NULL,
		rows_read     BIGINT NOT NULL,
		findings      BIGINT NOT NULL,
		new_items     BIGINT NOT NULL,
		seen_items    BIGINT NOT NULL,
		gone_items    BIGINT NOT NULL,
		suppressed    BIGINT NOT NULL,
		error         TEXT NOT NULL
	);
	CREATE INDEX check_runs_status ON check_runs (status, id);
	CREATE TABLE auth_agreements (
		id           {SERIAL} PRIMARY KEY,
		username     TEXT NOT NULL,
		sha256       TEXT NOT NULL,
		name         TEXT NOT NULL,
		content_type TEXT NOT NULL,
		signed_on    TEXT NOT NULL,
		expires_on   TEXT NOT NULL,
		added_by     TEXT NOT NULL,
		added_at     BIGINT NOT NULL
	);
	CREATE INDEX auth_agreements_user ON auth_agreements (username, expires_on);
	CREATE TABLE archive_retention (
		type       TEXT PRIMARY KEY,
		years      INTEGER NOT NULL,
		updated_at BIGINT NOT NULL,
		updated_by TEXT NOT NULL
	);
	CREATE TABLE archive_retention_log (
		id        {SERIAL} PRIMARY KEY,
		at        BIGINT NOT NULL,
		actor     TEXT NOT NULL,
		type      TEXT NOT NULL,
		old_years INTEGER NOT NULL,
		new_years INTEGER NOT NULL,
		reason    TEXT NOT NULL
	);
	CREATE TABLE archive_draft_persons (
		draft_id BIGINT NOT NULL,
		person   TEXT NOT NULL,
		PRIMARY KEY (draft_id, person)
	);
	CREATE INDEX archive_draft_persons_person ON archive_draft_persons (person, draft_id);
	CREATE TABLE archive_indexed (
		draft_id   BIGINT PRIMARY KEY,
		updated_at BIGINT NOT NULL
	);`)
