package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/pdf/pdftest"
	"sirec/internal/querylog"
	"sirec/internal/queryuse"
	"sirec/internal/statement"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

var codeRE = regexp.MustCompile(`id="cert-code">([0-9A-Z-]{19})<`)

// TestPortalStatementsAndCertificates: a person reads and downloads their yearly statement, issues a
// certificate, and anyone checks its code on the public page — which shows nothing for an altered code.
func TestPortalStatementsAndCertificates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		if _, err := queryuse.For(f.st, nil).Statements.Run(ctx, statement.RunOptions{Year: 2024, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		v, _ := f.st.PersonRecord(ctx, f.person0)
		p := f.client(t)
		p.login("portal", web.DemoPersonAccount, portalPassword)
		if r := p.get("/portal/statements"); r.status != 200 || !strings.Contains(r.body, `href="/portal/statements/2024?version=1"`) {
			t.Fatalf("statements list: %d\n%s", r.status, r.body)
		}
		if r := p.get("/portal/statements/2024"); r.status != 200 || !strings.Contains(r.body, v.Name) || !strings.Contains(r.body, `id="statement-contributions"`) {
			t.Fatalf("statement page: %d\n%s", r.status, r.body)
		}
		pdftest.Fonts(t)
		r := p.get("/portal/statements/2024/pdf")
		if r.status != 200 || r.resp.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("statement PDF: %d %s", r.status, r.resp.Header.Get("Content-Type"))
		}
		if text := pdftest.Text(t, []byte(r.body)); !strings.Contains(text, "社会保险个人权益记录单（2024年度）") || !strings.Contains(text, v.Name) {
			t.Errorf("statement PDF text:\n%s", text)
		}
		// Nothing of the person's own reads is logged as someone else's.
		if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: f.person0}, 0, 10); len(es) != 0 {
			t.Errorf("own reads logged: %+v", es)
		}

		p.get("/portal/certificates")
		r = p.submit("/portal/certificates", url.Values{"kind": {"contributions"}, "from": {"202301"}, "to": {"202412"}})
		m := codeRE.FindStringSubmatch(r.body)
		if r.status != 200 || m == nil || !strings.Contains(r.body, `<svg class="qr"`) {
			t.Fatalf("certificate page: %d\n%s", r.status, r.body)
		}
		code := m[1]
		number := strings.TrimPrefix(r.resp.Request.URL.Path, "/portal/certificates/")
		if r := p.get("/portal/certificates/" + number + "/pdf"); r.status != 200 || !strings.Contains(pdftest.Text(t, []byte(r.body)), "验真码："+code) {
			t.Errorf("certificate PDF: %d", r.status)
		}
		p.get("/portal/certificates")
		if r := p.submit("/portal/certificates", url.Values{"kind": {"contributions"}, "from": {"202412"}, "to": {"202301"}}); r.status != 422 || !strings.Contains(r.body, `id="err-to"`) {
			t.Errorf("bad span: %d\n%s", r.status, r.body)
		}

		// The public check page: no sign-in.
		anon := f.client(t)
		r = anon.get("/verify/certificate?code=" + url.QueryEscape(code))
		if r.status != 200 || !strings.Contains(r.body, `id="verify-name">`+v.Name) || !strings.Contains(r.body, `id="verify-proof"`) {
			t.Fatalf("check page: %d\n%s", r.status, r.body)
		}
		altered := "ZZZZ" + code[4:]
		if strings.HasPrefix(code, "ZZZZ") {
			altered = "YYYY" + code[4:]
		}
		r = anon.get("/verify/certificate?code=" + altered)
		if r.status != 200 || strings.Contains(r.body, v.Name) || strings.Contains(r.body, `id="verify-lines"`) || !strings.Contains(r.body, `id="verify-status"`) {
			t.Errorf("altered code shows: %d\n%s", r.status, r.body)
		}
		// The code never reaches the server's log (it travels in the query, which is not logged).
		if strings.Contains(f.log.String(), code) || strings.Contains(f.log.String(), strings.ReplaceAll(code, "-", "")) {
			t.Error("a verification code in the server log")
		}
		// Another person cannot open this certificate.
		other := f.client(t)
		other.login("portal", web.DemoEmployerAccount, portalPassword)
		if r := other.get("/portal/certificates/" + number); r.status != http.StatusForbidden {
			t.Errorf("employer on a person's certificate: %d", r.status)
		}
	})
}

