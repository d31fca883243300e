package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

// TestEmployerConsolePage: staff find an employer by credit code or name, see its registration, its
// employees (masked, each listed one logged with the purpose) and its contributions by period and insurance
// type with totals, filters and exports; the portal shows an employer the same sums of its own.
func TestEmployerConsolePage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		e, err := f.st.Employer(ctx, f.employer)
		if err != nil {
			t.Fatal(err)
		}
		q := f.client(t)
		q.login("console", "query", staffPassword)

		// A purpose is needed; a registered code goes straight to the page.
		if r := q.get("/console/employers?q=" + f.employer); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-purpose"`) {
			t.Errorf("search without purpose: %d", r.status)
		}
		if r := q.get("/console/employers/" + f.employer); r.resp.Request.URL.Path != "/console/employers" {
			t.Errorf("page without purpose ended at %s", r.resp.Request.URL.Path)
		}
		r := q.get("/console/employers?purpose=business&q=" + strings.ToLower(f.employer))
		if r.status != 200 || r.resp.Request.URL.Path != "/console/employers/"+f.employer || !strings.Contains(r.body, e.Name) {
			t.Fatalf("search by code: %d at %s", r.status, r.resp.Request.URL.Path)
		}
		page := r.body
		all, total, err := f.st.Employees(ctx, f.employer, store.EmployeesByName, 0, 1000)
		if err != nil || total == 0 {
			t.Fatalf("fixture employer has no employees: %v", err)
		}
		for _, x := range all {
			if !strings.Contains(page, x.IDMasked) || !strings.Contains(page, web.MaskName(x.Name)) || !strings.Contains(page, "/console/persons/"+x.Person+"?purpose=business") {
				t.Errorf("employee %s not listed masked with a link", x.Person)
			}
		}
		for _, id := range f.ids {
			if strings.Contains(page, id) {
				t.Errorf("full ID number %s on the employer page", record.MaskID(id))
			}
		}
		es, _, err := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Actor: "query"}, 0, 1000)
		if err != nil || len(es) != len(all) || es[0].Page != "console/employer" || es[0].Purpose != "business" {
			t.Errorf("query log of the list: %d entries for %d employees %+v %v", len(es), len(all), es, err)
		}
		// By part of the name.
		r = q.get("/console/employers?purpose=counter&q=" + url.QueryEscape(string([]rune(e.Name)[:2])))
		if r.status != 200 || !strings.Contains(r.body, `id="employer-results"`) || !strings.Contains(r.body, "/console/employers/"+f.employer+"?purpose=counter") {
			t.Errorf("search by name: %d", r.status)
		}
		if r := q.get("/console/employers?purpose=counter&q=" + url.QueryEscape("没有这个单位")); !strings.Contains(r.body, `id="no-results"`) {
			t.Error("no results not said")
		}

		// Contributions: the totals are the store's, for every year and for one.
		_, _, sum, err := f.st.EmployerContributions(ctx, f.employer, store.EmployerContributionsFilter{}, 0, 1)
		if err != nil || sum.Months == 0 {
			t.Fatalf("fixture employer has no contributions: %v", err)
		}
		r = q.get("/console/employers/" + f.employer + "/contributions?purpose=business")
		if r.status != 200 || !strings.Contains(r.body, `id="contributions-total"`) || !strings.Contains(r.body, sum.EmployerAmt.String()) || !strings.Contains(r.body, sum.Base.String()) {
			t.Fatalf("contributions: %d, total %s not shown", r.status, sum.EmployerAmt)
		}
		_, _, y2024, _ := f.st.EmployerContributions(ctx, f.employer, store.EmployerContributionsFilter{Year: 2024, Type: record.Pension}, 0, 1)
		r = q.get("/console/employers/" + f.employer + "/contributions?purpose=business&year=2024&type=pension")
		if !strings.Contains(r.body, y2024.EmployerAmt.String()) || strings.Contains(r.body, "<tr><td>2023") {
			t.Errorf("filtered to 2024 pension: total %s", y2024.EmployerAmt)
		}
		csv := q.get("/console/employers/" + f.employer + "/contributions/export?purpose=business&format=csv")
		if csv.status != 200 || !strings.HasPrefix(csv.resp.Header.Get("Content-Type"), "text/csv") || !strings.Contains(csv.body, "所属期") ||
			!strings.Contains(csv.body, sum.EmployerAmt.String()) {
			t.Errorf("CSV export: %d %q", csv.status, csv.resp.Header.Get("Content-Type"))
		}
		if x := q.get("/console/employers/" + f.employer + "/contributions/export?purpose=business&format=xlsx"); x.status != 200 || !strings.HasPrefix(x.body, "PK") {
			t.Errorf("XLSX export: %d", x.status)
		}
		if x := q.get("/console/employers/" + f.employer + "/contributions/export?purpose=business&format=pdf"); x.status != http.StatusBadRequest {
			t.Errorf("unknown export format: %d", x.status)
		}

		// Administrators read no records (S1); an unknown or malformed code is not found.
		a := f.client(t)
		a.login("console", "sysadmin", staffPassword)
		if r := a.get("/console/employers/" + f.employer + "?purpose=business"); r.status != http.StatusForbidden {
			t.Errorf("sysadmin: %d", r.status)
		}
		if r := q.get("/console/employers/" + newCreditCode("91110105MA0NXNE02") + "?purpose=business"); r.status != http.StatusNotFound {
			t.Errorf("unknown employer: %d", r.status)
		}
		if r := q.get("/console/employers/NOTACODE?purpose=business"); r.status != http.StatusNotFound {
			t.Errorf("malformed code: %d", r.status)
		}

		// The employer's own portal: the same sums, and no one else's.
		p := f.client(t)
		p.login("portal", web.DemoEmployerAccount, portalPassword)
		if r := p.get("/portal/contributions"); r.status != 200 || !strings.Contains(r.body, sum.EmployerAmt.String()) {
			t.Errorf("portal contributions: %d", r.status)
		}
		if r := p.get("/portal/contributions/export?format=csv"); r.status != 200 || !strings.Contains(r.body, sum.EmployerAmt.String()) {
			t.Errorf("portal export: %d", r.status)
		}
		person := f.client(t)
		person.login("portal", web.DemoPersonAccount, portalPassword)
		if r := person.get("/portal/contributions"); r.status != http.StatusForbidden {
			t.Errorf("insured person on the employer's contributions: %d", r.status)
		}
	})
}

