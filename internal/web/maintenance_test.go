package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
	"sirec/internal/workitem"
)

var itemLink = regexp.MustCompile(`href="/console/workitems/(W\d{6})"`)

// TestWorkItemPages runs the checks from the console, finds the planted fault as a work item, and closes it by a
// dismissal proposed by a maintainer and approved by a reviewer.
func TestWorkItemPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		var runner *check.Runner
		f := newFixtureOn(t, env, func(c *web.Config) {
			runner = &check.Runner{Store: c.Store, Items: workitem.New(c.Store, c.Auth), Base: c.Context}
			c.Checks = runner
		})
		// A month withdrawn from demo person 1's pension contributions: a gap the checks find.
		v, err := f.st.PersonRecord(ctx, f.key(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		var pension []int64
		for _, c := range v.Contributions {
			if c.Type == record.Pension {
				pension = append(pension, c.Seq)
			}
		}
		if len(pension) < 3 {
			t.Fatalf("demo person 1 has %d pension months", len(pension))
		}
		seq := pension[len(pension)/2]
		if _, err := f.st.Correct(ctx, "test:plant", seq, &record.EventVoided{Reason: "plant"}); err != nil {
			t.Fatal(err)
		}

		m := f.client(t)
		m.login("console", "maintainer", staffPassword)
		m.get("/console/checks")
		if r := m.submit("/console/checks/run", url.Values{}); r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("run now: %d\n%s", r.status, r.body)
		}
		runner.Wait()
		r := m.get("/console/checks")
		if !strings.Contains(r.body, `id="run-status"`) || strings.Contains(r.body, "http-equiv=\"refresh\"") {
			t.Fatalf("checks page after the run:\n%s", r.body)
		}
		// The work items page lists the fault by masked ID number, never the number in clear.
		r = m.get("/console/workitems")
		if r.status != 200 || !strings.Contains(r.body, "missing_months") || !strings.Contains(r.body, record.MaskID(f.ids[1])) {
			t.Fatalf("work items page:\n%s", r.body)
		}
		for _, id := range f.ids {
			if strings.Contains(r.body, id) {
				t.Fatalf("a full ID number on the work items page")
			}
		}
		link := itemLink.FindStringSubmatch(r.body)
		if link == nil {
			t.Fatal("no item linked")
		}
		item := "/console/workitems/" + link[1]
		if r := m.get("/console/workitems/export?format=csv"); r.status != 200 || !strings.Contains(r.body, link[1]) || strings.Contains(r.body, f.ids[1]) {
			t.Fatalf("export: %d %q", r.status, r.body)
		}

		// The maintainer is offered the form the item calls for: a missing month is a contribution to record.
		r = m.get(item)
		start := regexp.MustCompile(`href="([^"]+)" id="start-maintenance"`).FindStringSubmatch(r.body)
		if start == nil || html.UnescapeString(start[1]) != "/console/intake/maintenance?fact_type="+record.TypeContributionPosted {
			t.Fatalf("start link: %v", start)
		}
		if r := m.get(html.UnescapeString(start[1])); r.status != 200 || !strings.Contains(r.body, `id="period"`) {
			t.Fatalf("the form the item calls for: %d", r.status)
		}

		// Propose a dismissal; the proposer cannot decide it (the form is not even offered to a maintainer).
		m.get(item)
		if r := m.submit(item+"/dismissal", url.Values{"grounds": {workitem.GroundsNotAFault}, "reason": {""}}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("dismissal without a reason: %d", r.status)
		}
		m.get(item)
		if r := m.submit(item+"/dismissal", url.Values{"grounds": {workitem.GroundsNotAFault}, "reason": {"该月停薪留职，无需缴费"}}); r.status != 200 || !strings.Contains(r.body, `id="item-proposal"`) {
			t.Fatalf("propose: %d\n%s", r.status, r.body)
		}
		if strings.Contains(m.last, `id="approve-dismissal"`) {
			t.Fatal("the proposer is offered the decision")
		}
		// A reviewer decides: approval needs the confirmation box.
		a := f.client(t)
		a.login("console", "approver", staffPassword)
		if r := a.get(item); !strings.Contains(r.body, `id="approve-dismissal"`) || strings.Contains(r.body, `id="start-maintenance"`) {
			t.Fatalf("the approver is not offered the decision:\n%s", r.body)
		}
		if r := a.submit(item+"/decision", url.Values{"decision": {"approve"}}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("approval without confirmation: %d", r.status)
		}
		a.get(item)
		r = a.submit(item+"/decision", url.Values{"decision": {"approve"}, "confirm": {"yes"}})
		if r.status != 200 || !strings.Contains(r.body, `data-action="dismissal_approved"`) {
			t.Fatalf("approve: %d\n%s", r.status, r.body)
		}
		// A query user sees no work items; every view of the item was logged with its person.
		q := f.client(t)
		q.login("console", "query", staffPassword)
		if r := q.get(item); r.status != http.StatusForbidden {
			t.Fatalf("query user: %d", r.status)
		}
		es, _, err := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Person: f.key(t, 1)}, 0, 100)
		if err != nil || len(es) == 0 || es[0].Page != "console/workitem" {
			t.Fatalf("query log: %+v %v", es, err)
		}
	})
}

