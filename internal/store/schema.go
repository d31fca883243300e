package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SchemaVersion is the highest schema step this binary knows. A database missing steps is upgraded by
// Migrate; a binary refuses to work on a database holding a step it does not know.
var SchemaVersion int

// laterMigrations are steps 6 and after, each registered by the file of the capability it serves through
// addMigration, so that a capability's schema lives beside its code.
var laterMigrations = map[int]string{}

// migrationFuncs are what a step does besides its DDL, in the same transaction: filling a new projection from
// the journal, so that an upgraded database agrees with a replay.
var migrationFuncs = map[int]func(context.Context, Tx) error{}

// addMigrationFunc registers what step v does after its DDL. Call it only from a package-level var initialiser.
func addMigrationFunc(v int, fn func(context.Context, Tx) error) bool {
	migrationFuncs[v] = fn
	return true
}

// addMigration registers schema step v. Call it only from a package-level var initialiser.
func addMigration(v int, ddl string) bool {
	if _, dup := laterMigrations[v]; dup || v <= len(migrations) {
		panic(fmt.Sprintf("store: schema migration %d registered twice", v))
	}
	laterMigrations[v] = ddl
	return true
}

// steps are every known schema step, ascending.
var steps []step

type step struct {
	version int
	ddl     string
}

func init() {
	for i, ddl := range migrations {
		steps = append(steps, step{i + 1, ddl})
	}
	var later []int
	for v := range laterMigrations {
		later = append(later, v)
	}
	sort.Ints(later)
	for _, v := range later {
		steps = append(steps, step{v, laterMigrations[v]})
	}
	SchemaVersion = steps[len(steps)-1].version
}