// TestObjectionFromPortalToAnswer: a person files an objection with evidence; a maintainer re-checks it in the
// console (the view logged), must confirm the closing answer, and the person reads the answer.
func TestObjectionFromPortalToAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		p := f.client(t)
		p.login("portal", web.DemoPersonAccount, portalPassword)
		p.get("/portal/objections")
		r := p.submitFiles("/portal/objections", url.Values{"subject": {"2024年养老保险缴费基数"}, "description": {"单位申报的缴费工资低于实际工资，附工资条。"}}, nil)
		if r.status != 422 || !strings.Contains(r.body, `id="err-materials"`) {
			t.Fatalf("objection without evidence: %d\n%s", r.status, r.body)
		}
		r = p.submitFiles("/portal/objections", url.Values{"subject": {"2024年养老保险缴费基数"}, "description": {"单位申报的缴费工资低于实际工资，附工资条。"}},
			map[string]map[string][]byte{"materials": {"工资条.jpg": []byte("pay slip")}})
		if r.status != 200 || !strings.Contains(r.body, `id="objection-status"`) {
			t.Fatalf("filed: %d\n%s", r.status, r.body)
		}
		number := strings.TrimPrefix(r.resp.Request.URL.Path, "/portal/objections/")

		m := f.client(t)
		m.login("console", "maintainer", staffPassword)
		if r := m.get("/console/objections"); !strings.Contains(r.body, number) {
			t.Fatalf("console list lacks %s:\n%s", number, r.body)
		}
		m.get("/console/objections/" + number)
		if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: f.person0, Actor: "maintainer"}, 0, 10); len(es) != 1 || es[0].Purpose != "objection" {
			t.Errorf("objection view not logged: %+v", es)
		}
		m.submit("/console/objections/"+number+"/assign", url.Values{})
		answer := "经核对单位工资台账和银行流水，申报工资与实发工资一致，记录无误。"
		if r := m.submit("/console/objections/"+number+"/answer", url.Values{"answer": {answer}}); r.status != 422 {
			t.Errorf("answer without confirmation: %d", r.status)
		}
		if r := m.submit("/console/objections/"+number+"/answer", url.Values{"answer": {answer}, "confirm": {"1"}}); r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("answer: %d\n%s", r.status, r.body)
		}
		if r := p.get("/portal/objections/" + number); !strings.Contains(r.body, answer) {
			t.Errorf("the person cannot read the answer:\n%s", r.body)
		}
		// The employer objects only to its own employees' records.
		e := f.client(t)
		e.login("portal", web.DemoEmployerAccount, portalPassword)
		out := -1
		for i := range f.ids {
			if !f.employs(t, i) {
				out = i
				break
			}
		}
		e.get("/portal/objections")
		r = e.submitFiles("/portal/objections", url.Values{"id_number": {f.ids[out]}, "subject": {"他人的缴费记录"}, "description": {"这不是本单位职工的记录，仅作测试。"}},
			map[string]map[string][]byte{"materials": {"x.pdf": []byte("x")}})
		if r.status != 422 || !strings.Contains(r.body, `id="err-id_number"`) {
			t.Errorf("employer objecting to a stranger: %d\n%s", r.status, r.body)
		}
	})
}

