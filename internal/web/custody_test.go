package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"sirec/internal/custody"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

func TestCustodyPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		dest := (&url.URL{Scheme: "file", Path: filepath.Join(t.TempDir(), "offsite")}).String()
		var sch *custody.Scheduler
		f := newFixtureOn(t, env, func(c *web.Config) {
			sch = &custody.Scheduler{Store: c.Store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Schedule: custody.Schedule{
				To: dest, Every: time.Hour, Keep: 3, Recipients: []age.Recipient{id.Recipient()}, DrillEvery: 24 * time.Hour, Identities: []age.Identity{id}}}
			c.Custody = sch
		})
		backup, err := sch.BackupNow(ctx, "schedule")
		if err != nil {
			t.Fatal(err)
		}
		drill, err := sch.DrillNow(ctx, "schedule")
		if err != nil {
			t.Fatal(err)
		}
		// Read-only for supervision and the information unit; no one else sees it.
		for _, post := range []string{"supervisor", "sysadmin", "dbadmin"} {
			c := f.client(t)
			c.login("console", post, staffPassword)
			if !strings.Contains(c.last, `href="/console/custody"`) {
				t.Fatalf("%s: no link to the custody page", post)
			}
			r := c.get("/console/custody")
			if r.status != 200 || !strings.Contains(r.body, backup.URL) || !strings.Contains(r.body, `id="custody-runs"`) || strings.Contains(r.body, "custody-alert") ||
				!strings.Contains(r.body, "备份与恢复演练") || strings.Contains(r.body, "<form method=\"post\" action=\"/console/custody") {
				t.Fatalf("%s: custody page %d\n%s", post, r.status, r.body)
			}
		}
		for _, post := range []string{"collector", "query", "approver"} {
			c := f.client(t)
			c.login("console", post, staffPassword)
			if strings.Contains(c.last, `href="/console/custody"`) {
				t.Fatalf("%s sees the custody link", post)
			}
			if r := c.get("/console/custody"); r.status != 403 {
				t.Fatalf("%s: custody page %d", post, r.status)
			}
		}
		c := f.client(t)
		c.login("console", "dbadmin", staffPassword)
		r := c.get("/console/custody/runs/" + strconv.FormatInt(drill.ID, 10))
		if r.status != 200 || !strings.Contains(r.body, `id="run-report"`) || !strings.Contains(r.body, "ok events=") {
			t.Fatalf("drill report page %d\n%s", r.status, r.body)
		}
		if r := c.get("/console/custody/runs/99999"); r.status != 404 {
			t.Fatalf("missing run: %d", r.status)
		}
		// A failed backup puts a banner at the top and counts in the metrics.
		blocker := filepath.Join(t.TempDir(), "file")
		os.WriteFile(blocker, []byte("x"), 0o600)
		sch.Schedule.To = "file://" + blocker + "/x"
		if _, err := sch.BackupNow(ctx, "schedule"); err == nil {
			t.Fatal("a backup into a file succeeded")
		}
		r = c.get("/console/custody")
		if !strings.Contains(r.body, `id="custody-alert"`) || !strings.Contains(r.body, `data-alert="backup_failed"`) || !strings.Contains(r.body, `<dd id="backup-failures">1</dd>`) {
			t.Fatalf("no banner after a failed backup:\n%s", r.body)
		}
		r = c.get("/console/custody?kind=drill")
		if strings.Contains(r.body, ">"+strconv.FormatInt(backup.ID, 10)+"</a>") || !strings.Contains(r.body, ">"+strconv.FormatInt(drill.ID, 10)+"</a>") {
			t.Fatalf("filter by kind:\n%s", r.body)
		}
	})
}
