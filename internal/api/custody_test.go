package api_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/custody"
	"sirec/internal/store/storetest"
)

func TestCustodyRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		d := f.st.Driver()
		// A good backup and a failed one, as sirec backup records them.
		for i, status := range []string{custody.StatusOK, custody.StatusFailed} {
			id, err := custody.StartRun(ctx, d, custody.RunBackup, "cli", "file:///offsite", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			run := custody.Run{ID: id, Status: status, URL: "file:///offsite/sirec-" + strconv.Itoa(i), Events: 42, Summary: "test " + status, Report: "report " + status}
			if err := custody.FinishRun(ctx, d, run, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []auth.Post{auth.PostSupervisor, auth.PostSysadmin, auth.PostDBAdmin} {
			r := f.do(t, "GET", "/api/v1/custody?limit=1", f.tokens[p], nil)
			var out struct {
				Status custody.Status
				Runs   []custody.Run
				Total  int
			}
			if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
				t.Fatalf("%s: %d %s", p, r.status, r.body)
			}
			if out.Total != 2 || len(out.Runs) != 1 || out.Runs[0].Status != custody.StatusFailed || out.Status.LastGoodBackup == nil ||
				out.Status.Metrics.BackupFailures != 1 || len(out.Status.Alerts) != 1 || out.Status.Alerts[0] != "backup_failed" {
				t.Fatalf("%s: %s", p, r.body)
			}
			r = f.do(t, "GET", "/api/v1/custody/runs/"+strconv.FormatInt(out.Runs[0].ID, 10), f.tokens[p], nil)
			if r.status != 200 || !strings.Contains(string(r.body), `"report":"report failed"`) {
				t.Fatalf("%s run: %d %s", p, r.status, r.body)
			}
			r = f.do(t, "GET", "/api/v1/custody/metrics", f.tokens[p], nil)
			if r.status != 200 || !strings.HasPrefix(r.ctype, "text/plain") || !strings.Contains(string(r.body), "sirec_backup_failures_total 1\n") {
				t.Fatalf("%s metrics: %d %s", p, r.status, r.body)
			}
		}
		if r := f.do(t, "GET", "/api/v1/custody", f.tokens[auth.PostCollector], nil); r.status != 403 {
			t.Fatalf("collector: %d", r.status)
		}
		if r := f.do(t, "GET", "/api/v1/custody?kind=other", f.tokens[auth.PostDBAdmin], nil); r.status != 422 || !strings.Contains(string(r.body), `"field":"kind"`) {
			t.Fatalf("bad kind: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/custody/runs/999", f.tokens[auth.PostDBAdmin], nil); r.status != 404 {
			t.Fatalf("missing run: %d", r.status)
		}
	})
}
