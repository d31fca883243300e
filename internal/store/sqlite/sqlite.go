// Package sqlite is the embedded storage engine: one SQLite file in WAL mode (mattn/go-sqlite3, the fastest
// driver measured here).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/mattn/go-sqlite3"

	"sirec/internal/store"
)

// Driver is the SQLite engine.
type Driver struct {
	path string
	db   *sql.DB // writers: BEGIN IMMEDIATE, one connection
	rdb  *sql.DB // readers: deferred transactions, never blocked by the writer in WAL mode
}

// Open opens (creating when missing) the database file at path.
func Open(path string) (*Driver, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite3", dsn(path, "immediate"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite3", dsn(path, "deferred"))
	if err != nil {
		db.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(16)
	rdb.SetMaxIdleConns(16)
	return &Driver{path: path, db: db, rdb: rdb}, nil
}

func dsn(path, txlock string) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", txlock)
	q.Set("_cache_size", "-131072") // 128 MiB of page cache per connection: index inserts in random key order stay in memory
	return "file:" + path + "?" + q.Encode()
}

func (*Driver) Name() string { return "sqlite" }

// Path returns the database file.
func (d *Driver) Path() string { return d.path }

func (d *Driver) Close() error {
	d.rdb.Close()
	return d.db.Close()
}

// Begin starts a transaction. A write transaction is BEGIN IMMEDIATE on the one writer connection: SQLite has
// one writer at a time anyway, and taking the lock first avoids deadlocks on upgrade. Reads use deferred
// transactions on other connections and, in WAL mode, see a consistent snapshot without blocking.
func (d *Driver) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if !write {
		tx, err := d.rdb.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return &tx_{tx: tx}, nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &tx_{tx: tx}, nil
}

// Session opens a separate connection for verify's shadow tables.
func (d *Driver) Session(ctx context.Context) (store.Tx, error) {
	db, err := sql.Open("sqlite3", dsn(d.path, "immediate"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &tx_{tx: tx, closeDB: db}, nil
}

func (*Driver) Types() map[string]string {
	return map[string]string{"BLOB": "BLOB", "SERIAL": "INTEGER"}
}

// Protect adds triggers that refuse UPDATE and DELETE on the journal tables. Anyone with the file can drop
// them, which is why verify exists; they keep the application itself honest (I2).
func (*Driver) Protect() []string {
	var s []string
	for _, t := range []string{"journal_events", "journal_nodes", "journal_checkpoints"} {
		for _, op := range []string{"UPDATE", "DELETE"} {
			name := t + "_no_" + strings.ToLower(op)
			s = append(s, "DROP TRIGGER IF EXISTS "+name,
				"CREATE TRIGGER "+name+" BEFORE "+op+" ON "+t+" BEGIN SELECT RAISE(ABORT, 'sirec: "+op+" on "+t+" is forbidden: the journal is append-only (I2, R6.3)'); END")
		}
	}
	return s
}

// Triggers lists the protecting triggers, for tests that play the attacker.
func Triggers() []string {
	var s []string
	for _, t := range []string{"journal_events", "journal_nodes", "journal_checkpoints"} {
		s = append(s, t+"_no_update", t+"_no_delete")
	}
	return s
}

func (*Driver) Qualify(t string) (string, string) { return "main." + t, "temp." + t }

func (*Driver) CreateShadow(t string) string {
	return "CREATE TEMP TABLE " + t + " AS SELECT * FROM main." + t + " WHERE 0"
}

type tx_ struct {
	tx      *sql.Tx
	closeDB *sql.DB
	stmts   map[string]*sql.Stmt
}

func (t *tx_) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *tx_) Query(ctx context.Context, q string, args ...any) (store.Rows, error) {
	r, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (t *tx_) QueryRow(ctx context.Context, q string, args ...any) store.Row {
	return row{t.tx.QueryRowContext(ctx, q, args...)}
}

// CopyRows inserts rows with prepared multi-row INSERT statements of up to 100 rows (SQLite allows 32,766
// parameters per statement).
func (t *tx_) CopyRows(ctx context.Context, table string, cols []string, data [][]any) error {
	const per = 100
	for len(data) > 0 {
		n := min(per, len(data))
		st, err := t.insertStmt(ctx, table, cols, n)
		if err != nil {
			return err
		}
		args := make([]any, 0, n*len(cols))
		for _, r := range data[:n] {
			args = append(args, r...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		data = data[n:]
	}
	return nil
}

func (t *tx_) insertStmt(ctx context.Context, table string, cols []string, n int) (*sql.Stmt, error) {
	key := fmt.Sprintf("%s/%d/%d", table, len(cols), n)
	if st := t.stmts[key]; st != nil {
		return st, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ",") + ") VALUES ")
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	st, err := t.tx.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, err
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[key] = st
	return st, nil
}

func (t *tx_) Commit(context.Context) error {
	defer t.close()
	return t.tx.Commit()
}

func (t *tx_) Rollback(context.Context) error {
	defer t.close()
	err := t.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

func (t *tx_) close() {
	for _, st := range t.stmts {
		st.Close()
	}
	t.stmts = nil
	if t.closeDB != nil {
		t.closeDB.Close()
	}
}

type rows struct{ r *sql.Rows }

func (r rows) Next() bool             { return r.r.Next() }
func (r rows) Scan(dest ...any) error { return r.r.Scan(dest...) }
func (r rows) Err() error             { return r.r.Err() }
func (r rows) Close()                 { r.r.Close() }

type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNoRows
	}
	return err
}
