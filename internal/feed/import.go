package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// Service imports feeds, reconciles them with the record and reports what it found.
type Service struct {
	st *store.Store
	// Items files the differences a run finds as work items; nil files none (a run then says so).
	Items *workitem.Service
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the feed service of a store; items files differences as work items.
func New(st *store.Store, items *workitem.Service) *Service {
	return &Service{st: st, Items: items, Now: time.Now}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Feed is an imported feed file.
type Feed struct {
	ID         int64           `json:"-"`
	Number     string          `json:"number"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Format     string          `json:"format"`
	SHA256     string          `json:"sha256"`
	Size       int64           `json:"size"`
	Rows       int64           `json:"rows"`
	Complete   bool            `json:"complete"`
	Periods    []record.Period `json:"periods,omitempty"` // tax: the months the file covers
	Types      []string        `json:"types,omitempty"`   // tax: the insurance types the file covers
	ImportedBy string          `json:"imported_by"`
	ImportedAt time.Time       `json:"imported_at"`
	// LastRun is the feed's latest reconciliation run, when there is one.
	LastRun *Run `json:"last_run,omitempty"`
}

// ImportOptions says what is imported and who imports it.
type ImportOptions struct {
	Kind     string
	Name     string // the file's name; its extension gives the format unless Format is set
	Format   string // csv or jsonl; "" for the name's extension
	Complete bool   // the file lists everything of its kind (market regulation, staffing offices)
	Actor    string // who imports, for the feed's record
	// Progress is told, every progressRows rows and at the end, how many rows a stage has read: "check" (every
	// row checked), then "store".
	Progress func(stage string, rows int64)
	// OnError is told every problem of every bad row as it is found; the error the import returns lists at most
	// MaxListedErrors of them.
	OnError func(*record.Error)
}

// MaxListedErrors is how many problems a failed import returns at most; OnError hears of every one.
const MaxListedErrors = 10000

const progressRows = 50000

// Import reads a feed file twice: first every row is checked — nothing is kept while any is bad, and every bad
// row is reported with its line, field and rule — and the file's SHA-256 computed, so that a file imported before
// is refused; then the rows are stored, in one transaction, in bounded memory. r is read from its start, twice
// (a file, or an upload spooled to one).
func (s *Service) Import(ctx context.Context, r io.ReadSeeker, opt ImportOptions) (Feed, error) {
	k, err := KindOf("kind", opt.Kind)
	if err != nil {
		return Feed{}, err
	}
	format := opt.Format
	if format == "" {
		if format, err = FormatOf(opt.Name); err != nil {
			return Feed{}, err
		}
	} else if format != FormatCSV && format != FormatJSONL {
		return Feed{}, record.Invalid("format", "feed_format", "format %q is neither csv nor jsonl", format)
	}
	if strings.TrimSpace(opt.Name) == "" || len(opt.Name) > 200 {
		return Feed{}, record.Invalid("name", "file_name", "the file's name is required, at most 200 characters")
	}
	if opt.Complete && !k.Complete {
		return Feed{}, record.Invalid("complete", "feed_complete", "a %s file is never a complete list; only %s files may be declared complete", k.Name, completeKinds())
	}
	if strings.TrimSpace(opt.Actor) == "" {
		return Feed{}, record.Invalid("actor", "required", "say who imports the file")
	}
	now := s.now()
	today := now

	// Pass 1: check every row, hash the file.
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Feed{}, err
	}
	f := Feed{Kind: k.Name, Name: opt.Name, Format: format, Complete: opt.Complete, ImportedBy: opt.Actor, ImportedAt: now}
	sum, size, rows, periods, types, err := s.check(ctx, k, format, r, today, opt)
	if err != nil {
		return Feed{}, err
	}
	f.SHA256, f.Size, f.Rows, f.Periods, f.Types = sum, size, rows, periods, types
	if dup, at, err := s.byHash(ctx, sum); err != nil {
		return Feed{}, err
	} else if dup != 0 {
		return Feed{}, record.Errorf(record.EConflict, "this file was imported already, as feed %s on %s; a file is imported once", Number(dup), at.Format("2006-01-02 15:04"))
	}

	// Pass 2: store the rows.
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Feed{}, err
	}
	if err := s.store(ctx, k, &f, r, today, opt); err != nil {
		return Feed{}, err
	}
	return f, nil
}

func completeKinds() string {
	var n []string
	for _, k := range Kinds {
		if k.Complete {
			n = append(n, k.Name)
		}
	}
	return strings.Join(n, ", ")
}

// counter counts the bytes written to it.
type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// check is the first pass: it reads every row, reports every bad one, and returns the file's SHA-256, size, row
// count and — for a tax file — the months and insurance types it covers.
func (s *Service) check(ctx context.Context, k Kind, format string, r io.Reader, today time.Time, opt ImportOptions) (string, int64, int64, []record.Period, []string, error) {
	h := sha256.New()
	var size counter
	p, err := NewParser(k, format, io.TeeReader(r, io.MultiWriter(h, &size)), today)
	if err != nil {
		var es record.Errors
		var e *record.Error
		if errors.As(err, &es) {
			for _, x := range es {
				report(opt, x)
			}
		} else if errors.As(err, &e) {
			report(opt, e)
		}
		return "", 0, 0, nil, nil, err
	}
	var listed record.Errors
	var bad, problems, rows int64
	periods := map[record.Period]bool{}
	types := map[string]bool{}
	for {
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return "", 0, 0, nil, nil, err
			}
		}
		row, rowErrs, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, 0, nil, nil, err
		}
		rows++
		if rows%progressRows == 0 && opt.Progress != nil {
			opt.Progress("check", rows)
		}
		if len(rowErrs) > 0 {
			bad++
			for _, e := range rowErrs {
				problems++
				report(opt, e)
				if len(listed) < MaxListedErrors {
					listed = append(listed, e)
				}
			}
			continue
		}
		if k.Name == KindTax {
			// A handful of months and types: the file's coverage, not its rows.
			periods[row.Period] = true
			types[row.Type] = true
			if len(periods) > 1200 {
				return "", 0, 0, nil, nil, record.Invalid(fmt.Sprintf("line %d.period", row.Line), "feed_periods", "a tax file covers at most 1200 months")
			}
		}
	}
	if opt.Progress != nil {
		opt.Progress("check", rows)
	}
	if bad > 0 {
		if problems > int64(len(listed)) {
			listed = append(listed, record.Invalid("file", "bad_rows", "%d rows are bad, with %d problems; the first %d are listed", bad, problems, len(listed)))
		}
		return "", 0, 0, nil, nil, listed
	}
	if rows == 0 {
		return "", 0, 0, nil, nil, record.Invalid("file", "feed_empty", "the file has no rows")
	}
	ps := make([]record.Period, 0, len(periods))
	for pd := range periods {
		ps = append(ps, pd)
	}
	slices.Sort(ps)
	ts := make([]string, 0, len(types))
	for t := range types {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return hex.EncodeToString(h.Sum(nil)), size.n, rows, ps, ts, nil
}

func report(opt ImportOptions, e *record.Error) {
	if opt.OnError != nil {
		opt.OnError(e)
	}
}

// byHash returns the feed already imported from a file with this SHA-256, 0 when none.
func (s *Service) byHash(ctx context.Context, sum string) (int64, time.Time, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return 0, time.Time{}, err
	}
	defer tx.Rollback(ctx)
	var id, at int64
	err = tx.QueryRow(ctx, "SELECT id, imported_at FROM feed_files WHERE sha256 = $1", sum).Scan(&id, &at)
	if errors.Is(err, store.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return id, time.UnixMilli(at).UTC(), err
}

var rowCols = []string{"feed", "line", "id_index", "id_sealed", "id_masked", "credit_code", "period", "type", "base", "employer_paid",
	"individual_paid", "event", "event_date", "end_date", "name", "new_index", "new_sealed", "new_masked", "post"}

// streamCopier is implemented by an engine's transaction that bulk-inserts rows as a function produces them in
// one statement (PostgreSQL's COPY).
type streamCopier interface {
	CopyFunc(ctx context.Context, table string, cols []string, next func() ([]any, error)) error
}

// sealer seals ID numbers for storage, remembering the last one: a file usually lists a person's rows together.
type sealer struct {
	s                      *Service
	last, index, masked    string
	sealed                 []byte
	lastNew, newIdx, newMk string
	newSealed              []byte
}

func (z *sealer) id(n string) (string, []byte, string) {
	if n == "" {
		return "", []byte{}, ""
	}
	if n != z.last {
		z.last, z.index, z.sealed, z.masked = n, z.s.st.Keys().IndexID(n), z.s.st.Keys().SealID(n), record.MaskID(n)
	}
	return z.index, z.sealed, z.masked
}

func (z *sealer) newID(n string) (string, []byte, string) {
	if n == "" {
		return "", []byte{}, ""
	}
	if n != z.lastNew {
		z.lastNew, z.newIdx, z.newSealed, z.newMk = n, z.s.st.Keys().IndexID(n), z.s.st.Keys().SealID(n), record.MaskID(n)
	}
	return z.newIdx, z.newSealed, z.newMk
}

// store is the second pass: it reads the file again and writes the feed and its rows in one transaction. The
// file must be the one the first pass checked: the same SHA-256 and rows.
func (s *Service) store(ctx context.Context, k Kind, f *Feed, r io.Reader, today time.Time, opt ImportOptions) error {
	h := sha256.New()
	p, err := NewParser(k, f.Format, io.TeeReader(r, h), today)
	if err != nil {
		return fmt.Errorf("the file changed while it was imported: %w", err)
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM feed_files").Scan(&f.ID); err != nil {
		return err
	}
	f.Number = Number(f.ID)
	z := &sealer{s: s}
	var rows int64
	next := func() ([]any, error) {
		if rows%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row, rowErrs, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rowErrs) > 0 {
			return nil, fmt.Errorf("the file changed while it was imported: %w", rowErrs)
		}
		rows++
		if rows%progressRows == 0 && opt.Progress != nil {
			opt.Progress("store", rows)
		}
		idx, sealed, masked := z.id(row.IDNumber)
		nidx, nsealed, nmasked := z.newID(row.NewIDNumber)
		return []any{f.ID, row.Line, idx, sealed, masked, row.CreditCode, int64(row.Period), row.Type, int64(row.Base), int64(row.EmployerPaid),
			int64(row.IndividualPaid), row.Event, row.Date, row.EndDate, row.Name, nidx, nsealed, nmasked, row.Post}, nil
	}
	if err := copyAll(ctx, tx, "feed_rows", rowCols, next); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 || rows != f.Rows {
		return fmt.Errorf("the file changed while it was imported (SHA-256 %s, then %s)", f.SHA256, got)
	}
	if opt.Progress != nil {
		opt.Progress("store", rows)
	}
	_, err = tx.Exec(ctx, `INSERT INTO feed_files (id, kind, name, format, sha256, size, row_count, complete, periods, types, imported_by, imported_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, f.ID, f.Kind, f.Name, f.Format, f.SHA256, f.Size, f.Rows, b2i(f.Complete),
		joinPeriods(f.Periods), strings.Join(f.Types, ","), f.ImportedBy, f.ImportedAt.UnixMilli())
	if err != nil {
		if dup, at, e := s.byHash(ctx, f.SHA256); e == nil && dup != 0 {
			return record.Errorf(record.EConflict, "this file was imported already, as feed %s on %s; a file is imported once", Number(dup), at.Format("2006-01-02 15:04"))
		}
		return err
	}
	return tx.Commit(ctx)
}

// copyAll inserts the rows next produces (until a nil row) in bounded memory: one COPY where the engine streams,
// otherwise chunks of a few thousand rows.
func copyAll(ctx context.Context, tx store.Tx, table string, cols []string, next func() ([]any, error)) error {
	if sc, ok := tx.(streamCopier); ok {
		return sc.CopyFunc(ctx, table, cols, next)
	}
	const chunk = 2048
	buf := make([][]any, 0, chunk)
	for {
		row, err := next()
		if err != nil {
			return err
		}
		if row != nil {
			buf = append(buf, row)
		}
		if len(buf) == chunk || (row == nil && len(buf) > 0) {
			if err := tx.CopyRows(ctx, table, cols, buf); err != nil {
				return err
			}
			clear(buf)
			buf = buf[:0]
		}
		if row == nil {
			return nil
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func joinPeriods(ps []record.Period) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func splitPeriods(s string) []record.Period {
	var out []record.Period
	for _, f := range strings.Split(s, ",") {
		if v, err := strconv.Atoi(f); err == nil {
			out = append(out, record.Period(v))
		}
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
