package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// Source is the work item source of the checks' findings.
const Source = "check"

// Run states.
const (
	RunRunning = "running"
	RunOK      = "ok"     // finished; its findings are filed as work items
	RunFailed  = "failed" // stopped by an error (the error is kept); what it filed before stays filed
)

// What started a run.
const (
	TriggerSchedule = "schedule" // serve's scheduler
	TriggerCLI      = "cli"      // sirec check data
	TriggerConsole  = "console"  // a maintainer, from the console or the API
)

// staleAfter is how long a running run may go without a heartbeat before it is taken for abandoned (its process
// ended): a new run may then start. It is long because on SQLite the journal_projections check, like sirec
// verify, holds the database's write lock while it replays the journal, and no heartbeat is written meanwhile.
const staleAfter = 30 * time.Minute

// heartbeatEvery is how often a run writes its progress to its record.
const heartbeatEvery = 2 * time.Second

// RunRecord is one run of the checks, as check_runs keeps it.
type RunRecord struct {
	ID           int64     `json:"id"`
	Number       string    `json:"number"` // R000042
	Trigger      string    `json:"trigger"`
	StartedBy    string    `json:"started_by"`
	Checks       []string  `json:"checks"`
	Status       string    `json:"status"`
	StartedAt    time.Time `json:"started_at"`
	Heartbeat    time.Time `json:"heartbeat"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	CurrentCheck string    `json:"current_check,omitempty"`
	ChecksDone   int       `json:"checks_done"`
	Rows         int64     `json:"rows_read"`
	Findings     int64     `json:"findings"`
	New          int64     `json:"new_items"`
	Seen         int64     `json:"open_items_found_again"`
	Gone         int64     `json:"items_no_longer_found"`
	Suppressed   int64     `json:"dismissed_findings"`
	Error        string    `json:"error,omitempty"`
}

// RunNumber formats a run number for people: R000042.
func RunNumber(id int64) string { return fmt.Sprintf("R%06d", id) }

// ParseRunNumber reads "R000042" or "42".
func ParseRunNumber(field, s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "R"), 10, 64)
	if err != nil || id <= 0 {
		return 0, record.Invalid(field, "run_number", "%q is not a check run number such as R000042", s)
	}
	return id, nil
}

// Runner runs the checks and files their findings as work items, one run at a time across every process that
// shares the database, recording each run and its progress in check_runs.
type Runner struct {
	Store  *store.Store
	Items  *workitem.Service
	Logger *slog.Logger // nil: no log
	// Base is the context background runs (Start) run in; nil means context.Background(). serve passes its own,
	// so that a run stops when the service does.
	Base context.Context
	Now  func() time.Time
	// Each, when set, is shown every finding of a run as it is filed (the CLI prints them).
	Each func(Finding)

	wg     sync.WaitGroup
	active atomic.Bool // a run of this runner is in progress
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return r.Now().UTC().Truncate(time.Millisecond)
}

func (r *Runner) log(msg string, args ...any) {
	if r.Logger != nil {
		r.Logger.Info(msg, args...)
	}
}

// Trigger says what started a run and who.
type Trigger struct {
	Kind string // TriggerSchedule, TriggerCLI, TriggerConsole
	By   string // the user, or "scheduler"
}

// Run runs the named checks (all when names is empty), files their findings and returns the finished run. It
// refuses to start while another run is running.
func (r *Runner) Run(ctx context.Context, trig Trigger, names []string, progress Progress) (RunRecord, error) {
	run, todo, err := r.claim(ctx, trig, names)
	if err != nil {
		return RunRecord{}, err
	}
	return r.execute(ctx, run, todo, progress)
}

// Start claims a run and runs it in the background; it returns the run as it starts. Wait waits for background
// runs to end.
func (r *Runner) Start(ctx context.Context, trig Trigger, names []string) (RunRecord, error) {
	run, todo, err := r.claim(ctx, trig, names)
	if err != nil {
		return RunRecord{}, err
	}
	base := r.Base
	if base == nil {
		base = context.Background()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if _, err := r.execute(base, run, todo, r.logProgress(run)); err != nil && r.Logger != nil {
			r.Logger.Error("check run failed", "run", run.Number, "err", err)
		}
	}()
	return run, nil
}

// Wait waits until every run started by Start has ended.
func (r *Runner) Wait() { r.wg.Wait() }

// logProgress logs a run's progress at most every ten seconds, and each check as it starts.
func (r *Runner) logProgress(run RunRecord) Progress {
	var last time.Time
	current := ""
	return func(st Status) {
		if st.Check == current && time.Since(last) < 10*time.Second {
			return
		}
		current, last = st.Check, time.Now()
		if st.Check != "" {
			r.log("check progress", "run", run.Number, "check", st.Check, "check_no", st.Done+1, "checks", st.Total, "rows", st.Rows, "findings", st.Findings)
		}
	}
}

// claim records a new run, refusing while another runs; a run without a heartbeat for staleAfter is marked
// failed as abandoned.
func (r *Runner) claim(ctx context.Context, trig Trigger, names []string) (RunRecord, []Check, error) {
	todo, err := Select(names)
	if err != nil {
		return RunRecord{}, nil, err
	}
	if !r.active.CompareAndSwap(false, true) {
		return RunRecord{}, nil, record.Errorf(record.EConflict, "a run of the checks is in progress in this service; wait for it to finish")
	}
	claimed := false
	defer func() {
		if !claimed {
			r.active.Store(false)
		}
	}()
	var checks []string
	for _, c := range todo {
		checks = append(checks, c.Name)
	}
	now := r.now()
	run := RunRecord{Trigger: trig.Kind, StartedBy: trig.By, Checks: checks, Status: RunRunning, StartedAt: now, Heartbeat: now}
	tx, err := r.Store.Driver().Begin(ctx, true)
	if err != nil {
		return run, nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT id, heartbeat FROM check_runs WHERE status = $1 ORDER BY id", RunRunning)
	if err != nil {
		return run, nil, err
	}
	type running struct{ id, beat int64 }
	var others []running
	for rows.Next() {
		var o running
		if err := rows.Scan(&o.id, &o.beat); err != nil {
			rows.Close()
			return run, nil, err
		}
		others = append(others, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return run, nil, err
	}
	for _, o := range others {
		if now.Sub(time.UnixMilli(o.beat)) < staleAfter {
			return run, nil, record.Errorf(record.EConflict, "check run %s is running (last progress %s); wait for it to finish",
				RunNumber(o.id), time.UnixMilli(o.beat).UTC().Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, "UPDATE check_runs SET status = $1, finished_at = $2, error = $3 WHERE id = $4 AND status = $5",
			RunFailed, now.UnixMilli(), "abandoned: no progress since "+time.UnixMilli(o.beat).UTC().Format(time.RFC3339), o.id, RunRunning); err != nil {
			return run, nil, err
		}
	}
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM check_runs").Scan(&run.ID); err != nil {
		return run, nil, err
	}
	run.Number = RunNumber(run.ID)
	if _, err := tx.Exec(ctx, `INSERT INTO check_runs (id, trigger_kind, started_by, checks, status, started_at, heartbeat, finished_at, current_check,
		checks_done, rows_read, findings, new_items, seen_items, gone_items, suppressed, error) VALUES ($1, $2, $3, $4, $5, $6, $6, 0, '', 0, 0, 0, 0, 0, 0, 0, '')`,
		run.ID, trig.Kind, trig.By, strings.Join(checks, ","), RunRunning, now.UnixMilli()); err != nil {
		return run, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return run, nil, err
	}
	claimed = true
	return run, todo, nil
}

// execute runs a claimed run to its end and records how it ended. Progress is written to the run's record by a
// goroutine of its own every heartbeatEvery, so that a database busy with a long check never holds the checks up.
func (r *Runner) execute(ctx context.Context, run RunRecord, todo []Check, progress Progress) (RunRecord, error) {
	defer r.active.Store(false)
	r.log("check run started", "run", run.Number, "trigger", run.Trigger, "by", run.StartedBy, "checks", strings.Join(run.Checks, ","))
	intake := r.Items.Begin(Source, run.Checks, run.ID, "check:"+run.Number)
	var mu sync.Mutex // guards run while the saver reads it
	done, saved := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(saved)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			mu.Lock()
			snap := run
			mu.Unlock()
			snap.Heartbeat = r.now()
			if err := r.save(ctx, snap); err != nil && ctx.Err() == nil && r.Logger != nil {
				r.Logger.Warn("check run progress not recorded", "run", run.Number, "err", err)
			}
		}
	}()
	var rowsBefore int64 // rows read by the checks finished
	beat := func(st Status) {
		if progress != nil {
			progress(st)
		}
		mu.Lock()
		defer mu.Unlock()
		if st.Check != run.CurrentCheck {
			rowsBefore = run.Rows
		}
		run.CurrentCheck, run.ChecksDone, run.Rows, run.Findings = st.Check, st.Done, rowsBefore+st.Rows, int64(st.Findings)
	}
	stats, err := New(r.Store).Stream(ctx, run.Checks, beat, func(f Finding) error {
		if r.Each != nil {
			r.Each(f)
		}
		return intake.Add(ctx, workitem.Finding{Source: Source, Kind: f.Check, Key: f.Key, Severity: f.Severity, Person: f.Person,
			Employer: f.Employer, Period: f.Period, Seq: f.Seq, Detail: f.Detail})
	})
	var rep workitem.Report
	if err == nil {
		rep, err = intake.Finish(ctx)
	}
	close(done)
	<-saved
	run.Rows, run.Findings = stats.Rows, int64(stats.Findings)
	run.New, run.Seen, run.Gone, run.Suppressed = int64(rep.New), int64(rep.Seen), int64(rep.Gone), int64(rep.Suppressed)
	run.Status, run.CurrentCheck, run.FinishedAt = RunOK, "", r.now()
	run.Heartbeat = run.FinishedAt
	if err != nil {
		run.Status, run.Error = RunFailed, err.Error()
	}
	// Record the end even when the run's own context has ended.
	saveCtx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		saveCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	if serr := r.save(saveCtx, run); serr != nil {
		return run, errors.Join(err, serr)
	}
	r.log("check run finished", "run", run.Number, "status", run.Status, "rows", run.Rows, "findings", run.Findings,
		"new_items", run.New, "found_again", run.Seen, "no_longer_found", run.Gone, "dismissed_before", run.Suppressed, "error", run.Error)
	return run, err
}

func (r *Runner) save(ctx context.Context, run RunRecord) error {
	tx, err := r.Store.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE check_runs SET status = $1, heartbeat = $2, finished_at = $3, current_check = $4, checks_done = $5, rows_read = $6,
		findings = $7, new_items = $8, seen_items = $9, gone_items = $10, suppressed = $11, error = $12 WHERE id = $13`,
		run.Status, run.Heartbeat.UnixMilli(), ms(run.FinishedAt), run.CurrentCheck, run.ChecksDone, run.Rows, run.Findings,
		run.New, run.Seen, run.Gone, run.Suppressed, run.Error, run.ID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

const runColumns = `id, trigger_kind, started_by, checks, status, started_at, heartbeat, finished_at, current_check, checks_done, rows_read,
	findings, new_items, seen_items, gone_items, suppressed, error`

func scanRun(row store.Row) (RunRecord, error) {
	var r RunRecord
	var checks string
	var started, beat, finished int64
	err := row.Scan(&r.ID, &r.Trigger, &r.StartedBy, &checks, &r.Status, &started, &beat, &finished, &r.CurrentCheck, &r.ChecksDone, &r.Rows,
		&r.Findings, &r.New, &r.Seen, &r.Gone, &r.Suppressed, &r.Error)
	if err != nil {
		return r, err
	}
	r.Number = RunNumber(r.ID)
	if checks != "" {
		r.Checks = strings.Split(checks, ",")
	}
	r.StartedAt, r.Heartbeat = time.UnixMilli(started).UTC(), time.UnixMilli(beat).UTC()
	if finished != 0 {
		r.FinishedAt = time.UnixMilli(finished).UTC()
	}
	return r, nil
}

// Runs returns runs, newest first, and how many there are.
func (r *Runner) Runs(ctx context.Context, offset, limit int) ([]RunRecord, int64, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 500 and offset 0 or more")
	}
	tx, err := r.Store.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM check_runs").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT "+runColumns+" FROM check_runs ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []RunRecord{}
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, run)
	}
	return out, total, rows.Err()
}

// Get returns one run.
func (r *Runner) Get(ctx context.Context, id int64) (RunRecord, error) {
	tx, err := r.Store.Driver().Begin(ctx, false)
	if err != nil {
		return RunRecord{}, err
	}
	defer tx.Rollback(ctx)
	run, err := scanRun(tx.QueryRow(ctx, "SELECT "+runColumns+" FROM check_runs WHERE id = $1", id))
	if errors.Is(err, store.ErrNoRows) {
		return run, record.Errorf(record.ENotFound, "check run %s does not exist", RunNumber(id))
	}
	return run, err
}

// Last returns the latest run, and false when there has been none.
func (r *Runner) Last(ctx context.Context) (RunRecord, bool, error) {
	runs, _, err := r.Runs(ctx, 0, 1)
	if err != nil || len(runs) == 0 {
		return RunRecord{}, false, err
	}
	return runs[0], true, nil
}
