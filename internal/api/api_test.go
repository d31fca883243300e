package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/rules"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
	"sirec/internal/workitem"
)

var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type fixture struct {
	srv    *httptest.Server
	st     *store.Store
	tokens map[auth.Post]string
	doc    map[string]any
}

// newFixture serves the API on 127.0.0.1 over a real store, with one user per post signed in.
func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	st := env.Store()
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	users := auth.New(st.Driver(), cfg)
	s := &api.Server{Store: st, Auth: users, Review: review.New(st), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Calc:     func(name string, in []byte) ([]byte, error) { return rules.Calc(st.Book(), name, in) },
		QueryLog: web.StaffQueryLog(st.Driver())}
	// Check runs started through the API run in the background; the test waits for them before the store closes.
	s.Checks = &check.Runner{Store: st, Items: workitem.New(st, users), Logger: s.Logger}
	t.Cleanup(s.Checks.Wait)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, st: st, tokens: map[auth.Post]string{}}
	for _, info := range auth.Posts {
		name, pw := string(info.Post), "Secret-pass-42"
		var err error
		if info.Post == auth.PostSysadmin {
			_, err = users.AddFirstSysadmin(ctx, name, name, pw, "test", time.Now())
		} else {
			_, err = users.AddUser(ctx, auth.NewUser{Username: name, DisplayName: name, Password: pw, Posts: []auth.Post{info.Post}}, "test", time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[info.Post] = f.login(t, name, pw)
	}
	resp := f.do(t, "GET", "/api/v1/openapi.json", "", nil)
	if resp.status != 200 {
		t.Fatalf("openapi.json: %d", resp.status)
	}
	if err := json.Unmarshal(resp.body, &f.doc); err != nil {
		t.Fatal(err)
	}
	return f
}

type response struct {
	status int
	body   []byte
	ctype  string
}

func (f *fixture) do(t *testing.T, method, path, token string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, b, resp.Header.Get("Content-Type")}
}

func (f *fixture) login(t *testing.T, user, pw string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	r := f.do(t, "POST", "/api/v1/session", "", b)
	var out struct{ Token string }
	json.Unmarshal(r.body, &out)
	if r.status != 200 || out.Token == "" {
		t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	return out.Token
}

type operation struct {
	method, path string
	posts        []string
}

func (f *fixture) operations() []operation {
	var ops []operation
	for path, item := range f.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			var posts []string
			for _, p := range op.(map[string]any)["x-sirec-posts"].([]any) {
				posts = append(posts, p.(string))
			}
			ops = append(ops, operation{strings.ToUpper(method), path, posts})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

var sample = map[string]string{"person": "nobody", "sha256": strings.Repeat("0", 64), "id": "D999999", "kind": "contribution",
	"username": "nobody_x", "post": "query", "name": "pension"}

func concrete(path string) string {
	for k, v := range sample {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return path
}

func TestOpenAPIDocumentMatchesTheRoutes(t *testing.T) {
	f := newFixture(t, storetest.New(t, "sqlite"))
	ops := f.operations()
	if len(ops) < 20 {
		t.Fatalf("only %d operations documented", len(ops))
	}
	for _, op := range ops {
		r := f.do(t, op.method, concrete(op.path), "", []byte("{}"))
		// A documented operation is routed: the mux's own 404 / 405 would be plain text, not a problem document.
		if (r.status == 404 || r.status == 405) && !strings.HasPrefix(r.ctype, "application/problem+json") {
			t.Errorf("%s %s is documented but not routed (%d)", op.method, op.path, r.status)
		}
		if len(op.posts) > 0 && (r.status != 401 || r.ctype != "application/problem+json") {
			t.Errorf("%s %s without credentials: %d %s, want 401 problem+json", op.method, op.path, r.status, r.ctype)
		}
		if len(op.posts) == 0 && r.status == 401 && op.path != "/api/v1/session" {
			t.Errorf("public %s %s asked for credentials", op.method, op.path)
		}
	}
	// And nothing is routed that is not documented.
	for _, probe := range []string{"/api/v1/persons", "/api/v1/journal", "/api/v1/events/1", "/admin"} {
		if r := f.do(t, "GET", probe, "", nil); r.status != 404 {
			t.Errorf("undocumented %s answered %d", probe, r.status)
		}
	}
}

func TestRouteMatrix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		ctx := context.Background()
		before, _, _ := f.st.LatestCheckpoint(ctx)
		for _, op := range f.operations() {
			for _, info := range auth.Posts {
				token := f.tokens[info.Post]
				if op.method == "DELETE" && op.path == "/api/v1/session" {
					token = f.login(t, string(info.Post), "Secret-pass-42")
				}
				body := []byte("{}")
				r := f.do(t, op.method, concrete(op.path), token, body)
				allowed := len(op.posts) == 0 || slices.Contains(op.posts, string(info.Post))
				switch {
				case len(op.posts) == 0:
					// Public: never forbidden (signing in with a wrong password is a 401 of its own).
					if r.status == 403 {
						t.Errorf("public %s %s as %s: 403", op.method, op.path, info.Post)
					}
				case allowed && (r.status == 401 || r.status == 403):
					t.Errorf("%s %s as %s: %d %s; the document allows it", op.method, op.path, info.Post, r.status, r.body)
				case !allowed && r.status != 403:
					t.Errorf("%s %s as %s: %d; want 403", op.method, op.path, info.Post, r.status)
				}
			}
		}
		// No route wrote a record: only a final approval does, and there was none.
		after, _, _ := f.st.LatestCheckpoint(ctx)
		if after.Size != before.Size {
			t.Fatalf("the journal grew from %d to %d events during the route walk", before.Size, after.Size)
		}
		// Administrators read no records (S1): spelt out, since it matters most.
		for _, p := range []auth.Post{auth.PostSysadmin, auth.PostDBAdmin} {
			if r := f.do(t, "POST", "/api/v1/persons/lookup", f.tokens[p], []byte(`{"id_number":"11010519491231002X"}`)); r.status != 403 {
				t.Errorf("%s looked up a person: %d", p, r.status)
			}
		}
	})
}