// TestArchiveAndUserPages lists and downloads archived materials, refuses a changed one, and files an outside
// helper's confidentiality agreement so that the helper can be enabled.
func TestArchiveAndUserPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixtureOn(t, env)
		rv := review.New(f.st)
		sha, err := rv.AddMaterial(ctx, []byte("%PDF 工资表原件"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := rv.Submit(ctx, review.Actor{User: "maintainer", Posts: []string{"maintainer"}}, review.Submission{Kind: review.Maintenance,
			Reason: "补录", Method: "依工资表补录", Materials: []review.Material{{SHA256: sha, Name: "工资表.pdf"}},
			Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: f.ids[2], Data: json.RawMessage(`{"period":"202301","type":"pension","status":"paid","wage":600000}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		s := f.client(t)
		s.login("console", "supervisor", staffPassword)
		// By person: the ID number goes in the form body; the page shows the person's materials.
		s.get("/console/archive")
		r := s.submit("/console/archive", url.Values{"id_number": {f.ids[2]}, "purpose": {"supervision"}})
		if r.status != 200 || !strings.Contains(r.body, "工资表.pdf") || !strings.Contains(r.body, d.Number) || strings.Contains(r.resp.Request.URL.String(), f.ids[2]) {
			t.Fatalf("archive by person: %d %s\n%s", r.status, r.resp.Request.URL, r.body)
		}
		if r := s.get("/console/archive/materials/" + sha + "?draft=" + d.Number); r.status != 200 || r.body != "%PDF 工资表原件" || r.resp.Header.Get("X-Content-SHA256") != sha {
			t.Fatalf("download: %d %q", r.status, r.body)
		}
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + sha + "'")
		if r := s.get("/console/archive/materials/" + sha); r.status != http.StatusConflict || strings.Contains(r.body, "forged") || !strings.Contains(r.body, "SHA-256") {
			t.Fatalf("changed material: %d\n%s", r.status, r.body)
		}
		// The system administrator sets retention (shortening must be confirmed) and manages outside helpers.
		a := f.client(t)
		a.login("console", "sysadmin", staffPassword)
		if r := a.get("/console/archive"); r.status != http.StatusForbidden {
			t.Fatalf("sysadmin read the archive: %d", r.status)
		}
		a.get("/console/archive/retention")
		if r := a.submit("/console/archive/retention", url.Values{"type": {"maintenance"}, "years": {"30"}, "reason": {"档案保管期限表"}}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("shortened without confirmation: %d", r.status)
		}
		a.get("/console/archive/retention")
		if r := a.submit("/console/archive/retention", url.Values{"type": {"maintenance"}, "years": {"30"}, "reason": {"档案保管期限表"}, "confirm": {"yes"}}); r.status != 200 || !strings.Contains(r.body, "档案保管期限表") {
			t.Fatalf("retention: %d\n%s", r.status, r.body)
		}
		cfg := auth.DefaultConfig()
		cfg.Argon2 = cheap
		users := auth.New(f.st.Driver(), cfg)
		if _, err := users.AddUser(ctx, auth.NewUser{Username: "waibao", DisplayName: "外包工程师", Password: staffPassword, Posts: []auth.Post{auth.PostMaintainer}, External: true}, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
		a.get("/console/users/waibao")
		if r := a.submit("/console/users/waibao/enable", url.Values{}); r.status != http.StatusConflict || !strings.Contains(r.body, "R11.2") {
			t.Fatalf("enabled without an agreement: %d\n%s", r.status, r.body)
		}
		today := time.Now().Format("2006-01-02")
		a.get("/console/users/waibao")
		r = a.submitFiles("/console/users/waibao/agreements", url.Values{"signed_on": {today}, "expires_on": {"2020-01-01"}}, map[string]map[string][]byte{"document": {"保密协议.pdf": []byte("%PDF 保密协议")}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-expires_on"`) {
			t.Fatalf("expired agreement: %d\n%s", r.status, r.body)
		}
		r = a.submitFiles("/console/users/waibao/agreements", url.Values{"signed_on": {today}, "expires_on": {"2099-12-31"}}, map[string]map[string][]byte{"document": {"保密协议.pdf": []byte("%PDF 保密协议")}})
		if r.status != 200 || !strings.Contains(r.body, "保密协议.pdf") {
			t.Fatalf("agreement: %d\n%s", r.status, r.body)
		}
		if r := a.submit("/console/users/waibao/enable", url.Values{}); r.status != 200 || strings.Contains(r.body, `<strong class="bad">`) {
			t.Fatalf("enable: %d\n%s", r.status, r.body)
		}
		w := f.client(t)
		w.login("console", "waibao", staffPassword)
	})
}
