package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// Run states.
const (
	RunRunning     = "running"
	RunDone        = "done"
	RunFailed      = "failed"
	RunInterrupted = "interrupted" // running, but its process stopped reporting: it ended without finishing
)

// staleAfter is how long a running run may go without a heartbeat before it is reported as interrupted.
const staleAfter = 2 * time.Minute

// Run is one reconciliation of a feed with the record.
type Run struct {
	ID          int64            `json:"-"`
	Number      string           `json:"number"`
	FeedID      int64            `json:"-"`
	Feed        string           `json:"feed"`
	Kind        string           `json:"kind"`
	Status      string           `json:"status"`
	StartedBy   string           `json:"started_by"`
	StartedAt   time.Time        `json:"started_at"`
	FinishedAt  time.Time        `json:"finished_at,omitzero"`
	RowsRead    int64            `json:"rows_read"`   // feed rows and record rows compared so far
	FeedRows    int64            `json:"feed_rows"`   // the feed's rows, for a sense of progress
	Differences int64            `json:"differences"` // found so far
	Counts      map[string]int64 `json:"counts"`      // differences by kind
	// WorkItems says what filing the differences as work items did (new, seen again, …), once the run is done.
	WorkItems *workitem.Report `json:"work_items,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// Source is the work-item source of a feed's differences: "feed:F000012".
func Source(feedNumber string) string { return "feed:" + feedNumber }

// Progress is told how a run goes, every few seconds and at its end.
type Progress func(Run)

// Start records a new run of a feed, to be executed by Execute. Only one run of a feed runs at a time.
func (s *Service) Start(ctx context.Context, feedID int64, actor string) (Run, error) {
	if strings.TrimSpace(actor) == "" {
		return Run{}, record.Invalid("actor", "required", "say who runs the reconciliation")
	}
	f, err := s.Feed(ctx, feedID)
	if err != nil {
		return Run{}, err
	}
	if f.LastRun != nil && f.LastRun.Status == RunRunning {
		return Run{}, record.Errorf(record.EConflict, "feed %s is being reconciled already (run %s); wait for it to finish", f.Number, f.LastRun.Number)
	}
	now := s.now()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Run{}, err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM feed_runs").Scan(&id); err != nil {
		return Run{}, err
	}
	var running int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM feed_runs WHERE feed = $1 AND status = $2 AND heartbeat > $3", feedID, RunRunning,
		now.Add(-staleAfter).UnixMilli()).Scan(&running); err != nil {
		return Run{}, err
	}
	if running > 0 {
		return Run{}, record.Errorf(record.EConflict, "feed %s is being reconciled already; wait for it to finish", f.Number)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO feed_runs (id, feed, status, started_by, started_at, heartbeat, finished_at, rows_read, differences, counts, work_items, error)
		VALUES ($1, $2, $3, $4, $5, $5, 0, 0, 0, '{}', '', '')`, id, feedID, RunRunning, actor, now.UnixMilli()); err != nil {
		return Run{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Run{}, err
	}
	return s.Run(ctx, id)
}

// Reconcile starts a run of a feed and executes it here, telling progress how it goes.
func (s *Service) Reconcile(ctx context.Context, feedID int64, actor string, progress Progress) (Run, error) {
	r, err := s.Start(ctx, feedID, actor)
	if err != nil {
		return Run{}, err
	}
	return s.Execute(ctx, r.ID, progress)
}

// StartInBackground starts a run and executes it on a goroutine of its own, which outlives the request that
// started it; its outcome is in the run (logged too when it fails).
func (s *Service) StartInBackground(ctx context.Context, feedID int64, actor string, logger *slog.Logger) (Run, error) {
	r, err := s.Start(ctx, feedID, actor)
	if err != nil {
		return Run{}, err
	}
	go func() {
		if _, err := s.Execute(context.Background(), r.ID, nil); err != nil && logger != nil {
			logger.Error("reconciliation", "run", r.Number, "feed", r.Feed, "err", err)
		}
	}()
	return r, nil
}

