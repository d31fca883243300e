// Package sqlite is the embedded storage engine: one SQLite file in WAL mode (mattn/go-sqlite3, the fastest
// driver measured here).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"sirec/internal/store"
)

// Driver is the SQLite engine.
type Driver struct {
	path string
	db   *sql.DB // writers: BEGIN IMMEDIATE, one connection
	rdb  *sql.DB // readers: deferred transactions, never blocked by the writer in WAL mode
	ckpt *checkpointer
}

// Open opens (creating when missing) the database file at path.
func Open(path string) (*Driver, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	if err := create(path); err != nil {
		return nil, err
	}
	db, err := sql.Open(writerDriver, dsn(path, "immediate"))
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
	ckpt, err := startCheckpointer(path)
	if err != nil {
		rdb.Close()
		db.Close()
		return nil, err
	}
	return &Driver{path: path, db: db, rdb: rdb, ckpt: ckpt}, nil
}

// pageSize is the page size of a new database file. SQLite's default, 4 KiB, makes a large batch write many
// small pages: the journal's rows are appended, and the projections' person indexes take rows in random key
// order, touching a page per row. With 16 KiB pages a batch of 100,000 contributions posts 10–25 % faster; a
// read of one person's record reads larger pages (InnoDB's are 16 KiB too, PostgreSQL's 8 KiB). A database
// keeps the page size it was created with.
const pageSize = 16384

// create makes a new, empty database file with pageSize pages in WAL mode; an existing file is left alone.
func create(path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	// The page size is fixed when the first page is written, here by switching to WAL.
	if _, err := db.Exec(fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", pageSize)); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

func dsn(path, txlock string) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "30000")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", txlock)
	// database/sql never uses a connection from two goroutines at once: SQLite's own per-call locking of the
	// connection (serialized mode) is not needed.
	q.Set("_mutex", "no")
	q.Set("_cache_size", "-131072") // 128 MiB of page cache per connection: index inserts in random key order stay in memory
	// Each connection keeps its last 64 prepared statements: a one-person read runs the same dozen queries
	// every time, and compiling them was a fifth of its CPU.
	q.Set("_stmt_cache_size", "64")
	return "file:" + path + "?" + q.Encode()
}

func (*Driver) Name() string { return "sqlite" }

// Path returns the database file.
func (d *Driver) Path() string { return d.path }

func (d *Driver) Close() error {
	d.rdb.Close()
	err := d.db.Close()
	if cerr := d.ckpt.close(); err == nil {
		err = cerr
	}
	return err
}

// Begin starts a transaction. A write transaction is BEGIN IMMEDIATE on the one writer connection: SQLite has
// one writer at a time anyway, and taking the lock first avoids deadlocks on upgrade. Reads use deferred
// transactions on other connections and, in WAL mode, see a consistent snapshot without blocking.
func (d *Driver) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if !write {
		return begin(ctx, d.rdb, nil)
	}
	t, err := begin(ctx, d.db, nil)
	if err != nil {
		return nil, err
	}
	t.committed = d.ckpt.kick
	return t, nil
}

// begin starts a transaction on a connection of its own taken from db, so that bulk inserts can reach the
// driver's connection (see CopyRows). closeDB, when not nil, is closed with the transaction.
func begin(ctx context.Context, db *sql.DB, closeDB *sql.DB) (*tx_, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &tx_{tx: tx, conn: conn, closeDB: closeDB}, nil
}

