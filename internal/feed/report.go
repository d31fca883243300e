package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

const feedColumns = "id, kind, name, format, sha256, size, row_count, complete, periods, types, imported_by, imported_at"

func scanFeed(r store.Row) (Feed, error) {
	var f Feed
	var complete, at int64
	var periods, types string
	if err := r.Scan(&f.ID, &f.Kind, &f.Name, &f.Format, &f.SHA256, &f.Size, &f.Rows, &complete, &periods, &types, &f.ImportedBy, &at); err != nil {
		return f, err
	}
	f.Number, f.Complete, f.ImportedAt = Number(f.ID), complete != 0, time.UnixMilli(at).UTC()
	f.Periods, f.Types = splitPeriods(periods), splitList(types)
	return f, nil
}

// Feed returns an imported feed with its latest run.
func (s *Service) Feed(ctx context.Context, id int64) (Feed, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Feed{}, err
	}
	defer tx.Rollback(ctx)
	f, err := scanFeed(tx.QueryRow(ctx, "SELECT "+feedColumns+" FROM feed_files WHERE id = $1", id))
	if errors.Is(err, store.ErrNoRows) {
		return Feed{}, record.Errorf(record.ENotFound, "feed %s does not exist", Number(id))
	}
	if err != nil {
		return Feed{}, err
	}
	run, err := scanRun(tx.QueryRow(ctx, "SELECT "+runColumns+" FROM feed_runs r JOIN feed_files f ON f.id = r.feed WHERE r.feed = $1 ORDER BY r.id DESC LIMIT 1", id), s.now())
	if err == nil {
		f.LastRun = &run
	} else if !errors.Is(err, store.ErrNoRows) {
		return Feed{}, err
	}
	return f, nil
}

// FeedFilter selects feeds; empty fields select everything.
type FeedFilter struct {
	Kind string
}