// migrations are applied in order, each in its own transaction, and recorded in schema_migrations. {BLOB} is
// replaced by the engine's binary type, {SERIAL} by its auto-increment key and {SEQ} by its 64-bit integer
// key (see Driver.Types). Never edit a released step: add a new one.
var migrations = []string{
	// 1: the journal (I2, I3) and the projections of the foundation.
	//
	// An event row is its canonical encoding and its Merkle leaf hash, nothing else: whatever a query needs of
	// an event is in the projections. {SEQ} is the 64-bit integer key type (on SQLite INTEGER, so that the key
	// is the rowid and the table needs no second index).
	`CREATE TABLE journal_events (
		seq       {SEQ} PRIMARY KEY,
		body      {BLOB} NOT NULL,
		leaf_hash {BLOB} NOT NULL
	);
	CREATE TABLE journal_nodes (
		level INTEGER NOT NULL,
		idx   BIGINT NOT NULL,
		hash  {BLOB} NOT NULL,
		PRIMARY KEY (level, idx)
	);
	CREATE TABLE journal_checkpoints (
		size   {SEQ} PRIMARY KEY,
		at     BIGINT NOT NULL,
		signed TEXT NOT NULL
	);
	CREATE TABLE persons (
		person        TEXT PRIMARY KEY,
		id_index      TEXT NOT NULL UNIQUE,
		id_sealed     {BLOB} NOT NULL,
		name          TEXT NOT NULL,
		sex           TEXT NOT NULL,
		birth         TEXT NOT NULL,
		phone         TEXT NOT NULL,
		region        TEXT NOT NULL,
		registered_on TEXT NOT NULL,
		status        TEXT NOT NULL,
		death_date    TEXT NOT NULL,
		seq           BIGINT NOT NULL,
		updated_seq   BIGINT NOT NULL
	);
	CREATE TABLE employers (
		credit_code    TEXT PRIMARY KEY,
		name           TEXT NOT NULL,
		region         TEXT NOT NULL,
		industry_class INTEGER NOT NULL,
		registered_on  TEXT NOT NULL,
		status         TEXT NOT NULL,
		seq            BIGINT NOT NULL,
		updated_seq    BIGINT NOT NULL
	);
	CREATE TABLE enrolments (
		seq        {SEQ} PRIMARY KEY,
		person     TEXT NOT NULL,
		type       TEXT NOT NULL,
		employer   TEXT NOT NULL,
		start_date TEXT NOT NULL,
		end_date   TEXT NOT NULL,
		stop_seq   BIGINT NOT NULL
	);
	CREATE INDEX enrolments_person ON enrolments (person);
	CREATE INDEX enrolments_employer ON enrolments (employer);
	CREATE TABLE contributions (
		seq               {SEQ} PRIMARY KEY,
		person            TEXT NOT NULL,
		region            TEXT NOT NULL,
		type              TEXT NOT NULL,
		period            INTEGER NOT NULL,
		employer          TEXT NOT NULL,
		status            TEXT NOT NULL,
		wage              BIGINT NOT NULL,
		base              BIGINT NOT NULL,
		employer_amount   BIGINT NOT NULL,
		individual_amount BIGINT NOT NULL,
		account_credit    BIGINT NOT NULL,
		late_days         INTEGER NOT NULL,
		late_fee          BIGINT NOT NULL
	);
	CREATE INDEX contributions_person ON contributions ` + contributionsPersonIndex + `;
	CREATE TABLE subsidies (
		seq    {SEQ} PRIMARY KEY,
		person TEXT NOT NULL,
		type   TEXT NOT NULL,
		kind   TEXT NOT NULL,
		period INTEGER NOT NULL,
		amount BIGINT NOT NULL
	);
	CREATE INDEX subsidies_person ON subsidies (person);
	CREATE TABLE eligibilities (
		seq       {SEQ} PRIMARY KEY,
		person    TEXT NOT NULL,
		kind      TEXT NOT NULL,
		from_date TEXT NOT NULL,
		to_date   TEXT NOT NULL,
		decision  TEXT NOT NULL
	);
	CREATE INDEX eligibilities_person ON eligibilities (person);
	CREATE TABLE benefit_payments (
		seq    {SEQ} PRIMARY KEY,
		person TEXT NOT NULL,
		kind   TEXT NOT NULL,
		period INTEGER NOT NULL,
		amount BIGINT NOT NULL
	);
	CREATE INDEX benefit_payments_person ON benefit_payments (person);
	CREATE TABLE deemed_periods (
		seq         {SEQ} PRIMARY KEY,
		person      TEXT NOT NULL,
		from_period INTEGER NOT NULL,
		to_period   INTEGER NOT NULL,
		basis       TEXT NOT NULL
	);
	CREATE INDEX deemed_periods_person ON deemed_periods (person);
	CREATE TABLE account_transfers (
		seq          {SEQ} PRIMARY KEY,
		person       TEXT NOT NULL,
		direction    TEXT NOT NULL,
		other_region TEXT NOT NULL,
		period       INTEGER NOT NULL,
		amount       BIGINT NOT NULL
	);
	CREATE INDEX account_transfers_person ON account_transfers (person);
	CREATE TABLE other_records (
		seq        {SEQ} PRIMARY KEY,
		person     TEXT NOT NULL,
		kind       TEXT NOT NULL,
		attributes TEXT NOT NULL
	);
	CREATE INDEX other_records_person ON other_records (person);
	CREATE TABLE corrections (
		seq            {SEQ} PRIMARY KEY,
		superseded_seq BIGINT NOT NULL,
		type           TEXT NOT NULL
	);
	CREATE TABLE rule_sets (
		seq            {SEQ} PRIMARY KEY,
		region         TEXT NOT NULL,
		effective_from INTEGER NOT NULL,
		version        TEXT NOT NULL,
		body           TEXT NOT NULL
	);`,
	// 2: users, posts, sessions, API tokens and the authentication log (S1, S2, R7). Not projections: they are
	// the application's own state, kept apart from the journal. Times are unix milliseconds; 0 means "none".
	`CREATE TABLE auth_users (
		username     TEXT PRIMARY KEY,
		display_name TEXT NOT NULL,
		password     TEXT NOT NULL,
		disabled     INTEGER NOT NULL,
		external     INTEGER NOT NULL,
		created_at   BIGINT NOT NULL,
		updated_at   BIGINT NOT NULL
	);
	CREATE TABLE auth_user_posts (
		username   TEXT NOT NULL,
		post       TEXT NOT NULL,
		granted_at BIGINT NOT NULL,
		granted_by TEXT NOT NULL,
		PRIMARY KEY (username, post)
	);
	CREATE TABLE auth_lockouts (
		username     TEXT PRIMARY KEY,
		failures     INTEGER NOT NULL,
		last_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL
	);
	CREATE TABLE auth_sessions (
		token_hash {BLOB} PRIMARY KEY,
		username   TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		last_seen  BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE INDEX auth_sessions_username ON auth_sessions (username);
	CREATE TABLE auth_tokens (
		id         TEXT PRIMARY KEY,
		token_hash {BLOB} NOT NULL UNIQUE,
		username   TEXT NOT NULL,
		name       TEXT NOT NULL,
		scopes     TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		created_by TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		revoked_at BIGINT NOT NULL
	);
	CREATE INDEX auth_tokens_username ON auth_tokens (username);
	CREATE TABLE auth_log (
		id      {SERIAL} PRIMARY KEY,
		at      BIGINT NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		subject TEXT NOT NULL,
		detail  TEXT NOT NULL
	);
	CREATE INDEX auth_log_subject ON auth_log (subject, id);
	CREATE INDEX auth_log_actor ON auth_log (actor, id);`,
	// 3: drafts under review, their actions and their original materials (R6.1, R7, R13). The drafts' facts
	// carry ID numbers in clear, so the payload is sealed with the agency's key (I7).
	`CREATE TABLE review_drafts (
		id            BIGINT PRIMARY KEY,
		kind          TEXT NOT NULL,
		maker         TEXT NOT NULL,
		status        TEXT NOT NULL,
		stage         INTEGER NOT NULL,
		chain         TEXT NOT NULL,
		payload       {BLOB} NOT NULL,
		facts         INTEGER NOT NULL,
		summary       TEXT NOT NULL,
		file_hash     TEXT NOT NULL,
		created_at    BIGINT NOT NULL,
		updated_at    BIGINT NOT NULL,
		first_seq     BIGINT NOT NULL,
		event_count   BIGINT NOT NULL
	);
	CREATE INDEX review_drafts_status ON review_drafts (status, stage);
	CREATE INDEX review_drafts_file ON review_drafts (file_hash);
	CREATE TABLE review_actions (
		draft_id BIGINT NOT NULL,
		n        INTEGER NOT NULL,
		at       BIGINT NOT NULL,
		actor    TEXT NOT NULL,
		stage    TEXT NOT NULL,
		decision TEXT NOT NULL,
		reason   TEXT NOT NULL,
		PRIMARY KEY (draft_id, n)
	);
	CREATE TABLE review_materials (
		sha256     TEXT PRIMARY KEY,
		size       BIGINT NOT NULL,
		content    {BLOB} NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE review_draft_materials (
		draft_id     BIGINT NOT NULL,
		sha256       TEXT NOT NULL,
		name         TEXT NOT NULL,
		content_type TEXT NOT NULL,
		added_by     TEXT NOT NULL,
		added_at     BIGINT NOT NULL,
		PRIMARY KEY (draft_id, sha256)
	);
	CREATE TABLE review_chains (
		kind       TEXT PRIMARY KEY,
		stages     TEXT NOT NULL,
		updated_at BIGINT NOT NULL,
		updated_by TEXT NOT NULL
	);`,
	// 4: self-service portal accounts of insured persons and employers, their sessions, and the query log of
	// every view of a person's data by someone other than that person (Q1, Q3, Q7). The query log is
	// append-only: no code path changes or deletes its rows.
	`CREATE TABLE portal_accounts (
		username     TEXT PRIMARY KEY,
		kind         TEXT NOT NULL,
		subject      TEXT NOT NULL,
		password     TEXT NOT NULL,
		created_at   BIGINT NOT NULL,
		created_by   TEXT NOT NULL,
		disabled     INTEGER NOT NULL,
		failures     INTEGER NOT NULL,
		last_failure BIGINT NOT NULL,
		locked_until BIGINT NOT NULL
	);
	CREATE INDEX portal_accounts_subject ON portal_accounts (kind, subject);
	CREATE TABLE portal_sessions (
		token_hash {BLOB} PRIMARY KEY,
		username   TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		last_seen  BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE INDEX portal_sessions_username ON portal_sessions (username);
	CREATE TABLE query_log (
		id         {SERIAL} PRIMARY KEY,
		at         BIGINT NOT NULL,
		actor_kind TEXT NOT NULL,
		actor      TEXT NOT NULL,
		person     TEXT NOT NULL,
		page       TEXT NOT NULL,
		fields     TEXT NOT NULL,
		purpose    TEXT NOT NULL
	);
	CREATE INDEX query_log_person ON query_log (person, id);
	CREATE INDEX query_log_actor ON query_log (actor, id);`,
	// 5: the maintenance log (维护日志, R12) as a searchable projection of the maintenance.logged events. types and
	// reviewers are comma-bracketed lists (",a,b,") so that one LIKE finds a member.
	`CREATE TABLE maintenance_log (
		seq         BIGINT PRIMARY KEY,
		at          BIGINT NOT NULL,
		draft       TEXT NOT NULL,
		person      TEXT NOT NULL,
		types       TEXT NOT NULL,
		reason      TEXT NOT NULL,
		method      TEXT NOT NULL,
		responsible TEXT NOT NULL,
		reviewers   TEXT NOT NULL,
		changes     TEXT NOT NULL
	);
	CREATE INDEX maintenance_log_person ON maintenance_log (person, seq);
	CREATE INDEX maintenance_log_responsible ON maintenance_log (responsible, seq);`,
}