// TestProxyAndWhoLooked: a written authorisation recorded at the counter lets a proxy query in the portal and at
// the counter; both reads are logged as the proxy's, and the person sees them.
func TestProxyAndWhoLooked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		if _, err := f.accounts.Create(ctx, web.NewPortalAccount{Username: "proxy-one", Kind: web.KindPerson, Subject: f.key(t, 1), Password: portalPassword}, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
		q := f.client(t)
		q.login("console", "query", staffPassword)
		q.get("/console/proxies")
		today := time.Now().Format("2006-01-02")
		until := time.Now().AddDate(0, 1, 0).Format("2006-01-02")
		r := q.submitFiles("/console/proxies", url.Values{"person_id_number": {f.ids[0]}, "proxy_id_number": {f.ids[1]}, "proxy_name": {"李四"},
			"fields": {"identity", "contributions"}, "valid_from": {today}, "valid_until": {until}}, map[string]map[string][]byte{"materials": {"授权委托书.pdf": []byte("signed")}})
		if r.status != 200 || !strings.Contains(r.body, `id="authorisation-status"`) {
			t.Fatalf("record authorisation: %d\n%s", r.status, r.body)
		}
		number := strings.TrimPrefix(r.resp.Request.URL.Path, "/console/proxies/")
		// At the counter: the wrong person is refused, the proxy is served.
		if r := q.submit("/console/proxies/"+number+"/query", url.Values{"proxy_id_number": {f.ids[2]}}); r.status != 422 {
			t.Errorf("wrong proxy at the counter: %d", r.status)
		}
		if r := q.submit("/console/proxies/"+number+"/query", url.Values{"proxy_id_number": {f.ids[1]}}); r.status != 200 || !strings.Contains(r.body, `id="shown-fields"`) {
			t.Fatalf("proxy at the counter: %d\n%s", r.status, r.body)
		}
		// In the portal.
		pr := f.client(t)
		pr.login("portal", "proxy-one", portalPassword)
		if r := pr.get("/portal/proxy"); !strings.Contains(r.body, number) {
			t.Fatalf("proxy's list:\n%s", r.body)
		}
		if r := pr.get("/portal/proxy/" + number); r.status != 200 || !strings.Contains(r.body, "姓名 name") || strings.Contains(r.body, "个人账户余额") {
			t.Fatalf("proxy's view: %d\n%s", r.status, r.body)
		}
		es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: f.person0, ActorKind: querylog.ActorProxy}, 0, 10)
		if len(es) != 2 || es[0].Actor != "proxy-one" || es[0].Application != number || !strings.Contains(es[1].Actor, "via query") {
			t.Fatalf("proxy reads logged: %+v", es)
		}
		// The person sees who looked.
		p := f.client(t)
		p.login("portal", web.DemoPersonAccount, portalPassword)
		if r := p.get("/portal/access-log"); !strings.Contains(r.body, "proxy-one") || !strings.Contains(r.body, number) || !strings.Contains(r.body, "受托代查人") {
			t.Errorf("who looked:\n%s", r.body)
		}
		// Supervisors search the log, see that it verifies, and export it.
		s := f.client(t)
		s.login("console", "supervisor", staffPassword)
		if r := s.get("/console/querylog?actor_kind=proxy"); !strings.Contains(r.body, `id="querylog-ok"`) || strings.Count(r.body, "proxy-one") != 1 {
			t.Errorf("query log page:\n%s", r.body)
		}
		if r := s.get("/console/querylog/export?format=csv&actor_kind=proxy"); r.status != 200 || strings.Count(r.body, "\n") != 3 {
			t.Errorf("query log export: %d %q", r.status, r.body)
		}
	})
}

// TestApplicationAndStatisticsConsole: an application registered, approved by an approver, served, exported;
// once expired it serves no more. Statistics suppress small cells.
func TestApplicationAndStatisticsConsole(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	q := f.client(t)
	q.login("console", "query", staffPassword)
	q.get("/console/applications")
	until := time.Now().AddDate(0, 2, 0).Format("2006-01-02")
	r := q.submitFiles("/console/applications", url.Values{"body_name": {"某区人民法院"}, "body_kind": {"judicial"}, "credential": {"(2026)京0105执123号"},
		"purpose": {"执行案件财产调查"}, "legal_basis": {"《民事诉讼法》第二百五十二条"}, "fields": {"identity", "account"}, "id_numbers": {f.ids[2] + "\n" + f.ids[3]},
		"requested_until": {until}}, map[string]map[string][]byte{"materials": {"协助查询通知书.pdf": []byte("letter")}})
	if r.status != 200 || !strings.Contains(r.body, `id="application-status"`) {
		t.Fatalf("register: %d\n%s", r.status, r.body)
	}
	path := r.resp.Request.URL.Path
	a := f.client(t)
	a.login("console", "approver", staffPassword)
	a.get(path)
	if r := a.submit(path+"/decision", url.Values{"decision": {"approve"}, "valid_until": {until}, "fields": {"identity"}}); r.status != 200 || !strings.Contains(r.body, "已批准") {
		t.Fatalf("approve: %d\n%s", r.status, r.body)
	}
	q.get(path)
	if r := q.submit(path+"/query", url.Values{"id_number": {f.ids[2]}}); r.status != 200 || !strings.Contains(r.body, "姓名 name") || strings.Contains(r.body, "个人账户余额") {
		t.Fatalf("query: %d\n%s", r.status, r.body)
	}
	if r := q.submit(path+"/query", url.Values{"id_number": {f.ids[4]}}); r.status != 422 {
		t.Errorf("a person not covered: %d", r.status)
	}
	if r := q.get(path + "/export?format=csv"); r.status != 200 || strings.Count(r.body, "\n") != 3 {
		t.Errorf("export: %d %q", r.status, r.body)
	}
	qu := queryuse.For(f.st, nil)
	qu.SetClock(func() time.Time { return time.Now().AddDate(0, 3, 0) })
	defer qu.SetClock(time.Now)
	q.get(path)
	if r := q.submit(path+"/query", url.Values{"id_number": {f.ids[2]}}); r.status == 200 {
		t.Errorf("query after expiry: %d", r.status)
	}
	qu.SetClock(time.Now)

	s := f.client(t)
	s.login("console", "supervisor", staffPassword)
	r = s.get("/console/statistics?measure=contributions&by=region&by=type&granularity=year&from=202301&to=202412")
	if r.status != 200 || !strings.Contains(r.body, `id="statistics"`) || !strings.Contains(r.body, "人数过少") {
		t.Errorf("statistics: %d\n%s", r.status, r.body)
	}
	if r := s.get("/console/statistics/export?format=xlsx&measure=contributions&from=202301&to=202412"); r.status != 200 || !strings.HasPrefix(r.body, "PK") {
		t.Errorf("statistics export: %d", r.status)
	}
	if r := q.get("/console/statistics"); r.status != http.StatusForbidden {
		t.Errorf("query post on statistics: %d", r.status)
	}
}

