package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/demo"
	"sirec/internal/querylog"
	"sirec/internal/queryuse"
	"sirec/internal/store/storetest"
)

const quSeed = 4

// quFixture is the API fixture with a small demo dataset and one stored material.
func quFixture(t *testing.T, env *storetest.Env) (*fixture, []string, string) {
	t.Helper()
	f := newFixture(t, env)
	if _, err := demo.Generate(context.Background(), f.st, demo.Options{Persons: 8, Seed: quSeed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 8 {
		ids = append(ids, demo.IDNumber(quSeed, i))
	}
	r := f.do(t, "POST", "/api/v1/materials", f.tokens[auth.PostCollector], []byte("scanned document"))
	var m struct{ SHA256 string }
	json.Unmarshal(r.body, &m)
	if r.status != 201 {
		t.Fatalf("material: %d %s", r.status, r.body)
	}
	return f, ids, m.SHA256
}

func decode[T any](t *testing.T, r response, status int) T {
	t.Helper()
	var v T
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return v
}

func TestCertificatesOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f, ids, _ := quFixture(t, env)
		c := decode[struct {
			Number string
			Code   string
			Lines  []struct{ Type string }
		}](t, f.do(t, "POST", "/api/v1/certificates", f.tokens[auth.PostQuery],
			[]byte(`{"id_number":"`+ids[1]+`","kind":"contributions","from":"202301","to":"202412"}`)), 201)
		if c.Number == "" || len(c.Code) != 19 {
			t.Fatalf("issued: %+v", c)
		}
		// The public check: no credentials.
		res := decode[struct {
			Status      string
			Certificate *struct{ Number string }
			Proof       *struct{ Events int }
		}](t, f.do(t, "POST", "/api/v1/certificates/verify", "", []byte(`{"code":"`+c.Code+`"}`)), 200)
		if res.Status != "valid" || res.Certificate == nil || res.Certificate.Number != c.Number || res.Proof == nil {
			t.Fatalf("check: %+v", res)
		}
		forged := strings.Replace(c.Code, c.Code[:4], "ZZZZ", 1)
		if c.Code[:4] == "ZZZZ" {
			forged = strings.Replace(c.Code, "ZZZZ", "0000", 1)
		}
		r := f.do(t, "POST", "/api/v1/certificates/verify", "", []byte(`{"code":"`+forged+`"}`))
		if r.status != 200 || strings.Contains(string(r.body), `"certificate"`) || !strings.Contains(string(r.body), `"status":"`) ||
			strings.Contains(string(r.body), `"valid"`) {
			t.Fatalf("altered code: %s", r.body)
		}
		// The PDF carries the code; revoking makes the check fail.
		if r := f.do(t, "GET", "/api/v1/certificates/"+c.Number, f.tokens[auth.PostSupervisor], nil); r.status != 200 || !strings.Contains(string(r.body), c.Code) {
			t.Errorf("get: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", "/api/v1/certificates/"+c.Number+"/revoke", f.tokens[auth.PostMaintainer], []byte(`{"reason":"出具有误"}`)); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", "/api/v1/certificates/verify", "", []byte(`{"code":"`+c.Code+`"}`)); !strings.Contains(string(r.body), `"revoked"`) {
			t.Errorf("after revoke: %s", r.body)
		}
		// The public check is limited per client address.
		limited := false
		for range 30 {
			if r := f.do(t, "POST", "/api/v1/certificates/verify", "", []byte(`{"code":"x"}`)); r.status == 429 {
				limited = true
				break
			}
		}
		if !limited {
			t.Error("no limit on the public check")
		}
	})
}

func TestObjectionsProxiesAndApplicationsOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f, ids, sha := quFixture(t, env)
		ctx := context.Background()
		mat := `[{"sha256":"` + sha + `","name":"证明材料.pdf","content_type":"application/pdf"}]`

		// An objection filed at the counter, re-checked and answered by a maintainer.
		o := decode[struct{ Number, Status string }](t, f.do(t, "POST", "/api/v1/objections", f.tokens[auth.PostCollector],
			[]byte(`{"id_number":"`+ids[0]+`","subject":"2024年缴费基数","description":"本人称2024年缴费基数低于实际工资，提交工资流水。","materials":`+mat+`}`)), 201)
		if o.Status != "open" {
			t.Fatalf("filed: %+v", o)
		}
		list := decode[struct{ Total, Overdue int }](t, f.do(t, "GET", "/api/v1/objections?status=active", f.tokens[auth.PostSupervisor], nil), 200)
		if list.Total != 1 || list.Overdue != 0 {
			t.Errorf("list: %+v", list)
		}
		if r := f.do(t, "POST", "/api/v1/objections/"+o.Number+"/answer", f.tokens[auth.PostMaintainer], []byte(`{"answer":"短"}`)); r.status != 422 {
			t.Errorf("answer without reasons: %d", r.status)
		}
		o = decode[struct{ Number, Status string }](t, f.do(t, "POST", "/api/v1/objections/"+o.Number+"/answer", f.tokens[auth.PostMaintainer],
			[]byte(`{"answer":"经核对单位工资台账和银行流水，2024年申报工资与实发工资一致。"}`)), 200)
		if o.Status != "answered" {
			t.Errorf("answered: %+v", o)
		}
		if r := f.do(t, "GET", "/api/v1/objections/"+o.Number+"/materials/"+sha, f.tokens[auth.PostSupervisor], nil); r.status != 200 || string(r.body) != "scanned document" {
			t.Errorf("evidence: %d", r.status)
		}

		// A proxy served at the counter under a written authorisation; the read is logged as the proxy's.
		from := time.Now().Format("2006-01-02")
		until := time.Now().AddDate(0, 1, 0).Format("2006-01-02")
		a := decode[struct{ Number string }](t, f.do(t, "POST", "/api/v1/proxies", f.tokens[auth.PostQuery],
			[]byte(fmt.Sprintf(`{"person_id_number":"%s","proxy_id_number":"%s","proxy_name":"张三","fields":["identity","account"],"valid_from":"%s","valid_until":"%s","materials":%s}`,
				ids[2], ids[3], from, until, mat))), 201)
		pv := decode[struct{ Record map[string]json.RawMessage }](t, f.do(t, "POST", "/api/v1/proxies/"+a.Number+"/query", f.tokens[auth.PostQuery],
			[]byte(`{"proxy_id_number":"`+ids[3]+`"}`)), 200)
		if _, ok := pv.Record["account"]; !ok || pv.Record["contributions"] != nil {
			t.Errorf("proxy view: %v", pv.Record)
		}
		if r := f.do(t, "POST", "/api/v1/proxies/"+a.Number+"/query", f.tokens[auth.PostQuery], []byte(`{"proxy_id_number":"`+ids[4]+`"}`)); r.status != 403 {
			t.Errorf("someone else as proxy: %d", r.status)
		}

		// Another body's application: registered, approved by an approver, queried and exported, all logged.
		app := decode[struct{ Number, Status string }](t, f.do(t, "POST", "/api/v1/applications", f.tokens[auth.PostQuery],
			[]byte(fmt.Sprintf(`{"body_name":"某市公安局","body_kind":"government","credential":"公(刑)协查字[2026]12号","purpose":"案件调查",
			"legal_basis":"《刑事诉讼法》第五十四条","fields":["identity","enrolments"],"id_numbers":["%s","%s"],"requested_until":"%s","materials":%s}`,
				ids[5], ids[6], until, mat))), 201)
		if r := f.do(t, "POST", "/api/v1/applications/"+app.Number+"/query", f.tokens[auth.PostQuery], []byte(`{"id_number":"`+ids[5]+`"}`)); r.status != 403 {
			t.Errorf("query before approval: %d", r.status)
		}
		app = decode[struct{ Number, Status string }](t, f.do(t, "POST", "/api/v1/applications/"+app.Number+"/decision", f.tokens[auth.PostApprover],
			[]byte(`{"decision":"approve","valid_until":"`+until+`"}`)), 200)
		if app.Status != "approved" {
			t.Fatalf("decision: %+v", app)
		}
		if r := f.do(t, "POST", "/api/v1/applications/"+app.Number+"/query", f.tokens[auth.PostQuery], []byte(`{"id_number":"`+ids[5]+`"}`)); r.status != 200 || !strings.Contains(string(r.body), "enrolments") {
			t.Errorf("query: %d %s", r.status, r.body)
		}
		r := f.do(t, "GET", "/api/v1/applications/"+app.Number+"/export?format=csv", f.tokens[auth.PostQuery], nil)
		if r.status != 200 || strings.Count(string(r.body), "\n") != 3 || !strings.Contains(string(r.body), "参保关系 enrolments") {
			t.Errorf("export: %d %q", r.status, r.body)
		}
		logged := decode[struct{ Total int }](t, f.do(t, "GET", "/api/v1/querylog?application="+app.Number, f.tokens[auth.PostSupervisor], nil), 200)
		if logged.Total != 3 {
			t.Errorf("application reads logged: %d", logged.Total)
		}
		proxied := decode[struct {
			Total   int
			Entries []querylog.Entry
		}](t, f.do(t, "GET", "/api/v1/querylog?actor_kind=proxy", f.tokens[auth.PostSupervisor], nil), 200)
		if proxied.Total != 1 || proxied.Entries[0].Application != a.Number {
			t.Errorf("proxy read logged: %+v", proxied)
		}
		// The approval expires: no more access.
		qu := queryuse.For(f.st, nil)
		qu.SetClock(func() time.Time { return time.Now().AddDate(0, 2, 0) })
		defer qu.SetClock(time.Now)
		if r := f.do(t, "POST", "/api/v1/applications/"+app.Number+"/query", f.tokens[auth.PostQuery], []byte(`{"id_number":"`+ids[5]+`"}`)); r.status != 403 || !strings.Contains(string(r.body), "expired") {
			t.Errorf("query after expiry: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/applications/"+app.Number+"/export?format=csv", f.tokens[auth.PostQuery], nil); r.status != 403 {
			t.Errorf("export after expiry: %d", r.status)
		}
		qu.SetClock(time.Now)

		// The query log verifies, exports, and seals.
		if _, _, err := querylog.SealNow(ctx, f.st.Driver(), f.st.Keys(), time.Now()); err != nil {
			t.Fatal(err)
		}
		v := decode[struct {
			OK     bool
			Report querylog.Report
		}](t, f.do(t, "GET", "/api/v1/querylog/verify", f.tokens[auth.PostSupervisor], nil), 200)
		if !v.OK || v.Report.Seals != 1 || v.Report.Entries != 4 {
			t.Errorf("verify: %+v", v)
		}
		if r := f.do(t, "GET", "/api/v1/querylog/export?format=xlsx", f.tokens[auth.PostSupervisor], nil); r.status != 200 || !strings.HasPrefix(string(r.body), "PK") {
			t.Errorf("query log xlsx: %d", r.status)
		}

		// Statistics for the supervisor, small cells suppressed.
		stt := decode[struct {
			Threshold int
			Cells     []struct {
				Suppressed bool
				Persons    *int64
			}
		}](t, f.do(t, "GET", "/api/v1/statistics?from=202301&to=202412&by=region,type", f.tokens[auth.PostSupervisor], nil), 200)
		if stt.Threshold != 10 || len(stt.Cells) == 0 {
			t.Fatalf("statistics: %+v", stt)
		}
		for _, c := range stt.Cells {
			if !c.Suppressed || c.Persons != nil {
				t.Errorf("8 persons over 10 regions gave a cell shown: %+v", c)
			}
		}
		if r := f.do(t, "GET", "/api/v1/statistics?from=202301", f.tokens[auth.PostSupervisor], nil); r.status != 422 {
			t.Errorf("statistics without to: %d", r.status)
		}
	})
}