// contributionsPersonIndex is the key of the contributions index by person: what PersonRecord reads a
// person's contributions by, in the order it shows them.
const contributionsPersonIndex = "(person, type, period)"

// ContributionsPersonIndex is contributionsPersonIndex for the benchmarks, whose plain baseline table gets the
// projection's person index.
const ContributionsPersonIndex = contributionsPersonIndex

// ProjectionTables are the read models: derived from the journal, dropped and rebuilt at will (with the primary
// key each is compared by).
var ProjectionTables = []struct{ Name, Key string }{
	{"persons", "person"},
	{"employers", "credit_code"},
	{"enrolments", "seq"},
	{"contributions", "seq"},
	{"subsidies", "seq"},
	{"eligibilities", "seq"},
	{"benefit_payments", "seq"},
	{"deemed_periods", "seq"},
	{"account_transfers", "seq"},
	{"other_records", "seq"},
	{"corrections", "seq"},
	{"rule_sets", "seq"},
	{"maintenance_log", "seq"},
}

// ErrSchemaTooNew is returned when the database was written by a newer sirec.
var ErrSchemaTooNew = fmt.Errorf("the database schema is newer than this sirec; use the newer binary")

// appliedSteps reads the versions recorded in schema_migrations.
func appliedSteps(ctx context.Context, tx Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

// Migrate creates or upgrades the schema and applies the engine's protections. It reports the versions applied.
func Migrate(ctx context.Context, d Driver, now time.Time) ([]int, error) {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"); err != nil {
		return nil, err
	}
	done, err := appliedSteps(ctx, tx)
	if err != nil {
		return nil, err
	}
	known := map[int]bool{}
	for _, st := range steps {
		known[st.version] = true
	}
	for v := range done {
		if !known[v] {
			return nil, fmt.Errorf("%w (database has step %d, binary knows up to %d)", ErrSchemaTooNew, v, SchemaVersion)
		}
	}
	var applied []int
	for _, st := range steps {
		if done[st.version] {
			continue
		}
		v, ddl := st.version, st.ddl
		for k, t := range d.Types() {
			ddl = strings.ReplaceAll(ddl, "{"+k+"}", t)
		}
		for _, stmt := range strings.Split(ddl, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return nil, fmt.Errorf("schema migration %d: %w", v, err)
			}
		}
		if fn := migrationFuncs[v]; fn != nil {
			if err := fn(ctx, tx); err != nil {
				return nil, fmt.Errorf("schema migration %d: %w", v, err)
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", v, now.UnixMilli()); err != nil {
			return nil, err
		}
		applied = append(applied, v)
	}
	if len(applied) > 0 {
		for _, stmt := range d.Protect() {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return nil, fmt.Errorf("protect journal: %w", err)
			}
		}
	}
	return applied, tx.Commit(ctx)
}