// TestCounterPages walks the counter's pages: a certificate issued on a person's behalf (logged) and revoked by a
// maintainer after confirming, an objection filed at the counter, the statement runs and a statement printed.
func TestCounterPages(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	ctx := context.Background()
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	for _, path := range []string{"/console/certificates", "/console/objections/new", "/console/statements", "/console/objections", "/console/proxies", "/console/applications"} {
		if r := c.get(path); r.status != 200 || !strings.Contains(r.body, "<main") {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	c.get("/console/certificates")
	r := c.submit("/console/certificates", url.Values{"id_number": {f.ids[0]}, "kind": {"contributions"}, "from": {"202301"}, "to": {"202412"}})
	if r.status != 200 || codeRE.FindStringSubmatch(r.body) == nil {
		t.Fatalf("issue on behalf: %d\n%s", r.status, r.body)
	}
	path := r.resp.Request.URL.Path
	if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: f.person0, Actor: "collector", Purpose: "certificate"}, 0, 10); len(es) < 2 {
		t.Errorf("issue and view on behalf logged: %+v", es)
	}
	c.get("/console/certificates")
	if r := c.submit("/console/certificates", url.Values{"id_number": {"110105199001011234"}, "kind": {"contributions"}, "from": {"202301"}, "to": {"202412"}}); r.status != 422 || !strings.Contains(r.body, `id="err-id_number"`) {
		t.Errorf("bad ID number: %d", r.status)
	}
	m := f.client(t)
	m.login("console", "maintainer", staffPassword)
	m.get(path)
	if r := m.submit(path+"/revoke", url.Values{"reason": {"出具有误"}}); r.status != 422 {
		t.Errorf("revoke without confirmation: %d", r.status)
	}
	if r := m.submit(path+"/revoke", url.Values{"reason": {"出具有误"}, "confirm": {"1"}}); r.status != 200 || !strings.Contains(r.body, `id="revoked"`) {
		t.Errorf("revoke: %d\n%s", r.status, r.body)
	}
	c.get("/console/objections/new")
	r = c.submitFiles("/console/objections/new", url.Values{"id_number": {f.ids[1]}, "subject": {"2023年医疗保险"}, "description": {"本人称2023年在外地参保，此处重复记录。"}},
		map[string]map[string][]byte{"materials": {"外地参保证明.pdf": []byte("proof")}})
	if r.status != 200 || !strings.Contains(r.body, "窗口代办") {
		t.Fatalf("counter objection: %d\n%s", r.status, r.body)
	}
	// The statement runs: started, then printed at the counter.
	c.get("/console/statements")
	if r := c.submit("/console/statements/runs", url.Values{"year": {"2024"}}); r.status != 422 {
		t.Errorf("run without confirmation: %d", r.status)
	}
	if r := c.submit("/console/statements/runs", url.Values{"year": {"2024"}, "confirm": {"1"}}); r.status != 200 || !strings.Contains(r.body, `id="runs"`) {
		t.Fatalf("start run: %d\n%s", r.status, r.body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, _, _ := queryuse.For(f.st, nil).Statements.Runs(ctx, 0, 1)
		if len(runs) == 1 && runs[0].Status == statement.RunDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run: %+v", runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pdftest.Fonts(t)
	c.get("/console/statements")
	if r := c.submit("/console/statements/print", url.Values{"id_number": {f.ids[2]}, "print_year": {"2024"}}); r.status != 200 || r.resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("print: %d %s", r.status, r.body)
	}
	c.get("/console/statements")
	if r := c.submit("/console/statements/print", url.Values{"id_number": {f.ids[2]}, "print_year": {"2023"}}); r.status != 422 || !strings.Contains(r.body, `id="err-print_year"`) {
		t.Errorf("a year not issued: %d", r.status)
	}
}