func TestStatementRunOverHTTP(t *testing.T) {
	f, ids, _ := quFixture(t, storetest.New(t, "sqlite"))
	run := decode[struct{ ID int64 }](t, f.do(t, "POST", "/api/v1/statements/runs", f.tokens[auth.PostCollector], []byte(`{"year":2024}`)), 202)
	deadline := time.Now().Add(60 * time.Second)
	for {
		runs := decode[struct {
			Runs []struct {
				ID     int64
				Status string
				Issued int64
			}
		}](t, f.do(t, "GET", "/api/v1/statements/runs", f.tokens[auth.PostSupervisor], nil), 200)
		if runs.Runs[0].ID == run.ID && runs.Runs[0].Status == "done" {
			if runs.Runs[0].Issued != 8 {
				t.Fatalf("run: %+v", runs.Runs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not done: %+v", runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	person, _ := f.st.FindPerson(context.Background(), ids[0])
	s := decode[struct {
		Statement struct{ Year int }
	}](t, f.do(t, "GET", "/api/v1/persons/"+person+"/statements/2024", f.tokens[auth.PostQuery], nil), 200)
	if s.Statement.Year != 2024 {
		t.Errorf("statement: %+v", s)
	}
	es, _, _ := querylog.List(context.Background(), f.st.Driver(), querylog.Filter{Person: person, Actor: "query"}, 0, 10)
	if len(es) != 1 || !strings.Contains(es[0].Fields, "statement 2024") {
		t.Errorf("statement read logged: %+v", es)
	}
	if r := f.do(t, "GET", "/api/v1/persons/"+person+"/statements/2023", f.tokens[auth.PostQuery], nil); r.status != 404 {
		t.Errorf("a year not issued: %d", r.status)
	}
}