// TestPersonSearchByName: a name is searched in the form body, never in a URL; the persons listed are masked
// and each is logged.
func TestPersonSearchByName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		v := f.record(t, 0)
		q := f.client(t)
		q.login("console", "query", staffPassword)
		q.get("/console/persons")
		r := q.submit("/console/persons", url.Values{"name": {v.Name}, "purpose": {"counter"}})
		if r.status != 200 || !strings.Contains(r.body, v.IDMasked) || !strings.Contains(r.body, "/console/persons/"+v.Person+"?purpose=counter") {
			t.Fatalf("search by name: %d", r.status)
		}
		if strings.Contains(r.body, f.ids[0]) {
			t.Error("full ID number in the results")
		}
		for _, u := range q.urls {
			if strings.Contains(u, url.QueryEscape(v.Name)) || strings.Contains(u, v.Name) {
				t.Errorf("name in URL %s", u)
			}
		}
		es, _, err := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Actor: "query", Person: v.Person}, 0, 10)
		if err != nil || len(es) != 1 || es[0].Page != "console/search" || es[0].Purpose != "counter" {
			t.Errorf("listing not logged: %+v %v", es, err)
		}
		if r := q.submit("/console/persons", url.Values{"name": {"查无此人"}, "purpose": {"counter"}}); r.status != http.StatusNotFound || !strings.Contains(r.body, `id="err-name"`) {
			t.Errorf("unknown name: %d", r.status)
		}
		if r := q.submit("/console/persons", url.Values{"purpose": {"counter"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-id_number"`) {
			t.Errorf("neither ID number nor name: %d", r.status)
		}
	})
}

