package custody

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Schedule is the service's backup and drill schedule (R9.2, R9.3).
type Schedule struct {
	To         string        // destination URL
	Every      time.Duration // time between backups
	Keep       int           // backups kept at the destination; older ones are deleted after a good backup
	Recipients []age.Recipient
	// DrillEvery is the time between restore drills, 0 for none. A drill restores the newest backup at the
	// destination into a scratch database and proves it (Verify); it needs Identities to decrypt it.
	DrillEvery time.Duration
	Identities []age.Identity
	ScratchDir string // where drills make their scratch database; "" for the system's temporary folder
}

// Validate checks the schedule, naming the flag of a bad setting.
func (s *Schedule) Validate() error {
	var es record.Errors
	if err := CheckURL("backup-to", s.To); err != nil {
		es.Append("", err)
	}
	if s.Every < time.Minute {
		es.Append("", record.Invalid("backup-every", "interval", "backups need an interval of at least 1m, e.g. 24h"))
	}
	if s.Keep < 1 {
		es.Append("", record.Invalid("backup-keep", "keep_min", "keep at least 1 backup"))
	}
	if len(s.Recipients) == 0 {
		es.Append("", record.Invalid("backup-recipient", "required", "backups need at least one age recipient (run sirec backup keygen, or pass --backup-recipient age1…)"))
	}
	if s.DrillEvery < 0 || s.DrillEvery > 0 && s.DrillEvery < time.Minute {
		es.Append("", record.Invalid("drill-every", "interval", "drills need an interval of at least 1m, or 0 for none"))
	}
	if s.DrillEvery > 0 && len(s.Identities) == 0 {
		es.Append("", record.Invalid("backup-identity", "required", "restore drills need the age identity that decrypts the backups"))
	}
	return es.Err()
}

// Info describes the schedule for status pages: where, how often, how many, and to whom — no secrets.
func (s *Schedule) Info() *ScheduleInfo {
	i := &ScheduleInfo{To: s.To, Every: s.Every.String(), Keep: s.Keep}
	if s.DrillEvery > 0 {
		i.DrillEvery = s.DrillEvery.String()
	}
	for _, r := range s.Recipients {
		i.Recipients = append(i.Recipients, keyring.RecipientString(r))
	}
	return i
}

