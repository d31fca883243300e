// Package bench measures sirec where it matters — posting a monthly batch, reading one person's record over
// HTTP under load, verifying the journal and rebuilding the projections — each next to a baseline measured in
// the same run on the same engine, and reports peak memory. `sirec bench` runs the whole suite and writes a
// Markdown table (docs/BENCHMARKS.md); the store's Go benchmark uses the same baseline.
package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// PlainTable is the baseline table of PlainInsert.
const PlainTable = "bench_plain"

// plainCols are the baseline table's columns: those of the contributions projection.
var plainCols = []string{"seq", "person", "region", "type", "period", "employer", "status", "wage", "base", "employer_amount", "individual_amount", "account_credit", "late_days", "late_fee"}

// PlainRows turns contribution facts into the baseline's rows, keyed from seq0 on. The rows are plain
// numbers, not derived: building them is not part of the baseline's time.
func PlainRows(facts []record.Fact, seq0 int64) [][]any {
	persons := map[string]string{}
	rows := make([][]any, 0, len(facts))
	for i, f := range facts {
		c, ok := f.(*record.ContributionPosted)
		if !ok {
			continue
		}
		p, ok := persons[c.IDNumber]
		if !ok {
			h := sha256.Sum256([]byte(c.IDNumber))
			p = hex.EncodeToString(h[:16]) // as long as a person key
			persons[c.IDNumber] = p
		}
		rows = append(rows, []any{seq0 + int64(i), p, "110105", c.Type, int64(c.Period), c.Employer, c.Status, c.Wage, c.Wage,
			c.Wage * 16 / 100, c.Wage * 8 / 100, c.Wage * 8 / 100, int64(0), int64(0)})
	}
	return rows
}

// PlainInsert is the posting baseline: a plain bulk insert of rows (from PlainRows) on the same engine, with
// no journal and no rules, into a table shaped like the contributions projection — the same columns and
// types, keyed by seq, with the person index an application needs to read a person's rows — in one
// transaction through the engine's bulk path, Tx.CopyRows (COPY on PostgreSQL, a prepared INSERT on the
// driver's connection on SQLite). The table is created on first use and grows from call to call as the
// projection does. Nothing else is added to make it slow. It returns the time taken.
func PlainInsert(ctx context.Context, d store.Driver, rows [][]any) (time.Duration, error) {
	if err := ensurePlainTable(ctx, d); err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if err := tx.CopyRows(ctx, PlainTable, plainCols, rows); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func ensurePlainTable(ctx context.Context, d store.Driver) error {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	seq := d.Types()["SEQ"]
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + PlainTable + ` (seq ` + seq + ` PRIMARY KEY, person TEXT NOT NULL, region TEXT NOT NULL, type TEXT NOT NULL,
			period INTEGER NOT NULL, employer TEXT NOT NULL, status TEXT NOT NULL, wage BIGINT NOT NULL, base BIGINT NOT NULL,
			employer_amount BIGINT NOT NULL, individual_amount BIGINT NOT NULL, account_credit BIGINT NOT NULL,
			late_days INTEGER NOT NULL, late_fee BIGINT NOT NULL)`,
		"CREATE INDEX IF NOT EXISTS " + PlainTable + "_person ON " + PlainTable + " " + store.ContributionsPersonIndex,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("baseline table: %w", err)
		}
	}
	return tx.Commit(ctx)
}

// FillPlainLike creates the baseline table and copies into it every row of the contributions projection, so
// that the baseline inserts into a table (and person index) as large as the one the posting path inserts into.
// It is not timed.
func FillPlainLike(ctx context.Context, d store.Driver) error {
	if err := ensurePlainTable(ctx, d); err != nil {
		return err
	}
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	cols := strings.Join(plainCols, ", ")
	if _, err := tx.Exec(ctx, "INSERT INTO "+PlainTable+" ("+cols+") SELECT "+cols+" FROM contributions"); err != nil {
		return fmt.Errorf("baseline table: %w", err)
	}
	return tx.Commit(ctx)
}

// DropPlainTable removes the baseline table.
func DropPlainTable(ctx context.Context, d store.Driver) error {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+PlainTable); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// PlainRead is the verify baseline: one read transaction that reads every journal row — sequence, body and
// leaf hash — in order and touches each value, and nothing else. It returns the rows read and the time taken.
func PlainRead(ctx context.Context, d store.Driver) (int64, time.Duration, error) {
	start := time.Now()
	tx, err := d.Session(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT seq, body, leaf_hash FROM journal_events ORDER BY seq")
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var n, bytes int64
	var seq int64
	var body, leaf []byte
	for rows.Next() {
		if err := rows.Scan(&seq, &body, &leaf); err != nil {
			return 0, 0, err
		}
		n++
		bytes += int64(len(body) + len(leaf))
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if bytes == 0 && n > 0 {
		return 0, 0, fmt.Errorf("plain read: %d rows without bytes", n)
	}
	return n, time.Since(start), nil
}

// Quiesce waits until the engine has no background work left from earlier writes, so that a timed section
// pays for its own work only, not for the previous section's:
//
//   - on SQLite, the WAL checkpoint that follows each commit (each section's own checkpoint runs after its
//     commit, as in service, for both the measured path and its baseline);
//   - on PostgreSQL, the VACUUM (ANALYZE) that autovacuum would start some time after a bulk load — run now,
//     rather than by an autovacuum worker in the middle of the next section (a read load then shares the two
//     cores with a vacuum of the whole dataset), and so that the planner has the tables' statistics.
func Quiesce(ctx context.Context, d store.Driver) error {
	if c, ok := d.(interface{ Checkpoint(context.Context) error }); ok {
		return c.Checkpoint(ctx)
	}
	if v, ok := d.(interface{ Vacuum(context.Context) error }); ok {
		return v.Vacuum(ctx)
	}
	return nil
}
