package web_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

// The console pages of transfers: the system administrator sets the agency's identity and the trust list; a
// collector requests a transfer out, which becomes a draft; staff follow its status; every view of a transfer
// is in the query log; posts without business there are refused.
func TestTransferPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		_, vkey, err := note.GenerateKey(rand.Reader, "sirec.agency/310115")
		if err != nil {
			t.Fatal(err)
		}
		_, otherKey, _ := note.GenerateKey(rand.Reader, "sirec.agency/440300")

		admin := f.client(t)
		admin.login("console", "sysadmin", staffPassword)
		if !strings.Contains(admin.last, `href="/console/agency"`) || strings.Contains(admin.last, `href="/console/transfers"`) {
			t.Fatal("sysadmin's navigation: the agency page, not the transfers (no records for administrators)")
		}
		r := admin.get("/console/agency")
		if r.status != 200 || !strings.Contains(r.body, `id="agency-region">110105<`) || !strings.Contains(r.body, "sirec.agency/110105&#43;") || !strings.Contains(r.body, `id="trust-empty"`) {
			t.Fatalf("agency page: %d\n%s", r.status, r.body)
		}
		r = admin.submit("/console/agency", url.Values{"name": {"北京市朝阳区社会保险事业管理中心"}, "url": {"ftp://x"}})
		if r.status != 422 || !strings.Contains(r.body, `id="err-url"`) {
			t.Fatalf("bad url: %d", r.status)
		}
		r = admin.submit("/console/agency", url.Values{"name": {"北京市朝阳区社会保险事业管理中心"}, "url": {"https://sirec.chaoyang.example"}})
		if r.status != 200 || !strings.Contains(r.body, "已保存") || !strings.Contains(r.body, "https://sirec.chaoyang.example") {
			t.Fatalf("identity: %d", r.status)
		}
		// A key of another region is refused next to its field.
		r = admin.submit("/console/agency/trust", url.Values{"region": {"310115"}, "trust_name": {"浦东"}, "verifier_key": {otherKey}})
		if r.status != 422 || !strings.Contains(r.body, `id="err-verifier_key"`) {
			t.Fatalf("key of another region: %d\n%s", r.status, r.body)
		}
		r = admin.submit("/console/agency/trust", url.Values{"region": {"310115"}, "trust_name": {"上海市浦东新区社会保险事业管理中心"}, "verifier_key": {vkey}, "trust_url": {"https://sirec.pudong.example"}})
		if r.status != 200 || !strings.Contains(r.body, `id="trust-list"`) || !strings.Contains(r.body, strings.ReplaceAll(vkey, "+", "&#43;")) || !strings.Contains(r.body, "trust_add") {
			t.Fatalf("trust: %d\n%s", r.status, r.body)
		}

		// A collector requests a transfer out.
		col := f.client(t)
		col.login("console", "collector", staffPassword)
		r = col.get("/console/transfers")
		if r.status != 200 || !strings.Contains(r.body, `id="transfer-request"`) || !strings.Contains(r.body, `<option value="310115"`) {
			t.Fatalf("transfers page: %d\n%s", r.status, r.body)
		}
		r = col.submit("/console/transfers", url.Values{"id_number": {"110105194912310021"}, "destination": {"310115"}, "reason": {"调动"}})
		if r.status != 422 || !strings.Contains(r.body, `id="err-id_number"`) {
			t.Fatalf("bad ID number: %d", r.status)
		}
		r = col.submit("/console/transfers", url.Values{"id_number": {f.ids[1]}, "destination": {"310115"}, "reason": {"调入上海某公司"}})
		if r.status != 200 || r.resp.Request.URL.Path != "/console/transfers/T000001" || !strings.Contains(r.body, "转出申请已提交审核") ||
			!strings.Contains(r.body, `id="transfer-status">已申请<`) || !strings.Contains(r.body, `id="transfer-draft">D`) {
			t.Fatalf("request: %d %s\n%s", r.status, r.resp.Request.URL, r.body)
		}
		// A second request for the same person is refused while the first is under way.
		col.get("/console/transfers")
		if r = col.submit("/console/transfers", url.Values{"id_number": {f.ids[1]}, "destination": {"310115"}, "reason": {"再次"}}); r.status != 422 {
			t.Fatalf("second request: %d", r.status)
		}

		// Supervisors follow it; the list masks the name, the view is logged.
		sup := f.client(t)
		sup.login("console", "supervisor", staffPassword)
		r = sup.get("/console/transfers?direction=out&status=requested")
		if r.status != 200 || !strings.Contains(r.body, `href="/console/transfers/T000001"`) || !strings.Contains(r.body, "*") || strings.Contains(r.body, f.ids[1]) {
			t.Fatalf("list: %d\n%s", r.status, r.body)
		}
		if r = sup.get("/console/transfers/T000001"); r.status != 200 || !strings.Contains(r.body, `id="transfer-months"`) {
			t.Fatalf("detail: %d", r.status)
		}
		es, _, err := web.ListQueries(context.Background(), f.st.Driver(), web.QueryFilter{Person: f.key(t, 1), Actor: "supervisor"}, 0, 10)
		if err != nil || len(es) == 0 || es[0].Page != "console/transfer" {
			t.Fatalf("query log: %+v %v", es, err)
		}
		if r = sup.get("/console/transfers/T000001/package"); r.status != 403 {
			t.Fatalf("supervisor downloads a package: %d", r.status)
		}
		q := f.client(t)
		q.login("console", "query", staffPassword)
		if r = q.get("/console/transfers"); r.status != 403 {
			t.Fatalf("query post on transfers: %d", r.status)
		}
		if r = col.get("/console/agency"); r.status != 403 {
			t.Fatalf("collector on the agency page: %d", r.status)
		}

		// Taking an agency off the list needs the confirmation.
		admin.get("/console/agency")
		r = admin.submit("/console/agency/trust/remove", url.Values{"region": {"310115"}})
		if !strings.Contains(r.body, "请先勾选确认") || !strings.Contains(r.body, `id="trust-list"`) {
			t.Fatalf("remove without confirmation: %d", r.status)
		}
		r = admin.submit("/console/agency/trust/remove", url.Values{"region": {"310115"}, "confirm": {"yes"}})
		if !strings.Contains(r.body, "已移出信任列表") || !strings.Contains(r.body, `id="trust-empty"`) {
			t.Fatalf("remove: %d\n%s", r.status, r.body)
		}
	})
}
