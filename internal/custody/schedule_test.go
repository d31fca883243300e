package custody_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"sirec/internal/custody"
	"sirec/internal/store/storetest"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// syncBuffer is a log destination tests read while the scheduler writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestScheduledBackupsAndDrills(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		dest := fileDest(t)
		var logs syncBuffer
		sch := &custody.Scheduler{Store: f.s, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Schedule: custody.Schedule{
			To: dest, Every: time.Hour, Keep: 2, Recipients: []age.Recipient{id.Recipient()}, DrillEvery: time.Hour, Identities: []age.Identity{id}}}
		if err := sch.Schedule.Validate(); err != nil {
			t.Fatal(err)
		}
		// The schedule runs the first backup at once, then the first drill.
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { sch.Run(rctx); close(done) }()
		deadline := time.Now().Add(2 * time.Minute)
		var st custody.Status
		for time.Now().Before(deadline) {
			var err error
			if st, err = sch.Status(ctx); err != nil {
				t.Fatal(err)
			}
			if st.LastGoodDrill != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		<-done
		if st.LastGoodBackup == nil || st.LastGoodDrill == nil || len(st.Alerts) != 0 || st.Metrics.BackupsOK != 1 || st.Metrics.DrillsOK != 1 {
			t.Fatalf("status after the first scheduled runs: %+v", st)
		}
		if st.LastGoodBackup.StartedBy != "schedule" || st.LastGoodDrill.URL != st.LastGoodBackup.URL {
			t.Fatalf("runs: backup %+v drill %+v", st.LastGoodBackup, st.LastGoodDrill)
		}
		drill, err := custody.GetRun(ctx, f.s.Driver(), st.LastGoodDrill.ID)
		if err != nil || !strings.Contains(drill.Report, "ok events=") || !strings.Contains(drill.Report, "figures") {
			t.Fatalf("the drill's report is not kept: %+v %v", drill, err)
		}
		if !strings.Contains(logs.String(), "custody: backup taken") || !strings.Contains(logs.String(), "restore drill passed") {
			t.Fatalf("logs:\n%s", logs.String())
		}

		// Keep 2: a third and fourth backup remove the oldest ones.
		for i := 0; i < 2; i++ {
			if _, err := sch.BackupNow(ctx, "tester"); err != nil {
				t.Fatal(err)
			}
		}
		list, err := custody.ListBackups(ctx, dest, "")
		if err != nil || len(list) != 2 || list[0].URL == st.LastGoodBackup.URL {
			t.Fatalf("kept %v (%v); the first was %s", list, err, st.LastGoodBackup.URL)
		}
		runs, total, err := custody.ListRuns(ctx, f.s.Driver(), custody.RunBackup, 0, 10)
		if err != nil || total != 3 || !strings.Contains(runs[0].Summary, "1 old backups removed (keep 2)") {
			t.Fatalf("runs %+v total %d %v", runs, total, err)
		}

		// A failing destination is loud: a failed run, an error-level log line, an alert, a non-zero metric.
		blocker := filepath.Join(t.TempDir(), "not-a-folder")
		os.WriteFile(blocker, []byte("x"), 0o600)
		sch.Schedule.To = "file://" + blocker + "/sub"
		run, err := sch.BackupNow(ctx, "schedule")
		if err == nil || run.Status != custody.StatusFailed {
			t.Fatalf("backup to a file: %+v %v", run, err)
		}
		if !strings.Contains(logs.String(), "level=ERROR msg=\"custody: BACKUP FAILED\"") {
			t.Fatalf("no error-level log line:\n%s", logs.String())
		}
		st, _ = sch.Status(ctx)
		if !slices.Contains(st.Alerts, "backup_failed") || st.Metrics.BackupFailures != 1 || st.Metrics.BackupConsecutiveFailures != 1 {
			t.Fatalf("status after a failure: %+v", st)
		}
		if !strings.Contains(st.Metrics.Prometheus(), "sirec_backup_failures_total 1\n") {
			t.Fatalf("metrics:\n%s", st.Metrics.Prometheus())
		}
		// A drill with nothing to drill fails loudly too.
		run, err = sch.DrillNow(ctx, "schedule")
		if err == nil || run.Status != custody.StatusFailed || !strings.Contains(logs.String(), "RESTORE DRILL FAILED") {
			t.Fatalf("drill of nothing: %+v %v", run, err)
		}
		st, _ = sch.Status(ctx)
		if !slices.Contains(st.Alerts, "drill_failed") || st.Metrics.DrillFailures != 1 {
			t.Fatalf("status after a failed drill: %+v", st)
		}
		// The next good backup clears the backup alert.
		sch.Schedule.To = dest
		if _, err := sch.BackupNow(ctx, "schedule"); err != nil {
			t.Fatal(err)
		}
		st, _ = sch.Status(ctx)
		if slices.Contains(st.Alerts, "backup_failed") || st.Metrics.BackupConsecutiveFailures != 0 || st.Metrics.BackupFailures != 1 {
			t.Fatalf("status after recovery: %+v", st)
		}
	})
}

func TestScheduleValidate(t *testing.T) {
	id := newIdentity(t)
	cases := []struct {
		name  string
		s     custody.Schedule
		field string
	}{
		{"relative file path", custody.Schedule{To: "file://backups", Every: time.Hour, Keep: 1, Recipients: []age.Recipient{id.Recipient()}}, "backup-to"},
		{"unknown scheme", custody.Schedule{To: "ftp://x/y", Every: time.Hour, Keep: 1, Recipients: []age.Recipient{id.Recipient()}}, "backup-to"},
		{"too often", custody.Schedule{To: "file:///b", Every: time.Second, Keep: 1, Recipients: []age.Recipient{id.Recipient()}}, "backup-every"},
		{"keep none", custody.Schedule{To: "file:///b", Every: time.Hour, Keep: 0, Recipients: []age.Recipient{id.Recipient()}}, "backup-keep"},
		{"no recipient", custody.Schedule{To: "file:///b", Every: time.Hour, Keep: 1}, "backup-recipient"},
		{"drill without identity", custody.Schedule{To: "file:///b", Every: time.Hour, Keep: 1, Recipients: []age.Recipient{id.Recipient()}, DrillEvery: time.Hour}, "backup-identity"},
	}
	for _, tc := range cases {
		err := tc.s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}