// TestPersonPageSections: the console's person page shows every part of the record — subsidies, deemed
// periods, transfers, other information — links each year to its months, and shows maintainers the events to
// correct.
func TestPersonPageSections(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	ctx := context.Background()
	id := f.ids[10]
	ref := record.PersonRef{IDNumber: id}
	if _, err := f.st.Record(ctx, "test", []record.Fact{
		&record.SubsidyGranted{PersonRef: ref, Amount: 12345, Kind: "灵活就业补贴", Period: 202401, Type: record.Pension},
		&record.DeemedRecorded{PersonRef: ref, Basis: "国企工龄", From: 199001, To: 199512},
		&record.AccountTransferred{PersonRef: ref, Amount: 500000, Direction: "in", OtherRegion: "310101", Period: 202301},
		&record.OtherRecorded{PersonRef: ref, Kind: "劳动模范", Attributes: map[string]string{"级别": "市级"}},
	}); err != nil {
		t.Fatal(err)
	}
	key := f.key(t, 10)
	q := f.client(t)
	q.login("console", "query", staffPassword)
	r := q.get("/console/persons/" + key + "?purpose=counter")
	for _, want := range []string{`id="subsidies"`, "123.45", "灵活就业补贴", `id="deemed"`, "国企工龄", `id="transfers"`, "5000.00", "310101", `id="others"`, "市级", `id="year-links"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("person page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "/console/intake/maintenance?supersedes=") {
		t.Error("correction links shown to a query user")
	}
	m := f.client(t)
	m.login("console", "maintainer", staffPassword)
	if r := m.get("/console/persons/" + key + "?purpose=business"); !strings.Contains(r.body, "/console/intake/maintenance?supersedes=") {
		t.Error("no correction links for a maintainer")
	}
	months := q.get("/console/persons/" + key + "/contributions?purpose=counter&year=2024")
	v := f.record(t, 10)
	n := 0
	for _, c := range v.Contributions {
		if c.Period.Year() == 2024 {
			n++
		}
	}
	if months.status != 200 || strings.Count(months.body, "<tr><td>") != n+len(yearsOf(v, 2024)) {
		t.Errorf("months of 2024: %d, %d rows for %d contributions", months.status, strings.Count(months.body, "<tr><td>"), n)
	}
	es, _, _ := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Actor: "query", Person: key}, 0, 10)
	if len(es) != 2 || es[0].Page != "console/person_contributions" {
		t.Errorf("month view not logged: %+v", es)
	}
	if r := q.get("/console/persons/" + key + "/contributions?purpose=counter&year=abc"); r.status != http.StatusNotFound {
		t.Errorf("bad year: %d", r.status)
	}
}

// yearsOf counts the insurance types with contributions in a year: the rows of the year table.
func yearsOf(v *store.PersonView, year int) map[string]bool {
	out := map[string]bool{}
	for _, c := range v.Contributions {
		if c.Period.Year() == year {
			out[c.Type] = true
		}
	}
	return out
}

// TestJournalPage: the checkpoint page shows the signed checkpoint and the verifier key; a supervisor verifies
// now, in the background, and the outcome is kept and shown there and on the dashboard; a projection changed
// behind the application's back makes the next run fail, named; a schedule verifies on its own.
func TestJournalPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		s := f.client(t)
		s.login("console", "supervisor", staffPassword)
		r := s.get("/console/journal")
		cp, note, err := f.st.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 200 || !strings.Contains(r.body, strings.Split(string(note), "\n")[0]) || !strings.Contains(r.body, `id="verifier-key"`) ||
			!strings.Contains(r.body, `id="no-runs"`) || !strings.Contains(r.body, `id="verify-now"`) {
			t.Fatalf("journal page: %d\n%s", r.status, r.body)
		}
		// Collectors see the page but do not start verifications.
		c := f.client(t)
		c.login("console", "collector", staffPassword)
		if r := c.get("/console/journal"); r.status != 200 || strings.Contains(r.body, `id="verify-now"`) {
			t.Errorf("collector's journal page: %d", r.status)
		}
		if r := c.submit("/console/journal/verify", url.Values{}); r.status != http.StatusForbidden {
			t.Errorf("collector started a verification: %d", r.status)
		}

		run := verifyNow(t, f, s)
		if !run.OK || run.Events != int64(cp.Size) || run.Actor != "supervisor" {
			t.Fatalf("verification: %+v", run)
		}
		if r := s.get("/console/journal"); !strings.Contains(r.body, `id="verify-runs"`) || !strings.Contains(r.body, "通过") {
			t.Error("run not listed")
		}
		if r := s.get("/console/"); !strings.Contains(r.body, `id="verify-result">通过`) {
			t.Error("dashboard does not show the latest verification")
		}
		// Tampered projection: the next run fails and says which row.
		env.Raw("UPDATE contributions SET wage = wage + 1 WHERE seq = (SELECT MIN(seq) FROM contributions)")
		run = verifyNow(t, f, s)
		if run.OK || !strings.Contains(run.Message, "contributions") {
			t.Fatalf("tampered: %+v", run)
		}
		if r := s.get("/console/"); !strings.Contains(r.body, `id="verify-result">未通过`) || !strings.Contains(r.body, "contributions") {
			t.Error("dashboard does not show the failure")
		}
	})
}

// verifyNow presses "verify now" and waits for the outcome.
func verifyNow(t *testing.T, f *fixture, c *client) web.VerifyRun {
	t.Helper()
	ctx := context.Background()
	before, _, _ := web.ListVerifyRuns(ctx, f.st.Driver(), 0, 1000)
	c.get("/console/journal")
	if r := c.submit("/console/journal/verify", url.Values{}); r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
		t.Fatalf("verify now: %d", r.status)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runs, _, err := web.ListVerifyRuns(ctx, f.st.Driver(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > len(before) {
			return runs[0]
		}
	}
	t.Fatal("no verification recorded")
	return web.VerifyRun{}
}

func TestScheduledVerify(t *testing.T) {
	f := newFixtureOn(t, storetest.New(t, "sqlite"), func(c *web.Config) { c.VerifyEvery = 100 * time.Millisecond })
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runs, _, err := web.ListVerifyRuns(ctx, f.st.Driver(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) > 0 {
			if runs[0].Actor != web.VerifyBySchedule || !runs[0].OK {
				t.Errorf("scheduled run: %+v", runs[0])
			}
			return
		}
	}
	t.Fatal("no scheduled verification within a minute")
}