// Session opens a separate connection for verify's shadow tables. Its transaction is a deferred one: it reads
// the database as of its first read (a WAL snapshot) and writes only to its own temporary tables, so a long
// verification never holds the write lock and postings, sign-ins and query-log entries go on meanwhile.
func (d *Driver) Session(ctx context.Context) (store.Tx, error) {
	db, err := sql.Open("sqlite3", dsn(d.path, "deferred"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	t, err := begin(ctx, db, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return t, nil
}

// Types maps the portable types. SEQ, the journal's 64-bit sequence key, is INTEGER so that a table keyed by it
// is keyed by its rowid: no separate primary-key index to maintain on every insert.
func (*Driver) Types() map[string]string {
	return map[string]string{"BLOB": "BLOB", "SERIAL": "INTEGER", "SEQ": "INTEGER"}
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
	conn    *sql.Conn
	closeDB *sql.DB
	inserts map[string]driver.Stmt // INSERTs prepared on the driver's connection, by table, columns and rows
	args    []driver.NamedValue
	// committed, when set, is called after a successful commit (the writer's: it wakes the checkpointer).
	committed func()
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

// CopyRows inserts rows with one prepared single-row INSERT, run on the driver's connection directly (inside the
// transaction, which lives on that connection). A single-row INSERT needs no statement journal — SQLite's undo
// log for a statement that fails halfway, which for a multi-row INSERT into a table with an index in random
// key order costs a page copy per row — and going around database/sql saves its per-call conversions and
// locking. The context is checked between rows rather than handed to the driver, which would watch it from a
// goroutine per statement.
func (t *tx_) CopyRows(ctx context.Context, table string, cols []string, data [][]any) error {
	if len(data) == 0 {
		return nil
	}
	return t.conn.Raw(func(dc any) error {
		st, err := t.insertStmt(dc, table, cols, 1)
		if err != nil {
			return err
		}
		ex, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("insert into %s: the driver cannot execute statements with context", table)
		}
		if cap(t.args) < len(cols) {
			t.args = make([]driver.NamedValue, len(cols))
		}
		args := t.args[:len(cols)]
		bg := context.Background()
		for i, r := range data {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if len(r) != len(cols) {
				return fmt.Errorf("insert into %s: row %d has %d values for %d columns", table, i, len(r), len(cols))
			}
			for j, v := range r {
				if v, err = driverValue(v); err != nil {
					return fmt.Errorf("insert into %s: column %s: %w", table, cols[j], err)
				}
				args[j] = driver.NamedValue{Ordinal: j + 1, Value: v}
			}
			if _, err := ex.ExecContext(bg, args); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
		}
		clear(args)
		return nil
	})
}

// appendPer is the number of rows in one statement of AppendRows.
const appendPer = 100

// AppendRows inserts rows that go at the end of a table keyed by an ascending integer (the journal), with
// prepared INSERTs of appendPer rows: one statement step per appendPer rows rather than per row. A statement
// that adds rows only at the end of a table has a statement journal of a page or two.
func (t *tx_) AppendRows(ctx context.Context, table string, cols []string, data [][]any) error {
	return t.conn.Raw(func(dc any) error {
		for len(data) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(appendPer, len(data))
			st, err := t.insertStmt(dc, table, cols, n)
			if err != nil {
				return err
			}
			ex, ok := st.(driver.StmtExecContext)
			if !ok {
				return fmt.Errorf("insert into %s: the driver cannot execute statements with context", table)
			}
			args := t.args[:0]
			for _, r := range data[:n] {
				if len(r) != len(cols) {
					return fmt.Errorf("insert into %s: a row has %d values for %d columns", table, len(r), len(cols))
				}
				for j, v := range r {
					if v, err = driverValue(v); err != nil {
						return fmt.Errorf("insert into %s: column %s: %w", table, cols[j], err)
					}
					args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
				}
			}
			t.args = args
			if _, err := ex.ExecContext(context.Background(), args); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
			clear(args)
			data = data[n:]
		}
		return nil
	})
}

// driverValue returns v as one of the types the SQLite driver binds directly.
func driverValue(v any) (driver.Value, error) {
	switch v.(type) {
	case nil, int64, string, []byte, float64, bool, time.Time:
		return v, nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

// insertStmt returns the INSERT of n rows into table, prepared on the driver's connection dc once per
// transaction.
func (t *tx_) insertStmt(dc any, table string, cols []string, n int) (driver.Stmt, error) {
	target := table + "(" + strings.Join(cols, ",") + ")"
	key := fmt.Sprintf("%s/%d", target, n)
	if st := t.inserts[key]; st != nil {
		return st, nil
	}
	c, ok := dc.(driver.Conn)
	if !ok {
		return nil, fmt.Errorf("insert into %s: not a driver connection", table)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + target + " VALUES ")
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	st, err := c.Prepare(b.String())
	if err != nil {
		return nil, err
	}
	if t.inserts == nil {
		t.inserts = map[string]driver.Stmt{}
	}
	t.inserts[key] = st
	return st, nil
}

func (t *tx_) Commit(context.Context) error {
	defer t.close()
	if err := t.closeInserts(); err != nil {
		return err
	}
	if err := t.tx.Commit(); err != nil {
		return err
	}
	if t.committed != nil {
		t.committed()
	}
	return nil
}

func (t *tx_) Rollback(context.Context) error {
	defer t.close()
	t.closeInserts()
	err := t.tx.Rollback()
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// closeInserts finalizes the prepared inserts, on the connection they belong to.
func (t *tx_) closeInserts() error {
	if len(t.inserts) == 0 {
		return nil
	}
	return t.conn.Raw(func(any) error {
		var first error
		for k, st := range t.inserts {
			if err := st.Close(); err != nil && first == nil {
				first = err
			}
			delete(t.inserts, k)
		}
		return first
	})
}

func (t *tx_) close() {
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
	if t.closeDB != nil {
		t.closeDB.Close()
		t.closeDB = nil
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
