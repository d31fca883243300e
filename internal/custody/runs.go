package custody

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Kinds and states of custody runs.
const (
	RunBackup = "backup"
	RunDrill  = "drill"

	StatusRunning = "running"
	StatusOK      = "ok"
	StatusFailed  = "failed"
)

// Run is one backup or restore drill in the custody log.
type Run struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Status     string    `json:"status"`
	StartedBy  string    `json:"started_by"` // "schedule", "cli" or a user name
	URL        string    `json:"url"`        // the backup taken or drilled
	Events     int64     `json:"events"`
	Root       string    `json:"root"`
	Bytes      int64     `json:"bytes"`
	Summary    string    `json:"summary"` // one line: what was done, or why it failed
	Report     string    `json:"report,omitempty"`
}

// Failed reports whether the run failed.
func (r Run) Failed() bool { return r.Status == StatusFailed }

// Duration is how long the run took, 0 while it runs.
func (r Run) Duration() time.Duration {
	if r.FinishedAt.IsZero() {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt).Round(time.Second)
}

// StartRun records the start of a run and returns its id.
func StartRun(ctx context.Context, d store.Driver, kind, by, url string, now time.Time) (int64, error) {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO custody_runs (kind, started_at, finished_at, status, started_by, url, events, root, bytes, summary, report)
		VALUES ($1, $2, 0, $3, $4, $5, 0, '', 0, '', '') RETURNING id`, kind, now.UnixMilli(), StatusRunning, by, url).Scan(&id); err != nil {
		return 0, err
	}
	return id, tx.Commit(ctx)
}

// FinishRun records the outcome of run id.
func FinishRun(ctx context.Context, d store.Driver, r Run, now time.Time) error {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	n, err := tx.Exec(ctx, `UPDATE custody_runs SET finished_at = $1, status = $2, url = $3, events = $4, root = $5, bytes = $6, summary = $7, report = $8
		WHERE id = $9`, now.UnixMilli(), r.Status, r.URL, r.Events, r.Root, r.Bytes, r.Summary, r.Report, r.ID)
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("custody run %d does not exist", r.ID)
	}
	return tx.Commit(ctx)
}

const runCols = "id, kind, started_at, finished_at, status, started_by, url, events, root, bytes, summary"

func scanRun(rows interface{ Scan(...any) error }, withReport bool) (Run, error) {
	var r Run
	var started, finished int64
	dest := []any{&r.ID, &r.Kind, &started, &finished, &r.Status, &r.StartedBy, &r.URL, &r.Events, &r.Root, &r.Bytes, &r.Summary}
	if withReport {
		dest = append(dest, &r.Report)
	}
	if err := rows.Scan(dest...); err != nil {
		return r, err
	}
	r.StartedAt = time.UnixMilli(started).UTC()
	if finished > 0 {
		r.FinishedAt = time.UnixMilli(finished).UTC()
	}
	return r, nil
}

// ListRuns returns runs of kind ("" for both), newest first, limit of them (1 to 500) after skipping offset,
// and how many there are.
func ListRuns(ctx context.Context, d store.Driver, kind string, offset, limit int) ([]Run, int, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "range", "offset from 0 and limit 1 to 500")
	}
	if kind != "" && kind != RunBackup && kind != RunDrill {
		return nil, 0, record.Invalid("kind", "run_kind", "kind is backup or drill, not %q", kind)
	}
	cond, args := "", []any{}
	if kind != "" {
		cond, args = " WHERE kind = $1", append(args, kind)
	}
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM custody_runs"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM custody_runs%s ORDER BY id DESC LIMIT $%d OFFSET $%d", runCols, cond, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows, false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// GetRun returns one run with its report.
func GetRun(ctx context.Context, d store.Driver, id int64) (Run, error) {
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return Run{}, err
	}
	defer tx.Rollback(ctx)
	r, err := scanRun(tx.QueryRow(ctx, "SELECT "+runCols+", report FROM custody_runs WHERE id = $1", id), true)
	if errors.Is(err, store.ErrNoRows) {
		return Run{}, record.Errorf(record.ENotFound, "custody run %d does not exist", id)
	}
	return r, err
}

// latest returns the newest run of kind with one of the statuses (any when none given), or nil.
func latest(ctx context.Context, tx store.Tx, kind string, statuses ...string) (*Run, error) {
	q := "SELECT " + runCols + " FROM custody_runs WHERE kind = $1"
	args := []any{kind}
	if len(statuses) > 0 {
		var ph []string
		for _, s := range statuses {
			args = append(args, s)
			ph = append(ph, fmt.Sprintf("$%d", len(args)))
		}
		q += " AND status IN (" + strings.Join(ph, ", ") + ")"
	}
	r, err := scanRun(tx.QueryRow(ctx, q+" ORDER BY id DESC LIMIT 1", args...), false)
	if errors.Is(err, store.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Status is the state of custody as the console and the API show it.
type Status struct {
	Schedule       *ScheduleInfo `json:"schedule"` // nil when serve runs no scheduled backups
	LastBackup     *Run          `json:"last_backup"`
	LastGoodBackup *Run          `json:"last_good_backup"`
	LastDrill      *Run          `json:"last_drill"`
	LastGoodDrill  *Run          `json:"last_good_drill"`
	// Metrics are counters for monitoring: failures ever recorded and in a row.
	Metrics Metrics `json:"metrics"`
	// Alerts name what is wrong, for the console's banner: backup_failed, drill_failed, backup_overdue,
	// drill_overdue, no_backup.
	Alerts []string `json:"alerts"`
}

// ScheduleInfo describes the scheduled jobs, without keys.
type ScheduleInfo struct {
	To         string   `json:"to"`
	Every      string   `json:"every"`
	Keep       int      `json:"keep"`
	DrillEvery string   `json:"drill_every,omitempty"`
	Recipients []string `json:"recipients"`
}

// Metrics are the custody counters.
type Metrics struct {
	BackupsOK                 int64 `json:"backups_ok_total"`
	BackupFailures            int64 `json:"backup_failures_total"`
	BackupConsecutiveFailures int64 `json:"backup_consecutive_failures"`
	DrillsOK                  int64 `json:"drills_ok_total"`
	DrillFailures             int64 `json:"drill_failures_total"`
	DrillConsecutiveFailures  int64 `json:"drill_consecutive_failures"`
	LastBackupOKUnix          int64 `json:"last_backup_ok_unix"`
	LastDrillOKUnix           int64 `json:"last_drill_ok_unix"`
}

// Prometheus writes the metrics in the Prometheus text exposition format.
func (m Metrics) Prometheus() string {
	var b strings.Builder
	metric := func(name, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	metric("sirec_backups_ok_total", "Backups taken successfully.", m.BackupsOK)
	metric("sirec_backup_failures_total", "Backups that failed.", m.BackupFailures)
	metric("sirec_backup_consecutive_failures", "Backups that failed since the last good one.", m.BackupConsecutiveFailures)
	metric("sirec_backup_last_ok_timestamp_seconds", "When the last good backup finished (Unix time, 0 for never).", m.LastBackupOKUnix)
	metric("sirec_drills_ok_total", "Restore drills that passed.", m.DrillsOK)
	metric("sirec_drill_failures_total", "Restore drills that failed.", m.DrillFailures)
	metric("sirec_drill_consecutive_failures", "Restore drills that failed since the last good one.", m.DrillConsecutiveFailures)
	metric("sirec_drill_last_ok_timestamp_seconds", "When the last good restore drill finished (Unix time, 0 for never).", m.LastDrillOKUnix)
	return b.String()
}

// ReadStatus reads the custody log and judges it against the schedule (nil when none runs).
func ReadStatus(ctx context.Context, d store.Driver, sched *Schedule, now time.Time) (Status, error) {
	var st Status
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return st, err
	}
	defer tx.Rollback(ctx)
	if st.LastBackup, err = latest(ctx, tx, RunBackup, StatusOK, StatusFailed); err != nil {
		return st, err
	}
	if st.LastGoodBackup, err = latest(ctx, tx, RunBackup, StatusOK); err != nil {
		return st, err
	}
	if st.LastDrill, err = latest(ctx, tx, RunDrill, StatusOK, StatusFailed); err != nil {
		return st, err
	}
	if st.LastGoodDrill, err = latest(ctx, tx, RunDrill, StatusOK); err != nil {
		return st, err
	}
	count := func(kind, status string, after int64) (int64, error) {
		var n int64
		err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM custody_runs WHERE kind = $1 AND status = $2 AND id > $3", kind, status, after).Scan(&n)
		return n, err
	}
	m := &st.Metrics
	var lastOK int64
	if st.LastGoodBackup != nil {
		lastOK, m.LastBackupOKUnix = st.LastGoodBackup.ID, st.LastGoodBackup.FinishedAt.Unix()
	}
	if m.BackupsOK, err = count(RunBackup, StatusOK, 0); err != nil {
		return st, err
	}
	if m.BackupFailures, err = count(RunBackup, StatusFailed, 0); err != nil {
		return st, err
	}
	if m.BackupConsecutiveFailures, err = count(RunBackup, StatusFailed, lastOK); err != nil {
		return st, err
	}
	lastOK = 0
	if st.LastGoodDrill != nil {
		lastOK, m.LastDrillOKUnix = st.LastGoodDrill.ID, st.LastGoodDrill.FinishedAt.Unix()
	}
	if m.DrillsOK, err = count(RunDrill, StatusOK, 0); err != nil {
		return st, err
	}
	if m.DrillFailures, err = count(RunDrill, StatusFailed, 0); err != nil {
		return st, err
	}
	if m.DrillConsecutiveFailures, err = count(RunDrill, StatusFailed, lastOK); err != nil {
		return st, err
	}
	if st.LastBackup != nil && st.LastBackup.Failed() {
		st.Alerts = append(st.Alerts, "backup_failed")
	}
	if st.LastDrill != nil && st.LastDrill.Failed() {
		st.Alerts = append(st.Alerts, "drill_failed")
	}
	if sched != nil {
		st.Schedule = sched.Info()
		// Late: no good backup within two intervals (one missed run is tolerated, not two).
		if st.LastGoodBackup == nil {
			st.Alerts = append(st.Alerts, "no_backup")
		} else if now.Sub(st.LastGoodBackup.FinishedAt) > 2*sched.Every {
			st.Alerts = append(st.Alerts, "backup_overdue")
		}
		if sched.DrillEvery > 0 && st.LastGoodDrill != nil && now.Sub(st.LastGoodDrill.FinishedAt) > 2*sched.DrillEvery {
			st.Alerts = append(st.Alerts, "drill_overdue")
		}
	}
	return st, nil
}