// Execute runs a started run to its end: it compares the feed with the record, stores every difference as it
// goes, and files the differences as work items. The run is marked done, or failed with the error.
func (s *Service) Execute(ctx context.Context, runID int64, progress Progress) (Run, error) {
	run, err := s.Run(ctx, runID)
	if err != nil {
		return Run{}, err
	}
	if run.Status != RunRunning {
		return run, record.Errorf(record.EConflict, "run %s is %s", run.Number, run.Status)
	}
	f, err := s.Feed(ctx, run.FeedID)
	if err != nil {
		return run, err
	}
	r := &runner{s: s, feed: f, run: run, counts: map[string]int64{}, progress: progress, beat: time.Now()}
	stop := s.heartbeat(ctx, runID)
	err = r.execute(ctx)
	if err == nil {
		err = r.flush(ctx)
	}
	var rep *workitem.Report
	if err == nil {
		rep, err = r.fileWorkItems(ctx)
	}
	stop()
	end := s.now()
	status, msg := RunDone, ""
	if err != nil {
		status, msg = RunFailed, err.Error()
		if record.ErrorCode(err) == record.EInternal && !errors.Is(err, context.Canceled) {
			msg = "internal error: " + err.Error()
		}
	}
	repJSON := ""
	if rep != nil {
		b, _ := json.Marshal(rep)
		repJSON = string(b)
	}
	counts, _ := json.Marshal(r.counts)
	// The outcome is written even when ctx was cancelled.
	wctx := context.WithoutCancel(ctx)
	if werr := s.write(wctx, func(tx store.Tx) error {
		_, e := tx.Exec(wctx, `UPDATE feed_runs SET status = $1, finished_at = $2, heartbeat = $2, rows_read = $3, differences = $4, counts = $5,
			work_items = $6, error = $7 WHERE id = $8`, status, end.UnixMilli(), r.rows, r.n, string(counts), repJSON, msg, runID)
		return e
	}); werr != nil && err == nil {
		err = werr
	}
	final, rerr := s.Run(wctx, runID)
	if rerr != nil && err == nil {
		err = rerr
	}
	if progress != nil {
		progress(final)
	}
	return final, err
}

// heartbeatEvery is how often a running run says it is alive, whatever it is doing (the database may sort for a
// while before the first row comes).
const heartbeatEvery = 20 * time.Second

