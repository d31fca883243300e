package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"sirec/internal/keyring"
	"sirec/internal/record"
)

// This file is the store's side of custody (backup, restore, migrate; R9.2–R9.4): a consistent snapshot
// reader over every table, and a raw restore path that writes the rows of a backup or of another database into
// an empty one. Packing, encryption and destinations are internal/custody's.

// Kinds of table, as custody carries them.
const (
	KindJournal    = "journal"    // the events, their tree nodes and the signed checkpoints: copied as they are
	KindProjection = "projection" // read models: carried for comparison, rebuilt from the journal on restore
	KindMaterials  = "materials"  // original materials, stored once by SHA-256
	KindState      = "state"      // the application's own state: users, drafts, logs …
)

// JournalTables are the append-only tables of the journal (I2).
var JournalTables = []string{"journal_events", "journal_nodes", "journal_checkpoints"}

// custodyOwn are the tables a backup does not carry: the record of the schema steps (the target applies its own
// schema) and the custody log, which describes the custody of one database.
var custodyOwn = map[string]bool{"schema_migrations": true, "custody_runs": true}

// TableKind says how custody carries table name.
func TableKind(name string) string {
	for _, t := range JournalTables {
		if t == name {
			return KindJournal
		}
	}
	for _, t := range ProjectionTables {
		if t.Name == name {
			return KindProjection
		}
	}
	if name == "review_materials" {
		return KindMaterials
	}
	return KindState
}

// Column is one column of a table.
type Column struct {
	Name string
	// Kind is the kind of value it holds: 'i' integer, 's' text, 'b' bytes, 'f' floating point, 't' boolean.
	Kind   byte
	serial bool // PostgreSQL: filled from a sequence, which a restore moves past the rows it writes
}

// Table is one table as custody carries it.
type Table struct {
	Name    string
	Kind    string
	Columns []Column
}

// ColumnNames returns the names of the table's columns, in order.
func (t Table) ColumnNames() []string {
	n := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		n[i] = c.Name
	}
	return n
}

// columnKind maps a declared column type (SQLite's declared type, PostgreSQL's data_type) to a kind of value;
// 0 for a type custody does not carry.
func columnKind(typ string) byte {
	t := strings.ToUpper(typ)
	switch {
	case strings.Contains(t, "INT"):
		return 'i'
	case strings.Contains(t, "CHAR"), strings.Contains(t, "TEXT"), strings.Contains(t, "CLOB"):
		return 's'
	case strings.Contains(t, "BLOB"), strings.Contains(t, "BYTEA"):
		return 'b'
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return 'f'
	case strings.Contains(t, "BOOL"):
		return 't'
	}
	return 0
}

