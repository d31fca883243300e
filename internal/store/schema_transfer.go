package store

// Schema step 9: transfers between regions (转移接续, R10).
//
// Two projections of the transfer events: record_transfers (one row per transfer.out or transfer.in event) and
// transferred_months (the contribution months a transfer in brought, which count as months paid). The partial
// index finds the persons whose record was transferred out, so that an append can refuse their contributions
// without reading every person.
//
// The rest is the application's own state beside the journal: the agency's name and address
// (agency_identity, one row), the trust list of other agencies' verifier keys and addresses (agency_trust) with
// the log of every change to it, the transfers in both directions with their status history, the outbox of
// messages to deliver to other agencies (packages, acknowledgements, refusals) — which is what makes delivery
// survive a crash — and the log of packages refused on arrival. Packages hold ID numbers in clear, so they are
// stored sealed with the agency key (I7).
var _ = addMigration(9, `CREATE TABLE record_transfers (
		seq          {SEQ} PRIMARY KEY,
		person       TEXT NOT NULL,
		direction    TEXT NOT NULL,
		other_region TEXT NOT NULL,
		package      TEXT NOT NULL,
		period       INTEGER NOT NULL,
		pooled_fund  BIGINT NOT NULL
	);
	CREATE INDEX record_transfers_person ON record_transfers (person);
	CREATE TABLE transferred_months (
		seq        BIGINT NOT NULL,
		person     TEXT NOT NULL,
		type       TEXT NOT NULL,
		period     INTEGER NOT NULL,
		base       BIGINT NOT NULL,
		index_wage BIGINT NOT NULL,
		PRIMARY KEY (seq, type, period)
	);
	CREATE INDEX transferred_months_person ON transferred_months (person, type, period);
	CREATE INDEX persons_transferred_out ON persons (person) WHERE status = 'transferred_out';
	CREATE TABLE agency_identity (
		id         INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		url        TEXT NOT NULL,
		updated_at BIGINT NOT NULL,
		updated_by TEXT NOT NULL
	);
	CREATE TABLE agency_trust (
		region     TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		vkey       TEXT NOT NULL,
		url        TEXT NOT NULL,
		added_at   BIGINT NOT NULL,
		added_by   TEXT NOT NULL,
		updated_at BIGINT NOT NULL,
		updated_by TEXT NOT NULL
	);
	CREATE TABLE agency_trust_log (
		id     {SERIAL} PRIMARY KEY,
		at     BIGINT NOT NULL,
		actor  TEXT NOT NULL,
		action TEXT NOT NULL,
		region TEXT NOT NULL,
		detail TEXT NOT NULL
	);
	CREATE TABLE transfers (
		id              BIGINT PRIMARY KEY,
		direction       TEXT NOT NULL,
		package_id      TEXT NOT NULL UNIQUE,
		person          TEXT NOT NULL,
		name            TEXT NOT NULL,
		id_masked       TEXT NOT NULL,
		other_region    TEXT NOT NULL,
		status          TEXT NOT NULL,
		reason          TEXT NOT NULL,
		detail          TEXT NOT NULL,
		draft_id        BIGINT NOT NULL,
		period          INTEGER NOT NULL,
		account         BIGINT NOT NULL,
		pooled_fund     BIGINT NOT NULL,
		summary         TEXT NOT NULL,
		overlap         TEXT NOT NULL,
		package         {BLOB} NOT NULL,
		package_sha256  TEXT NOT NULL,
		checkpoint_size BIGINT NOT NULL,
		first_seq       BIGINT NOT NULL,
		event_count     BIGINT NOT NULL,
		created_at      BIGINT NOT NULL,
		created_by      TEXT NOT NULL,
		updated_at      BIGINT NOT NULL
	);
	CREATE INDEX transfers_list ON transfers (direction, status, id);
	CREATE INDEX transfers_person ON transfers (person);
	CREATE INDEX transfers_draft ON transfers (draft_id);
	CREATE TABLE transfer_history (
		transfer_id BIGINT NOT NULL,
		n           INTEGER NOT NULL,
		at          BIGINT NOT NULL,
		status      TEXT NOT NULL,
		actor       TEXT NOT NULL,
		detail      TEXT NOT NULL,
		PRIMARY KEY (transfer_id, n)
	);
	CREATE TABLE transfer_outbox (
		id           {SERIAL} PRIMARY KEY,
		transfer_id  BIGINT NOT NULL,
		kind         TEXT NOT NULL,
		region       TEXT NOT NULL,
		body         {BLOB} NOT NULL,
		attempts     INTEGER NOT NULL,
		next_at      BIGINT NOT NULL,
		last_at      BIGINT NOT NULL,
		last_error   TEXT NOT NULL,
		delivered_at BIGINT NOT NULL,
		gave_up_at   BIGINT NOT NULL,
		created_at   BIGINT NOT NULL
	);
	CREATE INDEX transfer_outbox_due ON transfer_outbox (delivered_at, gave_up_at, next_at);
	CREATE INDEX transfer_outbox_transfer ON transfer_outbox (transfer_id);
	CREATE TABLE transfer_refusals (
		id         {SERIAL} PRIMARY KEY,
		at         BIGINT NOT NULL,
		source     TEXT NOT NULL,
		package_id TEXT NOT NULL,
		sha256     TEXT NOT NULL,
		reason     TEXT NOT NULL,
		actor      TEXT NOT NULL
	);
	CREATE INDEX transfer_refusals_package ON transfer_refusals (package_id)`)

// The transfer projections are read models like the others: rebuilt and verified with them.
var _ = func() bool {
	ProjectionTables = append(ProjectionTables,
		struct{ Name, Key string }{"record_transfers", "seq"},
		struct{ Name, Key string }{"transferred_months", "seq"})
	return true
}()