// heartbeat keeps a run's heartbeat fresh until stop is called.
func (s *Service) heartbeat(ctx context.Context, runID int64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				// A beat that cannot be written is made good by the next one.
				s.write(ctx, func(tx store.Tx) error {
					_, err := tx.Exec(ctx, "UPDATE feed_runs SET heartbeat = $1 WHERE id = $2 AND status = $3", s.now().UnixMilli(), runID, RunRunning)
					return err
				})
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (s *Service) write(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// runner executes one run: it reads the comparison streams, and writes differences and progress in small
// transactions of their own.
type runner struct {
	s        *Service
	feed     Feed
	run      Run
	buf      [][]any
	n        int64 // differences found
	counts   map[string]int64
	rows     int64 // rows compared
	feedRows int64 // of them, the feed's
	progress Progress
	beat     time.Time
}

const diffBatch = 2000

var diffCols = []string{"run", "n", "kind", "severity", "line", "person", "id_masked", "employer", "period", "type", "seq", "feed_value",
	"record_value", "detail", "finding_key"}

// add stores a difference (buffered).
func (r *runner) add(ctx context.Context, d Difference) error {
	if d.Severity == "" {
		k, _ := DifferenceKindOf(d.Kind)
		d.Severity = k.Severity
	}
	r.n++
	r.counts[d.Kind]++
	r.buf = append(r.buf, []any{r.run.ID, r.n, d.Kind, d.Severity, d.Line, d.Person, d.IDMasked, d.Employer, int64(d.Period), d.Type, d.Seq,
		d.Feed, d.Record, d.Detail, d.Key})
	if len(r.buf) >= diffBatch {
		return r.flush(ctx)
	}
	return nil
}

// read counts one row compared, from the feed or the record; every few seconds it reports progress.
func (r *runner) read(ctx context.Context, fromFeed bool) error {
	r.rows++
	if fromFeed {
		r.feedRows++
	}
	if r.rows%4096 != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if time.Since(r.beat) < 2*time.Second {
		return nil
	}
	return r.flush(ctx)
}

// flush writes the buffered differences and the run's progress.
func (r *runner) flush(ctx context.Context) error {
	counts, _ := json.Marshal(r.counts)
	err := r.s.write(ctx, func(tx store.Tx) error {
		if len(r.buf) > 0 {
			if err := tx.CopyRows(ctx, "feed_differences", diffCols, r.buf); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "UPDATE feed_runs SET rows_read = $1, differences = $2, counts = $3, heartbeat = $4 WHERE id = $5",
			r.rows, r.n, string(counts), r.s.now().UnixMilli(), r.run.ID)
		return err
	})
	if err != nil {
		return err
	}
	r.buf = r.buf[:0]
	r.beat = time.Now()
	if r.progress != nil {
		p := r.run
		p.RowsRead, p.Differences, p.Counts = r.rows, r.n, r.counts
		r.progress(p)
	}
	return nil
}

func (r *runner) execute(ctx context.Context) error {
	switch r.feed.Kind {
	case KindTax:
		if err := r.taxPersons(ctx); err != nil {
			return err
		}
		return r.taxEmployers(ctx)
	case KindMarket:
		return r.market(ctx)
	case KindCivilAffairs, KindPublicSecurity:
		return r.personEvents(ctx)
	case KindStaffing:
		return r.staffing(ctx)
	}
	return fmt.Errorf("feed %s: no reconciliation for kind %s", r.feed.Number, r.feed.Kind)
}

// query runs one comparison query in a read transaction of its own (a consistent snapshot of the record; the
// feed's rows never change) and hands each row to scan. Placeholders must first appear in the text in the order
// of their numbers: SQLite numbers "$N" parameters by first appearance, not by N.
func (r *runner) query(ctx context.Context, q string, args []any, scan func(store.Rows) error) error {
	tx, err := r.s.st.Driver().Begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// fileWorkItems files every difference of the run as a work item of the feed's source, reading them back in
// bounded memory. A later run of the same feed that no longer finds a difference marks its item so.
func (r *runner) fileWorkItems(ctx context.Context) (*workitem.Report, error) {
	if r.s.Items == nil {
		return nil, nil
	}
	in := r.s.Items.Begin(Source(r.feed.Number), DifferenceNames(r.feed.Kind), r.run.ID, "reconciliation:"+r.run.Number)
	var last int64
	for {
		page, err := r.s.differencePage(ctx, r.run.ID, last, 2000)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			detail := d.Detail
			if d.Line > 0 {
				detail = fmt.Sprintf("%s (feed %s line %d)", detail, r.feed.Number, d.Line)
			}
			if err := in.Add(ctx, workitem.Finding{Kind: d.Kind, Key: d.Key, Severity: d.Severity, Person: d.Person, Employer: d.Employer,
				Period: d.Period, Seq: d.Seq, Detail: detail}); err != nil {
				return nil, err
			}
			last = d.N
		}
		if len(page) < 2000 {
			break
		}
	}
	rep, err := in.Finish(ctx)
	if err != nil {
		return nil, err
	}
	return &rep, nil
}

// money writes amounts of fen for people.
func money(base, employer, individual int64) string {
	return fmt.Sprintf("base %s · employer %s · individual %s", record.Fen(base), record.Fen(employer), record.Fen(individual))
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(p, ", ")
}