func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n)
	return body + string(record.IDCheckChar(body))
}

func TestDraftThroughFourStagesOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		id := idNumber(9)
		r := f.do(t, "POST", "/api/v1/materials", f.tokens[auth.PostCollector], []byte("scan of the ID card"))
		var mat struct{ SHA256 string }
		json.Unmarshal(r.body, &mat)
		if r.status != 201 || len(mat.SHA256) != 64 {
			t.Fatalf("material: %d %s", r.status, r.body)
		}
		draft := fmt.Sprintf(`{"kind":"person_registration","facts":[
			{"type":"person.registered","id_number":"%s","data":{"name":"王五","region":"110105","registered_on":"2024-05-06"}},
			{"type":"enrolment.started","id_number":"%s","data":{"type":"pension","from":"2024-05-06"}}],
			"materials":[{"sha256":"%s","name":"身份证.jpg","content_type":"image/jpeg"}]}`, id, id, mat.SHA256)
		r = f.do(t, "POST", "/api/v1/drafts", f.tokens[auth.PostCollector], []byte(draft))
		var d struct {
			Number string
			Stage  string
			Status string
		}
		json.Unmarshal(r.body, &d)
		if r.status != 201 || d.Stage != "initial_review" {
			t.Fatalf("submit: %d %s", r.status, r.body)
		}
		// The approver cannot jump the queue.
		r = f.do(t, "POST", "/api/v1/drafts/"+d.Number+"/decision", f.tokens[auth.PostApprover], []byte(`{"decision":"approve"}`))
		if r.status != 403 {
			t.Fatalf("approval before initial review: %d %s", r.status, r.body)
		}
		// The queue pages with its total and filters by business type; an unknown type is refused by name.
		queue := func(query string) (int, []string) {
			r := f.do(t, "GET", "/api/v1/review/queue"+query, f.tokens[auth.PostInitialReviewer], nil)
			var doc struct {
				Drafts []struct{ Number string }
				Total  int
			}
			if err := json.Unmarshal(r.body, &doc); r.status != 200 || err != nil {
				t.Fatalf("queue%s: %d %s", query, r.status, r.body)
			}
			var numbers []string
			for _, d := range doc.Drafts {
				numbers = append(numbers, d.Number)
			}
			return doc.Total, numbers
		}
		if total, numbers := queue("?kind=person_registration&limit=1"); total != 1 || len(numbers) != 1 || numbers[0] != d.Number {
			t.Fatalf("queue of registrations: %d %v", total, numbers)
		}
		if total, numbers := queue("?kind=employer_registration"); total != 0 || len(numbers) != 0 {
			t.Fatalf("queue of employer registrations: %d %v", total, numbers)
		}
		if q := f.do(t, "GET", "/api/v1/review/queue?kind=nonsense", f.tokens[auth.PostInitialReviewer], nil); q.status != 422 || !strings.Contains(string(q.body), `"kind"`) {
			t.Fatalf("queue of an unknown kind: %d %s", q.status, q.body)
		}
		for _, p := range []auth.Post{auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover} {
			q := f.do(t, "GET", "/api/v1/review/queue", f.tokens[p], nil)
			if !strings.Contains(string(q.body), d.Number) {
				t.Fatalf("%s's queue lacks %s: %s", p, d.Number, q.body)
			}
			r = f.do(t, "POST", "/api/v1/drafts/"+d.Number+"/decision", f.tokens[p], []byte(`{"decision":"approve"}`))
			if r.status != 200 {
				t.Fatalf("%s: %d %s", p, r.status, r.body)
			}
		}
		json.Unmarshal(r.body, &d)
		if d.Status != "approved" {
			t.Fatalf("status %s", d.Status)
		}
		r = f.do(t, "POST", "/api/v1/persons/lookup", f.tokens[auth.PostQuery], []byte(`{"id_number":"`+id+`"}`))
		if r.status != 200 || !strings.Contains(string(r.body), "王五") {
			t.Fatalf("lookup: %d %s", r.status, r.body)
		}
		// Every read of a person's data by staff is in the query log (Q7): the reviewers' draft views and the lookup.
		person, _ := f.st.FindPerson(context.Background(), id)
		es, _, err := web.ListQueries(context.Background(), f.st.Driver(), web.QueryFilter{Person: person}, 0, 100)
		if err != nil || len(es) == 0 || es[0].Actor != "query" || es[0].Page != "api/persons/lookup" {
			t.Fatalf("query log: %+v %v", es, err)
		}
		// A bad draft is a problem document naming each field and rule.
		r = f.do(t, "POST", "/api/v1/drafts", f.tokens[auth.PostCollector], []byte(`{"kind":"contribution","facts":[{"type":"contribution.posted","id_number":"`+id+`","data":{"period":"202413","type":"pension","status":"paid","wage":100}}]}`))
		var p api.Problem
		json.Unmarshal(r.body, &p)
		if r.status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "facts[0].period" || p.Errors[0].Rule != "period_month" {
			t.Fatalf("bad draft: %d %s", r.status, r.body)
		}
	})
}