// Scheduler runs the schedule inside the service. Every run is recorded in the custody log; a failure is
// logged at error level, counted in the metrics and shown on the console's custody page.
type Scheduler struct {
	Store    *store.Store
	Schedule Schedule
	Logger   *slog.Logger
	Now      func() time.Time

	mu sync.Mutex // one job at a time
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// retryAfter is how soon a failed scheduled backup is tried again (or the interval, when shorter).
const retryAfter = 30 * time.Minute

// Run runs backups and drills when they fall due until ctx ends. The first backup falls due at once unless a
// good one is more recent than the interval; the first drill after the first good backup.
func (s *Scheduler) Run(ctx context.Context) {
	d := s.Store.Driver()
	nextBackup, nextDrill := s.now(), time.Time{}
	if st, err := ReadStatus(ctx, d, nil, s.now()); err == nil {
		if st.LastGoodBackup != nil {
			nextBackup = st.LastGoodBackup.FinishedAt.Add(s.Schedule.Every)
		}
		if st.LastGoodDrill != nil {
			nextDrill = st.LastGoodDrill.FinishedAt.Add(s.Schedule.DrillEvery)
		}
	}
	s.Logger.Info("custody: scheduled backups", "to", s.Schedule.To, "every", s.Schedule.Every, "keep", s.Schedule.Keep,
		"drill_every", s.Schedule.DrillEvery, "next_backup", nextBackup.Format(time.RFC3339))
	for {
		next := nextBackup
		if s.Schedule.DrillEvery > 0 && !nextDrill.IsZero() && nextDrill.Before(next) {
			next = nextDrill
		}
		wait := time.Until(next)
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := s.now()
		if !now.Before(nextBackup) {
			run, _ := s.BackupNow(ctx, "schedule")
			nextBackup = s.now().Add(s.Schedule.Every)
			if run.Status != StatusOK {
				// A failed backup is tried again soon, not a whole interval later.
				nextBackup = s.now().Add(min(s.Schedule.Every, retryAfter))
			}
			if run.Status == StatusOK && nextDrill.IsZero() && s.Schedule.DrillEvery > 0 {
				nextDrill = s.now() // the first drill right after the first good backup
			}
			continue
		}
		if s.Schedule.DrillEvery > 0 && !nextDrill.IsZero() && !now.Before(nextDrill) {
			s.DrillNow(ctx, "schedule")
			nextDrill = s.now().Add(s.Schedule.DrillEvery)
		}
	}
}

// BackupNow takes a backup to the schedule's destination, records it and, when it is good, deletes the
// backups beyond the number to keep.
func (s *Scheduler) BackupNow(ctx context.Context, by string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.Store.Driver()
	run := Run{Kind: RunBackup, StartedBy: by, StartedAt: s.now(), URL: s.Schedule.To}
	id, err := StartRun(ctx, d, RunBackup, by, s.Schedule.To, run.StartedAt)
	if err != nil {
		s.Logger.Error("custody: backup not started: the custody log cannot be written", "err", err)
		return run, err
	}
	run.ID = id
	res, err := Backup(ctx, d, s.Schedule.To, BackupOptions{Keys: s.Store.Keys(), Recipients: s.Schedule.Recipients})
	if err != nil {
		run.Status, run.Summary = StatusFailed, err.Error()
		s.Logger.Error("custody: BACKUP FAILED", "to", s.Schedule.To, "run", id, "err", err)
	} else {
		m := res.Manifest
		run.Status, run.URL, run.Events, run.Root, run.Bytes = StatusOK, res.URL, m.Events, m.Root, m.StoredBytes()
		run.Summary = fmt.Sprintf("%d events, %s stored in %s", m.Events, humanBytes(m.StoredBytes()), res.Took.Round(time.Millisecond))
		removed, perr := s.prune(ctx, m.Name)
		if perr != nil {
			run.Summary += "; removing old backups failed: " + perr.Error()
			s.Logger.Error("custody: old backups not removed", "to", s.Schedule.To, "err", perr)
		} else if len(removed) > 0 {
			run.Summary += fmt.Sprintf("; %d old backups removed (keep %d)", len(removed), s.Schedule.Keep)
			run.Report = "removed: " + strings.Join(removed, ", ")
		}
		s.Logger.Info("custody: backup taken", "url", res.URL, "events", m.Events, "bytes", m.StoredBytes(), "took", res.Took.Round(time.Millisecond))
	}
	if ferr := FinishRun(context.WithoutCancel(ctx), d, run, s.now()); ferr != nil {
		s.Logger.Error("custody: the outcome of a backup cannot be recorded", "run", id, "err", ferr)
	}
	return run, err
}

// prune deletes the oldest backups of this agency at the destination beyond the number to keep, never the one
// just taken, and returns their names.
func (s *Scheduler) prune(ctx context.Context, just string) ([]string, error) {
	prefix := "sirec-" + s.Store.Region() + "-"
	all, err := ListBackups(ctx, s.Schedule.To, prefix)
	if err != nil {
		return nil, err
	}
	var removed []string
	loc, err := parseLocation("backup-to", s.Schedule.To)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(all)-s.Schedule.Keep; i++ {
		if all[i].Name == just {
			continue
		}
		if err := deleteAll(ctx, loc.child(all[i].Name)); err != nil {
			return removed, fmt.Errorf("remove %s: %w", all[i].Name, err)
		}
		removed = append(removed, all[i].Name)
	}
	return removed, nil
}

// DrillNow runs a restore drill of the newest backup at the destination and keeps its report.
func (s *Scheduler) DrillNow(ctx context.Context, by string) (Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.Store.Driver()
	run := Run{Kind: RunDrill, StartedBy: by, StartedAt: s.now(), URL: s.Schedule.To}
	all, lerr := ListBackups(ctx, s.Schedule.To, "sirec-"+s.Store.Region()+"-")
	if lerr == nil && len(all) > 0 {
		run.URL = all[len(all)-1].URL
	}
	id, err := StartRun(ctx, d, RunDrill, by, run.URL, run.StartedAt)
	if err != nil {
		s.Logger.Error("custody: drill not started: the custody log cannot be written", "err", err)
		return run, err
	}
	run.ID = id
	switch {
	case lerr != nil:
		err = lerr
		run.Status, run.Summary = StatusFailed, "the destination cannot be listed: "+lerr.Error()
	case len(all) == 0:
		err = fmt.Errorf("%w at %s to drill", ErrNoBackup, s.Schedule.To)
		run.Status, run.Summary = StatusFailed, err.Error()
	default:
		var rep *Report
		rep, err = Verify(ctx, run.URL, VerifyOptions{Verifier: s.Store.Keys().Verifier, Identities: s.Schedule.Identities, ScratchDir: s.Schedule.ScratchDir})
		run.Report = rep.Text()
		run.Events, run.Root = rep.Events, rep.Root
		if rep.Manifest != nil {
			run.Bytes = rep.Manifest.StoredBytes()
		}
		if err != nil {
			run.Status, run.Summary = StatusFailed, err.Error()
		} else {
			run.Status = StatusOK
			run.Summary = fmt.Sprintf("restored and proven: %d events, root %s…, %s", rep.Events, rep.Root[:16], rep.Took.Round(time.Millisecond))
		}
	}
	if err != nil {
		s.Logger.Error("custody: RESTORE DRILL FAILED", "backup", run.URL, "run", id, "err", err)
	} else {
		s.Logger.Info("custody: restore drill passed", "backup", run.URL, "events", run.Events)
	}
	if ferr := FinishRun(context.WithoutCancel(ctx), d, run, s.now()); ferr != nil {
		s.Logger.Error("custody: the outcome of a drill cannot be recorded", "run", id, "err", ferr)
	}
	return run, err
}

// Status reads the custody log and judges it against this schedule.
func (s *Scheduler) Status(ctx context.Context) (Status, error) {
	return ReadStatus(ctx, s.Store.Driver(), &s.Schedule, s.now())
}
