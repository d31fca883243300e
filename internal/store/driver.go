// Package store keeps the journal and the projections in a relational database. The SQL here is shared by both
// engines (placeholders $1, $2 …; types chosen so that SQLite and PostgreSQL read them alike); what differs —
// opening, locking, bulk insert, DDL types, protections — is the Driver, implemented in store/sqlite and
// store/postgres.
package store

import (
	"context"
	"errors"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing.
var ErrNoRows = errors.New("no rows")

// Driver is one storage engine.
type Driver interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Begin opens a transaction. A write transaction is the only writer of the journal while it lasts
	// (SQLite BEGIN IMMEDIATE; PostgreSQL an advisory transaction lock), so appends are sequenced.
	Begin(ctx context.Context, write bool) (Tx, error)
	// Session opens a transaction on a new connection of its own, with no cached statements: verify builds
	// shadow projections there in temporary tables that hide the real ones.
	Session(ctx context.Context) (Tx, error)
	// Types maps the portable DDL type names used in migrations to the engine's.
	Types() map[string]string
	// Protect returns the engine's statements that forbid changing journal tables (PostgreSQL: grants and
	// triggers). Run after migrations.
	Protect() []string
	// Qualify returns the name of table t in the main schema and in the temporary schema.
	Qualify(t string) (main, temp string)
	// CreateShadow returns the statement that makes an empty temporary copy of table t.
	CreateShadow(t string) string
	Close() error
}

// Tx is a transaction.
type Tx interface {
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	// CopyRows inserts many rows into table: COPY on PostgreSQL, multi-row prepared INSERTs on SQLite.
	CopyRows(ctx context.Context, table string, cols []string, rows [][]any) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// BatchQuery is one query of a batch: its SQL and arguments, and what to do with each row it returns.
type BatchQuery struct {
	SQL  string
	Args []any
	Row  func(Rows) error
}

// Batcher is a Tx that can send several queries in one round trip: PostgreSQL pipelines them (pgx.Batch).
type Batcher interface {
	QueryBatch(ctx context.Context, qs []BatchQuery) error
}

// QueryBatch runs qs in order in tx, in one round trip where the engine can (Batcher), one after the other
// where it cannot (SQLite, in process, has no round trips to save).
func QueryBatch(ctx context.Context, tx Tx, qs []BatchQuery) error {
	if b, ok := tx.(Batcher); ok {
		return b.QueryBatch(ctx, qs)
	}
	for _, q := range qs {
		if err := func() error {
			rows, err := tx.Query(ctx, q.SQL, q.Args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := q.Row(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}(); err != nil {
			return err
		}
	}
	return nil
}

// Row is a single-row result.
type Row interface {
	Scan(dest ...any) error
}