func TestMaintenanceLogExport(t *testing.T) {
	f := newFixture(t, storetest.New(t, "sqlite"))
	r := f.do(t, "GET", "/api/v1/maintenance/log/export?format=csv", f.tokens[auth.PostSupervisor], nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "\ufeff") || !strings.Contains(string(r.body), "维护原因 reason") {
		t.Fatalf("csv: %d %q", r.status, r.body)
	}
	r = f.do(t, "GET", "/api/v1/maintenance/log/export?format=xlsx", f.tokens[auth.PostMaintainer], nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "PK") {
		t.Fatalf("xlsx: %d", r.status)
	}
	if r = f.do(t, "GET", "/api/v1/maintenance/log/export?format=pdf", f.tokens[auth.PostSupervisor], nil); r.status != 422 {
		t.Fatalf("pdf: %d", r.status)
	}
	if r = f.do(t, "GET", "/api/v1/maintenance/log?from=2024-13-01", f.tokens[auth.PostSupervisor], nil); r.status != 422 {
		t.Fatalf("bad date: %d", r.status)
	}
}

// TestMaintenanceLogReadsAreLogged: the maintenance log shows persons' data, so its search and its export register
// a read of each person they name (Q7) before answering.
func TestMaintenanceLogReadsAreLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		ctx := context.Background()
		rv := review.New(f.st)
		body := "11010519850307021"
		id := body + string(record.IDCheckChar(body))
		if _, err := f.st.Record(ctx, "test", []record.Fact{&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: id}, Name: "王维", Region: "110105", RegisteredOn: "2020-01-01"}}); err != nil {
			t.Fatal(err)
		}
		d, err := rv.Submit(ctx, review.Actor{User: "maintainer", Posts: []string{"maintainer"}}, review.Submission{Kind: review.Maintenance,
			Reason: "姓名录入错误", Method: "依户口簿更正", Facts: []review.DraftFact{{Type: record.TypePersonChanged, IDNumber: id, Data: json.RawMessage(`{"name":"王伟","reason":"更正姓名"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, post := range review.Stages {
			if d, err = rv.Act(ctx, review.Actor{User: "r-" + post, Posts: []string{review.StagePost[post]}}, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
		}
		person, _ := f.st.FindPerson(ctx, id)
		for _, path := range []string{"/api/v1/maintenance/log", "/api/v1/maintenance/log/export?format=csv"} {
			if r := f.do(t, "GET", path, f.tokens[auth.PostSupervisor], nil); r.status != 200 || !strings.Contains(string(r.body), "姓名录入错误") {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			page := strings.Replace(strings.SplitN(path, "?", 2)[0], "/api/v1/", "api/", 1)
			es, _, err := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Person: person, Actor: "supervisor"}, 0, 10)
			if err != nil || len(es) == 0 || es[0].Page != page {
				t.Fatalf("after %s the query log holds %+v (%v); want a read on %s", path, es, err, page)
			}
		}
	})
}

// TestChangedMaterialIsAConflict: a stored material changed behind the application's back is not served; the
// API answers 409 with the rule, as the archive route does, not 500.
func TestChangedMaterialIsAConflict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		r := f.do(t, "POST", "/api/v1/materials", f.tokens[auth.PostCollector], []byte("scan of the household register"))
		var mat struct{ SHA256 string }
		json.Unmarshal(r.body, &mat)
		if r.status != 201 {
			t.Fatalf("material: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/materials/"+mat.SHA256, f.tokens[auth.PostCollector], nil); r.status != 200 || string(r.body) != "scan of the household register" {
			t.Fatalf("read: %d %s", r.status, r.body)
		}
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + mat.SHA256 + "'")
		r = f.do(t, "GET", "/api/v1/materials/"+mat.SHA256, f.tokens[auth.PostCollector], nil)
		if r.status != 409 || !strings.Contains(string(r.body), "material_hash") || strings.Contains(string(r.body), "forged") {
			t.Fatalf("changed material: %d %s", r.status, r.body)
		}
	})
}
