package store

// Schema step 10: what the staff console needs beyond the projections.
//
//   - persons_name: the console finds persons by name as well as by ID number; without an index that is a scan
//     of every person. Registrations are few beside contributions, so the index costs the posting path little.
//   - verify_runs: the outcome of every verification of the journal and projections (sirec verify, the
//     console's "verify now" and the scheduled runs of serve), so that the dashboard and the checkpoint page show
//     the latest result and when it was obtained. A row is a report, not evidence: verify itself is the proof.
var _ = addMigration(10, `CREATE INDEX persons_name ON persons (name);
	CREATE TABLE verify_runs (
		id           {SERIAL} PRIMARY KEY,
		started_at   BIGINT NOT NULL,
		finished_at  BIGINT NOT NULL,
		actor        TEXT NOT NULL,
		ok           INTEGER NOT NULL,
		events       BIGINT NOT NULL,
		checkpoints  BIGINT NOT NULL,
		rows_checked BIGINT NOT NULL,
		root         TEXT NOT NULL,
		message      TEXT NOT NULL
	);
	CREATE INDEX verify_runs_finished ON verify_runs (finished_at)`)