// listTables lists the tables of the database's main schema, sorted by name, with their columns in order.
// With all false, custody's own tables are left out.
func listTables(ctx context.Context, tx Tx, engine string, all bool) ([]Table, error) {
	var names []string
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if engine == "postgres" {
		q = "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
	}
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		if all || !custodyOwn[n] {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Table
	for _, n := range names {
		t := Table{Name: n, Kind: TableKind(n)}
		q := "SELECT name, type, COALESCE(dflt_value, '') FROM pragma_table_info($1) ORDER BY cid"
		if engine == "postgres" {
			q = `SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), COALESCE(CAST(column_default AS TEXT), '')
				FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
		}
		rows, err := tx.Query(ctx, q, n)
		if err != nil {
			return nil, fmt.Errorf("columns of %s: %w", n, err)
		}
		for rows.Next() {
			var name, typ, def string
			if err := rows.Scan(&name, &typ, &def); err != nil {
				rows.Close()
				return nil, err
			}
			k := columnKind(typ)
			if k == 0 {
				rows.Close()
				return nil, fmt.Errorf("table %s, column %s: type %s cannot be carried by backup and migrate (integer, text, bytes, real and boolean columns can)", n, name, typ)
			}
			t.Columns = append(t.Columns, Column{Name: name, Kind: k, serial: strings.HasPrefix(def, "nextval(")})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// tableOrder is the order in which a table's rows are read: the journal's in journal order, so that a restore
// appends them as they were appended.
func tableOrder(name string) string {
	switch name {
	case "journal_events":
		return " ORDER BY seq"
	case "journal_nodes":
		return " ORDER BY level, idx"
	case "journal_checkpoints":
		return " ORDER BY size"
	}
	return ""
}

// Snapshot reads a whole database as of one moment, while the service goes on writing: one read transaction
// (SQLite: a deferred transaction on a reader connection, whose WAL snapshot is fixed by its first read;
// PostgreSQL: REPEATABLE READ, READ ONLY). An append is one transaction with its checkpoint, so the snapshot
// holds exactly the events its latest signed checkpoint covers.
type Snapshot struct {
	tx     Tx
	Engine string
	Tables []Table // the tables a backup carries, by name
	Steps  []int   // the schema steps applied
	Signed string  // the latest signed checkpoint, "" for an empty journal
	Size   int64   // the tree size it signs
	Events int64   // the events in the journal
}

// OpenSnapshot begins a snapshot of d. Close it when done.
func OpenSnapshot(ctx context.Context, d Driver) (*Snapshot, error) {
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{tx: tx, Engine: d.Name()}
	ok := false
	defer func() {
		if !ok {
			tx.Rollback(ctx)
		}
	}()
	done, err := appliedSteps(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("schema steps: %w", err)
	}
	for v := range done {
		s.Steps = append(s.Steps, v)
	}
	sort.Ints(s.Steps)
	if s.Tables, err = listTables(ctx, tx, d.Name(), false); err != nil {
		return nil, err
	}
	err = tx.QueryRow(ctx, "SELECT signed, size FROM journal_checkpoints ORDER BY size DESC LIMIT 1").Scan(&s.Signed, &s.Size)
	if err != nil && !errors.Is(err, ErrNoRows) {
		return nil, err
	}
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM journal_events").Scan(&s.Events); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// Table returns the snapshot's table of that name.
func (s *Snapshot) Table(name string) (Table, bool) {
	for _, t := range s.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Scan calls fn with every row of t, the journal's in journal order. Integers come as int64, text as string
// (or []byte), bytes as []byte, NULL as nil. fn must not keep row, which is reused.
func (s *Snapshot) Scan(ctx context.Context, t Table, fn func(row []any) error) error {
	q := "SELECT " + strings.Join(t.ColumnNames(), ", ") + " FROM " + t.Name + tableOrder(t.Name)
	rows, err := s.tx.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	defer rows.Close()
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", t.Name, err)
		}
		for i, v := range vals {
			vals[i] = normalize(v)
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// normalize gives every integer as int64 and every float as float64, whatever width the driver returned.
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	}
	return v
}

// Figures returns the snapshot's headline figures (see Figures).
func (s *Snapshot) Figures(ctx context.Context) (map[string]int64, error) { return figures(ctx, s.tx) }

// Close ends the snapshot.
func (s *Snapshot) Close(ctx context.Context) { s.tx.Rollback(ctx) }

// figureQueries are the headline figures of the projections — counts and money totals in fen — that staff
// recognise, compared between a database and its backup or its migrated copy.
var figureQueries = []struct {
	table string
	names []string
	exprs string
}{
	{"persons", []string{"persons"}, "COUNT(*)"},
	{"employers", []string{"employers"}, "COUNT(*)"},
	{"enrolments", []string{"enrolments"}, "COUNT(*)"},
	{"contributions", []string{"contributions", "contributions.base", "contributions.employer_amount", "contributions.individual_amount",
		"contributions.account_credit", "contributions.late_fee"},
		"COUNT(*), SUM(base), SUM(employer_amount), SUM(individual_amount), SUM(account_credit), SUM(late_fee)"},
	{"subsidies", []string{"subsidies", "subsidies.amount"}, "COUNT(*), SUM(amount)"},
	{"benefit_payments", []string{"benefit_payments", "benefit_payments.amount"}, "COUNT(*), SUM(amount)"},
	{"account_transfers", []string{"account_transfers", "account_transfers.amount"}, "COUNT(*), SUM(amount)"},
}

func figures(ctx context.Context, tx Tx) (map[string]int64, error) {
	out := map[string]int64{}
	for _, f := range figureQueries {
		exprs := strings.Split(f.exprs, ", ")
		for i, e := range exprs {
			exprs[i] = "CAST(COALESCE(" + e + ", 0) AS BIGINT)"
		}
		vals := make([]int64, len(f.names))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := tx.QueryRow(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+f.table).Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("figures of %s: %w", f.table, err)
		}
		for i, n := range f.names {
			out[n] = vals[i]
		}
	}
	return out, nil
}

// FigureIsMoney reports whether a figure's name names a money total (in fen) rather than a count.
func FigureIsMoney(name string) bool { return strings.Contains(name, ".") }

// ErrNotEmpty is returned when a restore or migration targets a database that already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// Occupied returns the tables of d, other than custody's own, that hold rows, with their row counts.
func Occupied(ctx context.Context, d Driver) (map[string]int64, error) {
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	ts, err := listTables(ctx, tx, d.Name(), false)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range ts {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+t.Name).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[t.Name] = n
		}
	}
	return out, nil
}

// Wipe drops every table of d, the journal's included (DROP TABLE is its owner's right, which the append-only
// triggers and grants do not touch). Only restore --force and a failed restore, which returns its target to
// empty, call it.
func Wipe(ctx context.Context, d Driver) error {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	ts, err := listTables(ctx, tx, d.Name(), true)
	if err != nil {
		return err
	}
	for _, t := range ts {
		q := "DROP TABLE IF EXISTS " + t.Name
		if d.Name() == "postgres" {
			q += " CASCADE"
		}
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("drop %s: %w", t.Name, err)
		}
	}
	return tx.Commit(ctx)
}

// Restorer writes rows into an empty database, in one transaction: nothing is visible, and on any error nothing
// is kept, until Finish commits. It bypasses Record — which would validate the facts again and sign new
// checkpoints — because the rows it writes are the journal and state of another database, whose signatures
// verify is there to check. The journal's protections are the schema's and hold afterwards: they refuse UPDATE
// and DELETE, not INSERT.
type Restorer struct {
	d       Driver
	tx      Tx
	tables  map[string]Table
	Written map[string]int64 // rows written, by table
}

// BeginRestore prepares d to receive a whole database: it checks that d holds no data — with force, it drops
// everything d holds instead — applies this binary's schema and begins the one write transaction.
func BeginRestore(ctx context.Context, d Driver, force bool, now time.Time) (*Restorer, error) {
	occ, err := Occupied(ctx, d)
	if err != nil {
		return nil, err
	}
	if len(occ) > 0 {
		if !force {
			var parts []string
			for _, t := range sortedKeys(occ) {
				parts = append(parts, fmt.Sprintf("%s %d", t, occ[t]))
			}
			return nil, fmt.Errorf("%w (rows: %s); restore only into an empty database, or pass --force to discard everything in it first", ErrNotEmpty, strings.Join(parts, ", "))
		}
		if err := Wipe(ctx, d); err != nil {
			return nil, err
		}
	}
	if _, err := Migrate(ctx, d, now); err != nil {
		return nil, err
	}
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return nil, err
	}
	ts, err := listTables(ctx, tx, d.Name(), true)
	if err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	r := &Restorer{d: d, tx: tx, tables: map[string]Table{}, Written: map[string]int64{}}
	for _, t := range ts {
		r.tables[t.Name] = t
	}
	return r, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Insert writes rows of table with the named columns. Values are converted to the kind each column of this
// database holds (another engine may have returned text as bytes or the other way round).
func (r *Restorer) Insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	t, ok := r.tables[table]
	if !ok {
		return fmt.Errorf("table %s is not in this sirec's schema: the data comes from a newer or different sirec", table)
	}
	if custodyOwn[table] {
		return fmt.Errorf("table %s is custody's own and is not restored", table)
	}
	kinds := make([]byte, len(cols))
	for i, c := range cols {
		for _, tc := range t.Columns {
			if tc.Name == c {
				kinds[i] = tc.Kind
			}
		}
		if kinds[i] == 0 {
			return fmt.Errorf("table %s has no column %s in this sirec's schema", table, c)
		}
	}
	for _, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("table %s: a row has %d values for %d columns", table, len(row), len(cols))
		}
		for i, v := range row {
			cv, err := coerce(v, kinds[i])
			if err != nil {
				return fmt.Errorf("table %s, column %s: %w", table, cols[i], err)
			}
			row[i] = cv
		}
	}
	insert := r.tx.CopyRows
	if ra, ok := r.tx.(rowAppender); ok && table == "journal_events" {
		insert = ra.AppendRows
	}
	if err := insert(ctx, table, cols, rows); err != nil {
		return err
	}
	r.Written[table] += int64(len(rows))
	return nil
}

// coerce converts v to the kind of value a column holds.
func coerce(v any, kind byte) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case 's':
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case 'b':
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case 'i':
		switch x := v.(type) {
		case int64:
			return x, nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case 'f':
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	case 't':
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	}
	return nil, fmt.Errorf("a value of type %T does not fit a column of kind %c", v, kind)
}

// Finish rebuilds the projections from the restored journal, through the rules, when rebuild is true; moves
// PostgreSQL's sequences past the rows written; and commits.
func (r *Restorer) Finish(ctx context.Context, rebuild bool, progress Progress) error {
	if rebuild {
		if err := rebuildIn(ctx, r.tx, progress); err != nil {
			return fmt.Errorf("rebuild projections: %w", err)
		}
	}
	if r.d.Name() == "postgres" {
		for _, t := range r.tables {
			for _, c := range t.Columns {
				if !c.serial {
					continue
				}
				q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT MAX(%s) FROM %s), 0) + 1, false)", t.Name, c.Name, c.Name, t.Name)
				if _, err := r.tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("sequence of %s.%s: %w", t.Name, c.Name, err)
				}
			}
		}
	}
	return r.tx.Commit(ctx)
}

// Rollback abandons the restore: nothing written is kept.
func (r *Restorer) Rollback(ctx context.Context) { r.tx.Rollback(ctx) }

// rebuildIn empties the projections and replays the journal through a fresh rules engine into them, in tx.
func rebuildIn(ctx context.Context, tx Tx, progress Progress) error {
	return replayInto(ctx, tx, DefaultRules(), progress)
}

// KnownStep reports whether this binary knows schema step v.
func KnownStep(v int) bool {
	for _, st := range steps {
		if st.version == v {
			return true
		}
	}
	return false
}

// OpenExisting returns a Store on d without applying schema migrations, for reading a database that must be
// left exactly as it is (the source of a migration, kept for checking: R9.4). It refuses a database whose
// schema is not this binary's, older or newer.
func OpenExisting(ctx context.Context, d Driver, keys *keyring.Keyring, cfg Config) (*Store, error) {
	if err := record.ValidateRegion("region", cfg.Region); err != nil {
		return nil, err
	}
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	done, err := appliedSteps(ctx, tx)
	tx.Rollback(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema steps: %w", err)
	}
	for v := range done {
		if !KnownStep(v) {
			return nil, fmt.Errorf("%w (database has step %d, binary knows up to %d)", ErrSchemaTooNew, v, SchemaVersion)
		}
	}
	for _, st := range steps {
		if !done[st.version] {
			return nil, fmt.Errorf("the database's schema is older than this sirec (step %d is not applied): take a backup, open it once with this sirec (e.g. sirec verify) to upgrade it, then try again", st.version)
		}
	}
	s := &Store{d: d, keys: keys, region: cfg.Region, rules: cfg.Rules, Now: time.Now}
	if s.rules == nil {
		s.rules = DefaultRules()
	}
	if err := s.loadRules(ctx); err != nil {
		return nil, err
	}
	return s, nil
}
