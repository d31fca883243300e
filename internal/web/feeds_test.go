package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/institution"
	"sirec/internal/record"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
	"sirec/internal/workitem"
)

func TestFeedPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		c := f.client(t)
		c.login("console", "collector", staffPassword)
		if r := c.get("/console/feeds"); r.status != 200 || !strings.Contains(r.body, `id="feed-form"`) || !strings.Contains(r.body, `href="/console/feeds"`) {
			t.Fatalf("feeds page: %d\n%s", r.status, r.body)
		}
		// A bad file: every bad row listed with its line, field and rule; nothing imported.
		r := c.submitFiles("/console/feeds", url.Values{"kind": {"civil_affairs"}}, map[string]map[string][]byte{"file": {"bad.csv": []byte(
			"id_number,name,event,date\n" + f.ids[0] + ",某,birth,2024-01-01\n" + f.ids[1] + ",某,death,2024-02-30\n")}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "line 2.event") || !strings.Contains(r.body, "line 3.date") ||
			!strings.Contains(r.body, "feed_event") || !strings.Contains(r.body, `id="no-feeds"`) {
			t.Fatalf("bad file: %d\n%s", r.status, r.body)
		}
		if strings.Contains(r.body, f.ids[0]) {
			t.Fatal("the page shows an ID number in clear")
		}
		good := []byte("id_number,name,event,date\n" + f.ids[0] + ",,death,2023-06-15\n")
		r = c.submitFiles("/console/feeds", url.Values{"kind": {"civil_affairs"}}, map[string]map[string][]byte{"file": {"deaths.csv": good}})
		if r.status != 200 || r.resp.Request.URL.Path != "/console/feeds/F000001" || !strings.Contains(r.body, `id="reconcile-form"`) {
			t.Fatalf("import: %d at %s\n%s", r.status, r.resp.Request.URL.Path, r.body)
		}
		// The same file again is refused, naming the feed.
		c.get("/console/feeds")
		r = c.submitFiles("/console/feeds", url.Values{"kind": {"civil_affairs"}}, map[string]map[string][]byte{"file": {"again.csv": good}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "F000001") {
			t.Fatalf("second import: %d\n%s", r.status, r.body)
		}
		c.get("/console/feeds/F000001")
		r = c.submit("/console/feeds/F000001/reconcile", url.Values{})
		if r.status != 200 || r.resp.Request.URL.Path != "/console/reconciliations/R000001" {
			t.Fatalf("reconcile: %d at %s", r.status, r.resp.Request.URL.Path)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(r.body, `<dd id="run-status">已完成</dd>`) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			r = c.get("/console/reconciliations/R000001")
		}
		if !strings.Contains(r.body, `<dd id="run-status">已完成</dd>`) || !strings.Contains(r.body, "死亡未登记") || !strings.Contains(r.body, `id="differences"`) {
			t.Fatalf("run page:\n%s", r.body)
		}
		m := regexp.MustCompile(`<dd id="run-differences">(\d+)</dd>`).FindStringSubmatch(r.body)
		if m == nil || m[1] == "0" {
			t.Fatalf("no differences counted:\n%s", r.body)
		}
		// The persons the page showed are in the query log (Q7).
		es, _, err := web.ListQueries(context.Background(), f.st.Driver(), web.QueryFilter{Actor: "collector"}, 0, 100)
		if err != nil || !slices.ContainsFunc(es, func(e web.QueryEntry) bool { return e.Page == "console/reconciliation" && e.Person == f.key(t, 0) }) {
			t.Fatalf("query log: %+v %v", es, err)
		}
		r = c.get("/console/reconciliations/R000001?kind=death_not_recorded&sort=-severity")
		if r.status != 200 || strings.Count(r.body, "<tr><td class=\"num\">") != 1 {
			t.Fatalf("filtered: %d\n%s", r.status, r.body)
		}
		r = c.get("/console/reconciliations/R000001/export?format=csv&kind=death_not_recorded")
		if r.status != 200 || !strings.HasPrefix(r.body, "\ufeff") || strings.Count(r.body, "\n") != 2 {
			t.Fatalf("export: %d %q", r.status, r.body)
		}
		// The differences are work items of the feed's source.
		items := workitem.New(f.st, nil)
		if _, n, err := items.List(context.Background(), workitem.Filter{Source: "feed:F000001"}, workitem.Sort{By: "id"}, 0, 10); err != nil || n == 0 {
			t.Fatalf("work items: %d %v", n, err)
		}
		// Who sees and who acts.
		for _, tc := range []struct {
			user, path string
			status     int
		}{
			{"supervisor", "/console/reconciliations/R000001", 200},
			{"query", "/console/feeds", 403},
			{"sysadmin", "/console/reconciliations/R000001", 403},
			{"approver", "/console/submissions", 200},
		} {
			o := f.client(t)
			o.login("console", tc.user, staffPassword)
			if r := o.get(tc.path); r.status != tc.status {
				t.Errorf("%s GET %s: %d, want %d", tc.user, tc.path, r.status, tc.status)
			}
		}
		s := f.client(t)
		s.login("console", "supervisor", staffPassword)
		if r := s.get("/console/feeds/F000001"); strings.Contains(r.body, `id="reconcile-form"`) {
			t.Error("a supervisor is offered the reconcile button")
		}
		if r := s.submit("/console/feeds/F000001/reconcile", url.Values{}); r.status != 403 {
			t.Errorf("supervisor reconciles: %d", r.status)
		}
	})
}

func TestSubmissionsPage(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	ctx := context.Background()
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	svc := institution.New(f.st, auth.New(f.st.Driver(), cfg), nil)
	code := "91110105MA0000001" + string(record.USCCCheckChar("91110105MA0000001"))
	if _, err := svc.Add(ctx, institution.NewInstitution{Code: code, Kind: "medical", Name: "某医院", Agreement: "YL-1", AgreementUntil: "2099-12-31"}, "sysadmin"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Submit(ctx, institution.Username(code), "medical", "k-1", []byte(`{"rows":[{"id_number":"`+f.ids[2]+
		`","document":"M-1","settled_on":"2024-01-05","category":"outpatient","total":"50.00","fund_paid":"40.00","self_paid":"10.00"}]}`)); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	c.login("console", "initial_reviewer", staffPassword)
	r := c.get("/console/submissions")
	if r.status != 200 || !strings.Contains(r.body, "某医院") || !strings.Contains(r.body, "S000001") || !strings.Contains(r.body, "审核中") {
		t.Fatalf("submissions page: %d\n%s", r.status, r.body)
	}
}
