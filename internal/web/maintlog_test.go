package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store/storetest"
)

// TestMaintenanceLogPage: the maintenance log (R12) is searched by person, type and dates, paged and exported on
// the console; each person shown or exported is in the query log first (Q7); a bad filter is named beside its
// field; posts outside the business and supervision see nothing.
func TestMaintenanceLogPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		rv := review.New(f.st)
		rc := f.reviewerClients(t)
		maintainer := review.Actor{User: "maintainer", Posts: []string{"maintainer"}}
		change := func(i int, name, reason string) string {
			t.Helper()
			d, err := rv.Submit(ctx, maintainer, review.Submission{Kind: review.Maintenance, Reason: reason, Method: "依户口簿更正姓名",
				Facts: []review.DraftFact{{Type: record.TypePersonChanged, IDNumber: f.ids[i], Data: json.RawMessage(`{"name":"` + name + `","reason":"更正姓名"}`)}}})
			if err != nil {
				t.Fatal(err)
			}
			f.approveAll(t, rc, d.Number)
			return d.Number
		}
		first := change(0, "更正甲", "姓名录入错误（甲）")
		second := change(1, "更正乙", "姓名录入错误（乙）")
		key0, key1 := f.key(t, 0), f.key(t, 1)

		sup := f.client(t)
		sup.login("console", "supervisor", staffPassword)
		r := sup.get("/console/maintenance/log")
		if r.status != http.StatusOK || !strings.Contains(r.body, `href="/console/drafts/`+first+`"`) || !strings.Contains(r.body, `href="/console/drafts/`+second+`"`) ||
			!strings.Contains(r.body, "姓名录入错误（甲）") || !strings.Contains(r.body, "更正乙") {
			t.Fatalf("the log page: %d", r.status)
		}
		if strings.Index(r.body, second) > strings.Index(r.body, first) {
			t.Error("the log is not newest first")
		}
		for _, key := range []string{key0, key1} {
			es, _, err := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: key, Actor: "supervisor"}, 0, 10)
			if err != nil || len(es) != 1 || es[0].Page != "console/maintenance_log" || es[0].Purpose != "supervision" {
				t.Fatalf("query log of the page for %s: %+v %v", key, es, err)
			}
		}
		// Filters: by person, by type, by dates.
		if r := sup.get("/console/maintenance/log?person=" + key1); !strings.Contains(r.body, second) || strings.Contains(r.body, first) {
			t.Error("the person filter")
		}
		if r := sup.get("/console/maintenance/log?type=contribution.posted"); !strings.Contains(r.body, `id="maintlog-empty"`) {
			t.Error("the type filter")
		}
		// Today in any time zone lies between yesterday and tomorrow in UTC.
		yesterday, tomorrow := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02"), time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
		if r := sup.get("/console/maintenance/log?type=person.changed&from=" + yesterday + "&to=" + tomorrow); !strings.Contains(r.body, first) || !strings.Contains(r.body, second) {
			t.Error("the date filter drops today's entries")
		}
		if r := sup.get("/console/maintenance/log?to=" + yesterday); !strings.Contains(r.body, `id="maintlog-empty"`) {
			t.Error("the date filter keeps entries after its end")
		}
		if r := sup.get("/console/maintenance/log?from=2020-13-01"); r.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="err-from">[^<]+`).MatchString(r.body) {
			t.Errorf("a bad date: %d", r.status)
		}
		if r := sup.get("/console/maintenance/log?from=2024-05-02&to=2024-05-01"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-to"`) {
			t.Errorf("dates in the wrong order: %d", r.status)
		}
		// Export: one row per change, the persons logged.
		r = sup.get("/console/maintenance/log/export?format=csv&person=" + key0)
		if r.status != http.StatusOK || !strings.Contains(r.body, "姓名录入错误（甲）") || strings.Contains(r.body, "姓名录入错误（乙）") || strings.Count(strings.TrimSpace(r.body), "\n") != 1 {
			t.Fatalf("export: %d\n%s", r.status, r.body)
		}
		if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: key0, Actor: "supervisor"}, 0, 10); len(es) == 0 || es[0].Page != "console/maintenance_log_export" {
			t.Errorf("the export is not in the query log: %+v", es)
		}
		if r := sup.get("/console/maintenance/log/export?format=pdf"); r.status != http.StatusUnprocessableEntity {
			t.Errorf("export as pdf: %d", r.status)
		}
		// The person's page links to their entries for those who may read the log, not for a query user.
		if r := sup.get("/console/persons/" + key0 + "?purpose=supervision"); !strings.Contains(r.body, `href="/console/maintenance/log?person=`+key0+`" id="person-maintlog"`) {
			t.Error("the person's page does not link to their maintenance log entries")
		}
		q := f.client(t)
		q.login("console", "query", staffPassword)
		if r := q.get("/console/persons/" + key0 + "?purpose=counter"); r.status != http.StatusOK || strings.Contains(r.body, `id="person-maintlog"`) {
			t.Errorf("a query user's person page: %d, link shown: %v", r.status, strings.Contains(r.body, `id="person-maintlog"`))
		}
		// Posts outside the business and supervision.
		for _, user := range []string{"sysadmin", "query"} {
			c := f.client(t)
			c.login("console", user, staffPassword)
			if r := c.get("/console/maintenance/log"); r.status != http.StatusForbidden {
				t.Errorf("%s: %d", user, r.status)
			}
		}
	})
}
