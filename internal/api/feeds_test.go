package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store/storetest"
)

func creditCode(n int) string {
	body := fmt.Sprintf("91110105MA%07d", n)
	return body + string(record.USCCCheckChar(body))
}

func TestFeedsOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		ctx := context.Background()
		if _, err := f.st.Record(ctx, "test", []record.Fact{
			&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: idNumber(1)}, Name: "测试", Region: "110105", RegisteredOn: "2015-01-01"},
			&record.BenefitPaid{PersonRef: record.PersonRef{IDNumber: idNumber(1)}, Kind: "retirement", Period: 202403, Amount: 300000},
		}); err != nil {
			t.Fatal(err)
		}
		collector := f.tokens[auth.PostCollector]
		file := "id_number,name,event,date\n" + idNumber(1) + ",测试,death,2024-02-01\n" + idNumber(2) + ",某人,death,2024-02-01\n"
		r := f.do(t, "POST", "/api/v1/feeds?kind=civil_affairs&name=deaths.csv", collector, []byte(file))
		var fd struct{ Number string }
		json.Unmarshal(r.body, &fd)
		if r.status != 201 || fd.Number != "F000001" {
			t.Fatalf("import: %d %s", r.status, r.body)
		}
		if r = f.do(t, "POST", "/api/v1/feeds?kind=civil_affairs&name=again.csv", collector, []byte(file)); r.status != 409 {
			t.Fatalf("second import: %d %s", r.status, r.body)
		}
		r = f.do(t, "POST", "/api/v1/feeds?kind=civil_affairs&name=bad.csv", collector, []byte("id_number,event,date\n"+idNumber(1)+",birth,2024-02-30\nx,death,2024-01-01\n"))
		var p api.Problem
		json.Unmarshal(r.body, &p)
		if r.status != 422 || len(p.Errors) != 3 || p.Errors[0].Field != "line 2.event" || p.Errors[1].Rule != "date_format" || p.Errors[2].Field != "line 3.id_number" {
			t.Fatalf("bad file: %d %s", r.status, r.body)
		}
		if r = f.do(t, "POST", "/api/v1/feeds?kind=civil_affairs&name=x.csv", f.tokens[auth.PostSupervisor], []byte(file)); r.status != 403 {
			t.Fatalf("supervisor imports: %d", r.status)
		}
		// Reconcile in the background, and follow the run to its end.
		r = f.do(t, "POST", "/api/v1/feeds/F000001/reconcile", f.tokens[auth.PostMaintainer], nil)
		var run struct {
			Number, Status string
			Differences    int64
			Counts         map[string]int64
		}
		json.Unmarshal(r.body, &run)
		if r.status != 202 || run.Number != "R000001" {
			t.Fatalf("reconcile: %d %s", r.status, r.body)
		}
		deadline := time.Now().Add(30 * time.Second)
		for run.Status == "running" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			r = f.do(t, "GET", "/api/v1/reconciliations/R000001", f.tokens[auth.PostSupervisor], nil)
			json.Unmarshal(r.body, &run)
		}
		if run.Status != "done" || run.Differences != 2 || run.Counts["death_not_recorded"] != 1 || run.Counts["benefit_after_death"] != 1 {
			t.Fatalf("run: %s", r.body)
		}
		r = f.do(t, "GET", "/api/v1/reconciliations/R000001/differences?kind=benefit_after_death", f.tokens[auth.PostQuery], nil)
		if r.status != 403 {
			t.Fatalf("query post reads differences: %d", r.status)
		}
		r = f.do(t, "GET", "/api/v1/reconciliations/R000001/differences?sort=-severity&limit=1", f.tokens[auth.PostApprover], nil)
		var page struct {
			Total       int64
			Differences []struct {
				Kind     string
				IDMasked string `json:"id_masked"`
			}
		}
		json.Unmarshal(r.body, &page)
		if r.status != 200 || page.Total != 2 || len(page.Differences) != 1 || page.Differences[0].IDMasked != record.MaskID(idNumber(1)) {
			t.Fatalf("differences: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), idNumber(1)) {
			t.Fatal("an ID number in clear in the differences")
		}
		r = f.do(t, "GET", "/api/v1/reconciliations/R000001/differences/export?format=csv", f.tokens[auth.PostSupervisor], nil)
		if r.status != 200 || strings.Count(string(r.body), "\n") != 3 || !strings.Contains(string(r.body), "benefit_after_death") {
			t.Fatalf("export: %d %s", r.status, r.body)
		}
		if r = f.do(t, "GET", "/api/v1/reconciliations/R000001/differences/export?format=pdf", f.tokens[auth.PostSupervisor], nil); r.status != 422 {
			t.Fatalf("pdf: %d", r.status)
		}
		// Synchronously, and the second run files no work item twice.
		r = f.do(t, "POST", "/api/v1/feeds/F000001/reconcile?wait=true", collector, nil)
		var second struct {
			Status    string
			WorkItems struct{ New, Seen int } `json:"work_items"`
		}
		json.Unmarshal(r.body, &second)
		if r.status != 200 || second.Status != "done" || second.WorkItems.New != 0 || second.WorkItems.Seen != 2 {
			t.Fatalf("second run: %d %s", r.status, r.body)
		}
		r = f.do(t, "GET", "/api/v1/feeds/F000001", f.tokens[auth.PostSupervisor], nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"runs_total":2`) {
			t.Fatalf("feed: %d %s", r.status, r.body)
		}
	})
}

func TestInstitutionSubmissionsOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		ctx := context.Background()
		if _, err := f.st.Record(ctx, "test", []record.Fact{
			&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: idNumber(1)}, Name: "测试", Region: "110105", RegisteredOn: "2015-01-01"},
			&record.BenefitPaid{PersonRef: record.PersonRef{IDNumber: idNumber(1)}, Kind: "retirement", Period: 202403, Amount: 300000},
		}); err != nil {
			t.Fatal(err)
		}
		admin := f.tokens[auth.PostSysadmin]
		code := creditCode(5)
		r := f.do(t, "POST", "/api/v1/institutions", admin, []byte(`{"code":"`+code+`","kind":"bank","name":"某银行某支行","agreement":"DF-2024-01","agreement_until":"`+
			time.Now().AddDate(1, 0, 0).Format("2006-01-02")+`"}`))
		if r.status != 201 {
			t.Fatalf("add: %d %s", r.status, r.body)
		}
		r = f.do(t, "POST", "/api/v1/institutions/"+code+"/tokens", admin, []byte(`{"name":"代发失败报告"}`))
		var tok struct {
			Token  string
			Scopes []string
		}
		json.Unmarshal(r.body, &tok)
		if r.status != 201 || len(tok.Scopes) != 1 || tok.Scopes[0] != "submit:bank" {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		body := []byte(`{"rows":[{"id_number":"` + idNumber(1) + `","period":"202403","kind":"retirement","amount":"3000.00","reason":"账户冻结","reference":"R-1"}]}`)
		submit := func(path, key string, body []byte) (response, http.Header) {
			req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			if key != "" {
				req.Header.Set("Idempotency-Key", key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			return response{resp.StatusCode, []byte(b.String()), resp.Header.Get("Content-Type")}, resp.Header
		}
		first, h1 := submit("/api/v1/submissions/bank", "a1b2", body)
		again, h2 := submit("/api/v1/submissions/bank", "a1b2", body)
		if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) || h1.Get("Idempotent-Replayed") != "" || h2.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("first %d %s\nagain %d %s", first.status, first.body, again.status, again.body)
		}
		if r, _ := submit("/api/v1/submissions/bank", "", body); r.status != 422 || !strings.Contains(string(r.body), "Idempotency-Key") {
			t.Fatalf("without a key: %d %s", r.status, r.body)
		}
		// The bank's token submits nothing else, and reads no record.
		if r, _ := submit("/api/v1/submissions/medical", "x", body); r.status != 403 {
			t.Fatalf("bank submitting medical: %d", r.status)
		}
		if r := f.do(t, "POST", "/api/v1/persons/lookup", tok.Token, []byte(`{"id_number":"`+idNumber(1)+`"}`)); r.status != 403 {
			t.Fatalf("bank reads a record: %d", r.status)
		}
		var sub struct{ Number, Draft string }
		json.Unmarshal(first.body, &sub)
		if r := f.do(t, "GET", "/api/v1/submissions/"+sub.Number, tok.Token, nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"in_review"`) {
			t.Fatalf("own submission: %d %s", r.status, r.body)
		}
		r = f.do(t, "GET", "/api/v1/followups?open=true", f.tokens[auth.PostSupervisor], nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"total":1`) || !strings.Contains(string(r.body), `"amount":"3000.00"`) {
			t.Fatalf("follow-ups: %d %s", r.status, r.body)
		}
		r = f.do(t, "GET", "/api/v1/submissions?kind=bank", f.tokens[auth.PostInitialReviewer], nil)
		if r.status != 200 || !strings.Contains(string(r.body), sub.Draft) {
			t.Fatalf("submissions: %d %s", r.status, r.body)
		}
		// Reviewed like any draft.
		r = f.do(t, "POST", "/api/v1/drafts/"+sub.Draft+"/decision", f.tokens[auth.PostInitialReviewer], []byte(`{"decision":"approve"}`))
		if r.status != 200 {
			t.Fatalf("initial review: %d %s", r.status, r.body)
		}
	})
}