// Feeds lists imported feeds, newest first: one page and how many there are.
func (s *Service) Feeds(ctx context.Context, f FeedFilter, offset, limit int) ([]Feed, int64, error) {
	if err := validPage(offset, limit); err != nil {
		return nil, 0, err
	}
	cond, args := "", []any{}
	if f.Kind != "" {
		if _, err := KindOf("kind", f.Kind); err != nil {
			return nil, 0, err
		}
		cond, args = " WHERE kind = $1", append(args, f.Kind)
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM feed_files"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM feed_files%s ORDER BY id DESC LIMIT $%d OFFSET $%d", feedColumns, cond, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	var out []Feed
	for rows.Next() {
		f, err := scanFeed(rows)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	for i := range out {
		run, err := scanRun(tx.QueryRow(ctx, "SELECT "+runColumns+" FROM feed_runs r JOIN feed_files f ON f.id = r.feed WHERE r.feed = $1 ORDER BY r.id DESC LIMIT 1", out[i].ID), s.now())
		if err == nil {
			out[i].LastRun = &run
		} else if !errors.Is(err, store.ErrNoRows) {
			return nil, 0, err
		}
	}
	return out, total, nil
}

func validPage(offset, limit int) error {
	if offset < 0 || limit < 1 || limit > 1000 {
		return record.Invalid("limit", "page_limit", "limit must be 1 to 1000 and offset 0 or more")
	}
	return nil
}

const runColumns = "r.id, r.feed, f.kind, f.row_count, r.status, r.started_by, r.started_at, r.heartbeat, r.finished_at, r.rows_read, r.differences, r.counts, r.work_items, r.error"

func scanRun(row store.Row, now time.Time) (Run, error) {
	var r Run
	var started, beat, finished int64
	var counts, items string
	if err := row.Scan(&r.ID, &r.FeedID, &r.Kind, &r.FeedRows, &r.Status, &r.StartedBy, &started, &beat, &finished, &r.RowsRead, &r.Differences,
		&counts, &items, &r.Error); err != nil {
		return r, err
	}
	r.Number, r.Feed = RunNumber(r.ID), Number(r.FeedID)
	r.StartedAt = time.UnixMilli(started).UTC()
	if finished != 0 {
		r.FinishedAt = time.UnixMilli(finished).UTC()
	}
	if r.Status == RunRunning && now.Sub(time.UnixMilli(beat)) > staleAfter {
		r.Status = RunInterrupted
	}
	r.Counts = map[string]int64{}
	if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
		return r, err
	}
	if items != "" {
		r.WorkItems = &workitem.Report{}
		if err := json.Unmarshal([]byte(items), r.WorkItems); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Run returns a reconciliation run.
func (s *Service) Run(ctx context.Context, id int64) (Run, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Run{}, err
	}
	defer tx.Rollback(ctx)
	r, err := scanRun(tx.QueryRow(ctx, "SELECT "+runColumns+" FROM feed_runs r JOIN feed_files f ON f.id = r.feed WHERE r.id = $1", id), s.now())
	if errors.Is(err, store.ErrNoRows) {
		return Run{}, record.Errorf(record.ENotFound, "reconciliation run %s does not exist", RunNumber(id))
	}
	return r, err
}

// Runs lists the runs of a feed, newest first.
func (s *Service) Runs(ctx context.Context, feedID int64, offset, limit int) ([]Run, int64, error) {
	if err := validPage(offset, limit); err != nil {
		return nil, 0, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM feed_runs WHERE feed = $1", feedID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT "+runColumns+" FROM feed_runs r JOIN feed_files f ON f.id = r.feed WHERE r.feed = $1 ORDER BY r.id DESC LIMIT $2 OFFSET $3",
		feedID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows, s.now())
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// DifferenceFilter selects a run's differences; empty fields select everything.
type DifferenceFilter struct {
	Kind     string
	Severity string
}

// DifferenceSorts are the orders a list of differences can take, by name.
var DifferenceSorts = map[string]string{
	"n":        "n",
	"kind":     "kind",
	"severity": "CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END",
	"period":   "period",
	"line":     "line",
	"employer": "employer",
}

// ParseDifferenceSort reads "severity" or "-severity" (descending); "" is the order found.
func ParseDifferenceSort(s string) (string, error) {
	if s == "" {
		return "n", nil
	}
	by, desc := strings.CutPrefix(s, "-")
	expr, ok := DifferenceSorts[by]
	if !ok {
		names := make([]string, 0, len(DifferenceSorts))
		for k := range DifferenceSorts {
			names = append(names, k)
		}
		slices.Sort(names)
		return "", record.Invalid("sort", "sort_key", "cannot sort by %q; sort by %s, with - in front for descending", s, strings.Join(names, ", "))
	}
	if desc {
		return expr + " DESC, n", nil
	}
	return expr + ", n", nil
}

func (f DifferenceFilter) where(run int64) (string, []any, error) {
	cond, args := "run = $1", []any{run}
	if f.Kind != "" {
		if _, ok := DifferenceKindOf(f.Kind); !ok {
			return "", nil, record.Invalid("kind", "difference_kind", "%q is not a kind of difference", f.Kind)
		}
		args = append(args, f.Kind)
		cond += fmt.Sprintf(" AND kind = $%d", len(args))
	}
	if f.Severity != "" {
		if f.Severity != High && f.Severity != Medium && f.Severity != Low {
			return "", nil, record.Invalid("severity", "severity", "severity must be high, medium or low, not %q", f.Severity)
		}
		args = append(args, f.Severity)
		cond += fmt.Sprintf(" AND severity = $%d", len(args))
	}
	return cond, args, nil
}

const diffColumns = "n, kind, severity, line, person, id_masked, employer, period, type, seq, feed_value, record_value, detail, finding_key"

func scanDifference(r store.Row) (Difference, error) {
	var d Difference
	var period int64
	err := r.Scan(&d.N, &d.Kind, &d.Severity, &d.Line, &d.Person, &d.IDMasked, &d.Employer, &period, &d.Type, &d.Seq, &d.Feed, &d.Record, &d.Detail, &d.Key)
	d.Period = record.Period(period)
	return d, err
}

// Differences lists one page of a run's differences in an order (see ParseDifferenceSort), and how many f selects.
func (s *Service) Differences(ctx context.Context, run int64, f DifferenceFilter, sort string, offset, limit int) ([]Difference, int64, error) {
	if err := validPage(offset, limit); err != nil {
		return nil, 0, err
	}
	order, err := ParseDifferenceSort(sort)
	if err != nil {
		return nil, 0, err
	}
	cond, args, err := f.where(run)
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.Run(ctx, run); err != nil {
		return nil, 0, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM feed_differences WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM feed_differences WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d", diffColumns, cond, order, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Difference{}
	for rows.Next() {
		d, err := scanDifference(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// differencePage reads a run's differences after number after, in order, up to limit.
func (s *Service) differencePage(ctx context.Context, run, after int64, limit int) ([]Difference, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT "+diffColumns+" FROM feed_differences WHERE run = $1 AND n > $2 ORDER BY n LIMIT $3", run, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Difference
	for rows.Next() {
		d, err := scanDifference(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ExportHeader is the header of an exported list of differences.
var ExportHeader = []string{"序号 n", "类型 kind", "说明 description", "严重程度 severity", "行号 line", "人员 person", "身份号码 id (masked)", "单位 employer",
	"所属期 period", "险种 type", "事件 event", "部门数据 feed", "本机构记录 record", "详情 detail"}

// Export writes a run's differences that f selects as CSV or XLSX, streamed in pages: memory holds one page.
func (s *Service) Export(ctx context.Context, w io.Writer, format string, run int64, f DifferenceFilter) error {
	if format != "csv" && format != "xlsx" {
		return record.Invalid("format", "export_format", "format must be csv or xlsx")
	}
	cond, args, err := f.where(run)
	if err != nil {
		return err
	}
	r, err := s.Run(ctx, run)
	if err != nil {
		return err
	}
	var after int64
	var page []Difference
	i := 0
	next := func() ([]string, error) {
		if i == len(page) {
			page, i = page[:0], 0
			tx, err := s.st.Driver().Begin(ctx, false)
			if err != nil {
				return nil, err
			}
			defer tx.Rollback(ctx)
			rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM feed_differences WHERE %s AND n > $%d ORDER BY n LIMIT 2000", diffColumns, cond, len(args)+1),
				append(slices.Clone(args), after)...)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			for rows.Next() {
				d, err := scanDifference(rows)
				if err != nil {
					return nil, err
				}
				page = append(page, d)
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			if len(page) == 0 {
				return nil, nil
			}
			after = page[len(page)-1].N
		}
		d := page[i]
		i++
		k, _ := DifferenceKindOf(d.Kind)
		opt := func(v int64) string {
			if v == 0 {
				return ""
			}
			return strconv.FormatInt(v, 10)
		}
		return []string{strconv.FormatInt(d.N, 10), d.Kind, k.Title, d.Severity, opt(d.Line), d.Person, d.IDMasked, d.Employer, opt(int64(d.Period)),
			d.Type, opt(d.Seq), d.Feed, d.Record, d.Detail}, nil
	}
	return export.WriteStream(w, format, "核对差异 "+r.Number, ExportHeader, next)
}
