package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store"
)

// The journal page (日志核验): the latest signed checkpoint, in full, with the verifier key an auditor needs to
// check it; the outcome of every verification (sirec verify, "verify now" here, and the runs serve schedules);
// and, for supervisors and the information unit, a button that verifies now, in the background, with progress.

// VerifyRun is one verification of the journal and the projections (store.Verify).
type VerifyRun struct {
	ID          int64
	StartedAt   time.Time
	FinishedAt  time.Time
	Actor       string // the staff user who started it, VerifyBySchedule or VerifyByCLI
	OK          bool
	Events      int64
	Checkpoints int64
	Rows        int64  // projection rows compared
	Root        string // hex, when OK
	Message     string // what failed, when not OK
}

// Who starts a verification besides a staff user.
const (
	VerifyBySchedule = "schedule" // serve --verify-every
	VerifyByCLI      = "cli"      // sirec verify
)

// Duration is how long the run took.
func (r VerifyRun) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt).Round(time.Second) }

// RecordVerifyRun keeps the outcome of a verification.
func RecordVerifyRun(ctx context.Context, d store.Driver, r VerifyRun) error {
	if r.Actor == "" {
		return record.Invalid("actor", "required", "a verification run names who started it")
	}
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	ok := 0
	if r.OK {
		ok = 1
	}
	if _, err := tx.Exec(ctx, `INSERT INTO verify_runs (started_at, finished_at, actor, ok, events, checkpoints, rows_checked, root, message)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r.StartedAt.UnixMilli(), r.FinishedAt.UnixMilli(), r.Actor, ok, r.Events,
		r.Checkpoints, r.Rows, r.Root, r.Message); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ListVerifyRuns returns verification runs, newest first: limit of them after skipping offset, and how many
// there are.
func ListVerifyRuns(ctx context.Context, d store.Driver, offset, limit int) ([]VerifyRun, int64, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "limit_range", "offset from 0 and limit 1 to 1000")
	}
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM verify_runs").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT id, started_at, finished_at, actor, ok, events, checkpoints, rows_checked, root, message
		FROM verify_runs ORDER BY finished_at DESC, id DESC LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []VerifyRun
	for rows.Next() {
		var r VerifyRun
		var started, finished int64
		var ok int
		if err := rows.Scan(&r.ID, &started, &finished, &r.Actor, &ok, &r.Events, &r.Checkpoints, &r.Rows, &r.Root, &r.Message); err != nil {
			return nil, 0, err
		}
		r.StartedAt, r.FinishedAt, r.OK = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC(), ok == 1
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// LatestVerifyRun returns the latest verification run; ok is false when there has been none.
func LatestVerifyRun(ctx context.Context, d store.Driver) (VerifyRun, bool, error) {
	runs, _, err := ListVerifyRuns(ctx, d, 0, 1)
	if err != nil || len(runs) == 0 {
		return VerifyRun{}, false, err
	}
	return runs[0], true, nil
}

// RunVerify verifies st's journal and projections (store.Verify, with the agency's verifier key) and records
// the outcome as started by actor. A verification that fails is a run like any other, recorded with its
// message; only an error that prevents verifying at all — or recording it — is returned.
func RunVerify(ctx context.Context, st *store.Store, actor string, now func() time.Time, progress store.Progress) (VerifyRun, error) {
	run := VerifyRun{Actor: actor, StartedAt: now()}
	rep, err := store.Verify(ctx, st.Driver(), st.Keys().Verifier, store.DefaultRules(), progress)
	run.FinishedAt = now()
	switch {
	case err == nil:
		run.OK, run.Root = true, rep.RootHex()
	case errors.Is(err, store.ErrTampered):
		run.Message = err.Error()
	default:
		return run, err
	}
	run.Events, run.Checkpoints = rep.Events, int64(rep.Checkpoints)
	for _, n := range rep.Rows {
		run.Rows += n
	}
	return run, RecordVerifyRun(ctx, st.Driver(), run)
}

// verifyJob is the verification the console runs in the background: one at a time.
type verifyJob struct {
	mu          sync.Mutex
	running     bool
	actor       string
	started     time.Time
	done, total int64
	lastErr     error // an error that stopped the last run from verifying at all
}

type verifyProgress struct {
	Running     bool
	Actor       string
	Started     time.Time
	Done, Total int64
	Percent     int
}

func (j *verifyJob) progress() verifyProgress {
	j.mu.Lock()
	defer j.mu.Unlock()
	p := verifyProgress{Running: j.running, Actor: j.actor, Started: j.started, Done: j.done, Total: j.total}
	if j.total > 0 {
		p.Percent = int(j.done * 100 / j.total)
	}
	return p
}

// startVerify starts a verification in the background unless one is running; it reports whether it started.
func (s *server) startVerify(actor string) bool {
	j := s.verify
	j.mu.Lock()
	if j.running {
		j.mu.Unlock()
		return false
	}
	j.running, j.actor, j.started, j.done, j.total, j.lastErr = true, actor, s.cfg.Now(), 0, 0, nil
	j.mu.Unlock()
	go func() {
		_, err := RunVerify(s.cfg.Context, s.cfg.Store, actor, s.cfg.Now, func(done, total int64) {
			j.mu.Lock()
			j.done, j.total = done, total
			j.mu.Unlock()
		})
		if err != nil {
			s.cfg.Logger.Error("verify", "actor", actor, "err", err)
		} else {
			s.cfg.Logger.Info("verify done", "actor", actor)
		}
		j.mu.Lock()
		j.running, j.lastErr = false, err
		j.mu.Unlock()
	}()
	return true
}

// scheduleVerify verifies every interval until ctx ends. The first run comes one interval after the start:
// starting the service does not wait for, nor compete with, a verification.
func (s *server) scheduleVerify(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.startVerify(VerifyBySchedule) {
				s.cfg.Logger.Info("verify: the scheduled run is skipped, a verification is running")
			}
		}
	}
}

// verifiers are the posts that may start a verification: supervisors and the information unit.
var verifiers = []auth.Post{auth.PostSupervisor, auth.PostSysadmin, auth.PostDBAdmin}

func (s *server) journalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/journal", s.staffOnly(nil, s.journalPage))
	mux.HandleFunc("POST /console/journal/verify", s.staffForm(verifiers, s.verifyNow))
}

type checkpointRow struct {
	Size uint64
	At   time.Time
}

type journalData struct {
	Origin      string
	Size        uint64
	RootHex     string
	RootB64     string
	SignedAt    time.Time
	Note        string
	NoteError   string // why the latest checkpoint does not verify, "" when it does
	VerifierKey string
	Recent      []checkpointRow
	Runs        []VerifyRun
	Pager       pager
	Job         verifyProgress
	JobError    string
	CanVerify   bool
}

func (s *server) journalPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	cp, note, err := s.cfg.Store.LatestCheckpoint(ctx)
	noteErr := ""
	if err != nil {
		if len(note) == 0 {
			s.failErr(w, r, "console", err)
			return
		}
		// The latest checkpoint does not open under the agency's key: show it, and say so.
		noteErr = err.Error()
	}
	d := journalData{NoteError: noteErr, Origin: cp.Origin, Size: cp.Size, RootHex: hex.EncodeToString(cp.Root), RootB64: base64.StdEncoding.EncodeToString(cp.Root),
		Note: string(note), VerifierKey: s.cfg.Store.Keys().VKey, Pager: newPager(r, 20), Job: s.verify.progress(),
		CanVerify: slices.ContainsFunc(verifiers, p.Has)}
	if d.Recent, err = s.recentCheckpoints(ctx, 10); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if len(d.Recent) > 0 {
		d.SignedAt = d.Recent[0].At
	}
	runs, total, err := ListVerifyRuns(ctx, s.cfg.Store.Driver(), d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Runs = runs
	d.Pager.setTotal(total)
	s.verify.mu.Lock()
	if s.verify.lastErr != nil && !s.verify.running {
		d.JobError = s.verify.lastErr.Error()
	}
	s.verify.mu.Unlock()
	v := s.staffView(w, r, p, "journal.title")
	if d.Job.Running {
		v.Refresh = 3
	}
	if n := r.URL.Query().Get("n"); n == "verify_started" || n == "verify_running" {
		v.Notice = "notice." + n
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "journal", v)
}

// verifyNow starts a verification in the background and goes back to the journal page, which shows its
// progress.
func (s *server) verifyNow(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	n := "verify_started"
	if !s.startVerify(p.Username) {
		n = "verify_running"
	}
	http.Redirect(w, r, "/console/journal?n="+n, http.StatusSeeOther)
}

// recentCheckpoints lists the latest signed checkpoints, newest first.
func (s *server) recentCheckpoints(ctx context.Context, n int) ([]checkpointRow, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT size, at FROM journal_checkpoints ORDER BY size DESC LIMIT $1", n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []checkpointRow
	for rows.Next() {
		var size, at int64
		if err := rows.Scan(&size, &at); err != nil {
			return nil, err
		}
		out = append(out, checkpointRow{uint64(size), time.UnixMilli(at).UTC()})
	}
	return out, rows.Err()
}

// shortRoot abbreviates a hex root for tables.
func shortRoot(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return strings.TrimSpace(h)
}
