package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/store/storetest"
)

// TestArchiveChecksAndOutsideHelpersOverHTTP walks issue 6 through the API: an archived material is listed and
// served, a changed one refused with 409; the checks, run through the API, file it as a work item that a reviewed
// dismissal closes; and an outside helper is enabled only once a confidentiality agreement is on file.
func TestArchiveChecksAndOutsideHelpersOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		col, maint, appr, admin := f.tokens[auth.PostCollector], f.tokens[auth.PostMaintainer], f.tokens[auth.PostApprover], f.tokens[auth.PostSysadmin]
		decode := func(r response, v any) {
			t.Helper()
			if err := json.Unmarshal(r.body, v); err != nil {
				t.Fatalf("%d %s: %v", r.status, r.body, err)
			}
		}
		// A registration draft with its scanned original.
		r := f.do(t, "POST", "/api/v1/materials", col, []byte("%PDF 身份证复印件"))
		var mat struct{ SHA256 string }
		decode(r, &mat)
		id := idNumber(31)
		r = f.do(t, "POST", "/api/v1/drafts", col, []byte(fmt.Sprintf(`{"kind":"person_registration","facts":[
			{"type":"person.registered","id_number":"%s","data":{"name":"王五","region":"110105","registered_on":"2024-05-06"}}],
			"materials":[{"sha256":"%s","name":"身份证.pdf","content_type":"application/pdf"}]}`, id, mat.SHA256)))
		var d struct{ Number string }
		decode(r, &d)
		r = f.do(t, "GET", "/api/v1/archive?draft="+d.Number, f.tokens[auth.PostSupervisor], nil)
		var list struct {
			Materials []struct {
				Name, Type, Stage, SHA256 string
				RetentionYears            int `json:"retention_years"`
			}
			Total int
		}
		decode(r, &list)
		if r.status != 200 || list.Total != 1 || list.Materials[0].Name != "身份证.pdf" || list.Materials[0].Type != "person_registration" || list.Materials[0].Stage != "collection" {
			t.Fatalf("archive: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/archive/materials/"+mat.SHA256+"?draft="+d.Number, col, nil); r.status != 200 || string(r.body) != "%PDF 身份证复印件" {
			t.Fatalf("download: %d %s", r.status, r.body)
		}
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + mat.SHA256 + "'")
		r = f.do(t, "GET", "/api/v1/archive/materials/"+mat.SHA256, col, nil)
		var p api.Problem
		decode(r, &p)
		if r.status != 409 || p.Rule != "material_hash" || strings.Contains(string(r.body), "forged") {
			t.Fatalf("changed material: %d %s", r.status, r.body)
		}

		// The checks find it; their run is followed through the API until it ends.
		r = f.do(t, "POST", "/api/v1/checks/runs", maint, []byte(`{"only":["materials"]}`))
		var run struct {
			Number, Status string
			New            int `json:"new_items"`
		}
		decode(r, &run)
		if r.status != 202 || run.Status != "running" {
			t.Fatalf("start: %d %s", r.status, r.body)
		}
		for deadline := time.Now().Add(time.Minute); run.Status == "running" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			decode(f.do(t, "GET", "/api/v1/checks/runs/"+run.Number, maint, nil), &run)
		}
		if run.Status != "ok" || run.New != 1 {
			t.Fatalf("run: %+v", run)
		}
		r = f.do(t, "GET", "/api/v1/workitems?kind=materials&status=open", f.tokens[auth.PostSupervisor], nil)
		var items struct {
			Items []struct{ Number, Status, Detail string }
			Total int
		}
		decode(r, &items)
		if items.Total != 1 || !strings.Contains(items.Items[0].Detail, d.Number) {
			t.Fatalf("work items: %s", r.body)
		}
		item := "/api/v1/workitems/" + items.Items[0].Number
		if r := f.do(t, "POST", item+"/dismissal", maint, []byte(`{"grounds":"not_a_fault","reason":""}`)); r.status != 422 {
			t.Fatalf("dismissal without reason: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", item+"/dismissal", maint, []byte(`{"grounds":"not_a_fault","reason":"原件已另行归档，经核实"}`)); r.status != 200 {
			t.Fatalf("propose: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", item+"/dismissal/decision", appr, []byte(`{"decision":"approve"}`)); r.status != 200 || !strings.Contains(string(r.body), `"status":"closed"`) {
			t.Fatalf("decide: %d %s", r.status, r.body)
		}
		if r := f.do(t, "GET", "/api/v1/workitems/export?format=csv&status=closed", maint, nil); r.status != 200 || !strings.Contains(string(r.body), items.Items[0].Number) {
			t.Fatalf("export: %d %s", r.status, r.body)
		}

		// An outside helper.
		r = f.do(t, "POST", "/api/v1/users", admin, []byte(`{"username":"vendor1","display_name":"外包工程师","password":"Vendor-pass-42","posts":["maintainer"],"external":true}`))
		if r.status != 201 || !strings.Contains(string(r.body), `"Disabled":true`) {
			t.Fatalf("add external: %d %s", r.status, r.body)
		}
		r = f.do(t, "POST", "/api/v1/users/vendor1/enable", admin, nil)
		decode(r, &p)
		if r.status != 409 || p.Rule != "confidentiality_agreement" {
			t.Fatalf("enable without agreement: %d %s", r.status, r.body)
		}
		today := time.Now().Format("2006-01-02")
		r = f.do(t, "POST", "/api/v1/users/vendor1/agreements?name=nda.pdf&signed_on="+today+"&expires_on=2099-12-31", admin, []byte("%PDF NDA"))
		if r.status != 201 {
			t.Fatalf("agreement: %d %s", r.status, r.body)
		}
		if r := f.do(t, "POST", "/api/v1/users/vendor1/enable", admin, nil); r.status != 204 {
			t.Fatalf("enable: %d %s", r.status, r.body)
		}
		tok := f.login(t, "vendor1", "Vendor-pass-42")
		if r := f.do(t, "GET", "/api/v1/me", tok, nil); !strings.Contains(string(r.body), `"External":true`) {
			t.Fatalf("me: %s", r.body)
		}
		if r := f.do(t, "GET", "/api/v1/users/vendor1/agreements", admin, nil); !strings.Contains(string(r.body), `"expires_on":"2099-12-31"`) {
			t.Fatalf("agreements: %s", r.body)
		}
	})
}
