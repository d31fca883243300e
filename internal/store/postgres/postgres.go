// Package postgres is the production storage engine: PostgreSQL through pgx, with COPY for bulk appends and
// the journal tables protected by grants and triggers (I2).
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"sirec/internal/store"
)

// journalLock is the advisory lock key that sequences appends (any constant unique to sirec).
const journalLock = 0x5152_4543 // "SREC"

// Driver is the PostgreSQL engine.
type Driver struct {
	dsn  string
	pool *pgxpool.Pool
}

// Open connects to the database at dsn (postgres://…).
func Open(ctx context.Context, dsn string) (*Driver, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &Driver{dsn: dsn, pool: pool}, nil
}

func (*Driver) Name() string { return "postgres" }

func (d *Driver) Close() error {
	d.pool.Close()
	return nil
}

// Vacuum runs VACUUM (ANALYZE) over the database: what autovacuum does some time after a bulk load — marks the
// new rows visible to all (so that index-only scans can skip the table) and refreshes the planner's
// statistics — done now, so that it neither competes with the work that follows nor plans it from stale figures.
func (d *Driver) Vacuum(ctx context.Context) error {
	_, err := d.pool.Exec(ctx, "VACUUM (ANALYZE)")
	return err
}

// Begin starts a transaction; a write transaction first takes the journal's advisory lock.
func (d *Driver) Begin(ctx context.Context, write bool) (store.Tx, error) {
	opts := pgx.TxOptions{}
	if !write {
		opts.IsoLevel = pgx.RepeatableRead
		opts.AccessMode = pgx.ReadOnly
	}
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if write {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", journalLock); err != nil {
			tx.Rollback(ctx)
			return nil, err
		}
	}
	return &tx_{tx: tx}, nil
}

// Session opens a new connection with no statement cache, for verify's shadow tables.
func (d *Driver) Session(ctx context.Context) (store.Tx, error) {
	cfg, err := pgx.ParseConfig(d.dsn)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return &tx_{tx: tx, conn: conn}, nil
}

func (*Driver) Types() map[string]string {
	return map[string]string{"BLOB": "BYTEA", "SERIAL": "BIGSERIAL", "SEQ": "BIGINT"}
}

// Protect makes the journal append-only for the role the application connects as: its UPDATE, DELETE and
// TRUNCATE privileges are revoked and triggers refuse those statements for anyone, the owner included.
func (*Driver) Protect() []string {
	var s []string
	s = append(s, `CREATE OR REPLACE FUNCTION sirec_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'sirec: % on % is forbidden: the journal is append-only (I2, R6.3)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$`)
	for _, t := range []string{"journal_events", "journal_nodes", "journal_checkpoints"} {
		s = append(s,
			"REVOKE UPDATE, DELETE, TRUNCATE ON "+t+" FROM PUBLIC",
			"REVOKE UPDATE, DELETE, TRUNCATE ON "+t+" FROM CURRENT_USER",
			"DROP TRIGGER IF EXISTS "+t+"_append_only ON "+t,
			"CREATE TRIGGER "+t+"_append_only BEFORE UPDATE OR DELETE ON "+t+" FOR EACH ROW EXECUTE FUNCTION sirec_refuse_change()",
			"DROP TRIGGER IF EXISTS "+t+"_no_truncate ON "+t,
			"CREATE TRIGGER "+t+"_no_truncate BEFORE TRUNCATE ON "+t+" FOR EACH STATEMENT EXECUTE FUNCTION sirec_refuse_change()",
		)
	}
	return s
}

func (*Driver) Qualify(t string) (string, string) { return "public." + t, "pg_temp." + t }

func (*Driver) CreateShadow(t string) string {
	return "CREATE TEMP TABLE " + t + " (LIKE public." + t + " INCLUDING DEFAULTS) ON COMMIT DROP"
}

type tx_ struct {
	tx   pgx.Tx
	conn *pgx.Conn
}

func (t *tx_) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t *tx_) Query(ctx context.Context, q string, args ...any) (store.Rows, error) {
	r, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// QueryBatch sends qs in one round trip (a pgx pipeline) and hands each query's rows on in order.
func (t *tx_) QueryBatch(ctx context.Context, qs []store.BatchQuery) error {
	b := &pgx.Batch{}
	for _, q := range qs {
		b.Queue(q.SQL, q.Args...).Query(func(r pgx.Rows) error {
			for r.Next() {
				if err := q.Row(rows{r}); err != nil {
					return err
				}
			}
			return r.Err()
		})
	}
	return t.tx.SendBatch(ctx, b).Close()
}

func (t *tx_) QueryRow(ctx context.Context, q string, args ...any) store.Row {
	return row{t.tx.QueryRow(ctx, q, args...)}
}

func (t *tx_) CopyRows(ctx context.Context, table string, cols []string, data [][]any) error {
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(data))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// CopyFunc copies the rows next produces, until it returns a nil row, in one COPY: the rows are sent while
// next produces the later ones.
func (t *tx_) CopyFunc(ctx context.Context, table string, cols []string, next func() ([]any, error)) error {
	_, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(next))
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

func (t *tx_) Commit(ctx context.Context) error {
	defer t.close(ctx)
	return t.tx.Commit(ctx)
}

func (t *tx_) Rollback(ctx context.Context) error {
	defer t.close(ctx)
	err := t.tx.Rollback(ctx)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}

func (t *tx_) close(ctx context.Context) {
	if t.conn != nil {
		t.conn.Close(ctx)
		t.conn = nil
	}
}

type rows struct{ r pgx.Rows }

func (r rows) Next() bool             { return r.r.Next() }
func (r rows) Scan(dest ...any) error { return r.r.Scan(dest...) }
func (r rows) Err() error             { return r.r.Err() }
func (r rows) Close()                 { r.r.Close() }

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNoRows
	}
	return err
}
