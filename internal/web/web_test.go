package web_test

import (
	"context"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	for _, path := range []string{"/console/login", "/portal/login", "/static/site.css", "/console/no-such-page"} {
		r := c.get(path)
		h := r.resp.Header
		csp := h.Get("Content-Security-Policy")
		if csp != web.ContentSecurityPolicy || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Frame-Options %q, X-Content-Type-Options %q", path, h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"))
		}
	}
	// The pages use no inline script or style that the policy would block.
	for _, path := range []string{"/console/login", "/portal/login"} {
		body := c.get(path).body
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
			t.Errorf("%s has inline script or style", path)
		}
	}
	// / goes to the console; the API still answers beside the pages.
	if r := c.get("/"); r.resp.Request.URL.Path != "/console/login" {
		t.Errorf("/ ended at %s", r.resp.Request.URL.Path)
	}
	if r := c.get("/healthz"); r.status != 200 || !strings.Contains(r.body, `"status":"ok"`) {
		t.Errorf("/healthz: %d %s", r.status, r.body)
	}
}

func TestCookieFlags(t *testing.T) {
	for _, tls := range []bool{false, true} {
		f := newFixture(t, "sqlite", tls)
		for _, area := range []struct{ area, user, pw, cookie, path string }{
			{"console", "collector", staffPassword, "sirec_console", "/console/"},
			{"portal", web.DemoPersonAccount, portalPassword, "sirec_portal", "/portal/"},
		} {
			c := f.client(t)
			c.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			pre := c.get("/" + area.area + "/login")
			checkCookie(t, pre.resp, "sirec_pre", "/", tls)
			r := c.submit("/"+area.area+"/login", url.Values{"username": {area.user}, "password": {area.pw}})
			if r.status != http.StatusSeeOther {
				t.Fatalf("%s login: %d", area.area, r.status)
			}
			checkCookie(t, r.resp, area.cookie, area.path, tls)
		}
		c := f.client(t)
		c.get("/console/login")
		r := c.submit("/console/lang", url.Values{"lang": {"en"}, "back": {"/console/login"}})
		if !strings.Contains(r.body, "Staff sign-in") {
			t.Errorf("language switch to English did not take: %s", r.body)
		}
	}
}

func checkCookie(t *testing.T, resp *http.Response, name, path string, secure bool) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name != name {
			continue
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.Path != path {
			t.Errorf("cookie %s: HttpOnly %v SameSite %v Secure %v (want %v) Path %q", name, c.HttpOnly, c.SameSite, c.Secure, secure, c.Path)
		}
		return
	}
	t.Errorf("no cookie %s set", name)
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	c.get("/console/login")
	good := c.csrf()
	creds := func(token string) url.Values {
		v := url.Values{"username": {"collector"}, "password": {staffPassword}}
		if token != "" {
			v.Set("csrf", token)
		}
		return v
	}
	wrong := "x" + good[1:]
	if good[0] == 'x' { // the token's first character may be an x already: change it all the same
		wrong = "y" + good[1:]
	}
	for name, token := range map[string]string{"missing": "", "wrong": wrong, "other area": ""} {
		path := "/console/login"
		if name == "other area" {
			path, token = "/portal/login", good
		}
		r := c.post(path, creds(token))
		if r.status != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, r.status)
		}
	}
	// Another browser's token is refused: it is bound to that browser's cookie.
	other := f.client(t)
	other.get("/console/login")
	if r := c.post("/console/login", creds(other.csrf())); r.status != http.StatusForbidden {
		t.Errorf("another browser's token: %d, want 403", r.status)
	}
	if r := c.post("/console/login", creds(good)); r.status != 200 || r.resp.Request.URL.Path != "/console/" {
		t.Fatalf("good token: %d at %s", r.status, r.resp.Request.URL.Path)
	}
	// Signed in, the token changes with the session: the sign-in page's token no longer works.
	form := url.Values{"id_number": {f.ids[0]}, "purpose": {"counter"}, "csrf": {good}}
	if r := c.post("/console/persons", form); r.status != http.StatusForbidden {
		t.Errorf("pre-session token after sign-in: %d, want 403", r.status)
	}
	c.get("/console/persons")
	if r := c.submit("/console/persons", url.Values{"id_number": {f.ids[0]}, "purpose": {"counter"}}); r.status != 200 {
		t.Errorf("session token: %d", r.status)
	}
	// Sign-out needs the token too.
	if r := c.post("/console/logout", url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("logout without token: %d", r.status)
	}
}

func TestMaskName(t *testing.T) {
	for in, want := range map[string]string{"张三丰": "张**", "王伟": "王*", "李": "李", "": "", "欧阳娜娜": "欧***"} {
		if got := web.MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEmployerListMasked: the employer's employee list shows names and ID numbers masked.
func TestEmployerListMasked(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	c.login("portal", web.DemoEmployerAccount, portalPassword)
	body := c.last
	shown := 0
	for i := range f.ids {
		if strings.Contains(body, f.ids[i]) {
			t.Errorf("full ID number of person %d on the employer page", i)
		}
		v, err := f.st.PersonRecord(context.Background(), f.key(t, i))
		if err != nil {
			t.Fatal(err)
		}
		if f.employs(t, i) {
			if !strings.Contains(body, v.IDMasked) || !strings.Contains(body, web.MaskName(v.Name)) {
				t.Errorf("employee %d not listed masked", i)
			}
			shown++
		}
		if strings.Contains(body, ">"+v.Name+"<") {
			t.Errorf("full name of person %d on the employer page", i)
		}
	}
	if shown == 0 {
		t.Fatal("the demo employer has no employees in the fixture")
	}
}

// TestNoIDNumberInURLsOrLogs walks the pages that take an ID number and checks that none reaches a URL or the log.
func TestNoIDNumberInURLsOrLogs(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	newID := "11010519800101003" + string(record.IDCheckChar("11010519800101003"))
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	c.get("/console/intake/person")
	r := c.submit("/console/intake/person", url.Values{"id_number": {newID}, "name": {"测试人"}, "region": {"110105"},
		"registered_on": {"2024-03-01"}, "type_pension": {"on"}})
	if r.status != 200 || !strings.HasPrefix(r.resp.Request.URL.Path, "/console/drafts/D") {
		t.Fatalf("submit: %d at %s\n%s", r.status, r.resp.Request.URL.Path, r.body)
	}
	c.get("/console/intake/contribution")
	c.submit("/console/intake/contribution", url.Values{"id_number": {f.ids[1]}, "period": {"202401"}, "type": {"pension"}, "wage": {"8000"}, "status": {"paid"}})
	q := f.client(t)
	q.login("console", "query", staffPassword)
	for _, id := range f.ids[:3] {
		q.get("/console/persons")
		if r := q.submit("/console/persons", url.Values{"id_number": {id}, "purpose": {"counter"}}); r.status != 200 {
			t.Fatalf("search: %d", r.status)
		}
	}
	q.get("/console/persons")
	q.submit("/console/persons", url.Values{"id_number": {"110105198001010099"}, "purpose": {"counter"}}) // bad check digit
	all := append(append([]string{}, f.ids...), newID)
	log := f.log.String()
	if !strings.Contains(log, "path=/console/persons/") {
		t.Fatalf("the log shows no person page requests:\n%s", log)
	}
	for _, id := range append(all, "110105198001010099") {
		if strings.Contains(log, id) || strings.Contains(log, id[:14]) {
			t.Errorf("ID number %s in the log", record.MaskID(id))
		}
		for _, u := range append(c.urls, q.urls...) {
			if strings.Contains(u, id) || strings.Contains(u, id[:14]) {
				t.Errorf("ID number %s in URL %s", record.MaskID(id), u)
			}
		}
	}
}

func TestPostsDecideAccess(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	key := f.key(t, 0)
	for _, tc := range []struct {
		user   string
		path   string
		status int
	}{
		{"sysadmin", "/console/persons", http.StatusForbidden},
		{"sysadmin", "/console/persons/" + key + "?purpose=counter", http.StatusForbidden},
		{"dbadmin", "/console/persons/" + key + "?purpose=counter", http.StatusForbidden},
		{"query", "/console/persons/" + key + "?purpose=counter", http.StatusOK},
		{"query", "/console/intake/person", http.StatusForbidden},
		{"query", "/console/queue", http.StatusForbidden},
		{"collector", "/console/queue", http.StatusForbidden},
		{"initial_reviewer", "/console/intake/batch", http.StatusForbidden},
		{"supervisor", "/console/querylog", http.StatusOK},
		{"collector", "/console/querylog", http.StatusForbidden},
		{"sysadmin", "/console/", http.StatusOK},
	} {
		c := f.client(t)
		c.login("console", tc.user, staffPassword)
		if r := c.get(tc.path); r.status != tc.status {
			t.Errorf("%s GET %s: %d, want %d", tc.user, tc.path, r.status, tc.status)
		}
	}
	// Nobody signed in is sent to sign in; a portal session does not open the console.
	c := f.client(t)
	c.login("portal", web.DemoPersonAccount, portalPassword)
	if r := c.get("/console/persons/" + key + "?purpose=counter"); r.resp.Request.URL.Path != "/console/login" {
		t.Errorf("portal user reached %s", r.resp.Request.URL.Path)
	}
}

func TestInlineValidationErrors(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	c.get("/console/intake/person")
	r := c.submit("/console/intake/person", url.Values{"id_number": {"110105198001010099"}, "name": {"测试"}, "region": {"11"},
		"registered_on": {"2024-13-01"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.status)
	}
	if !strings.Contains(r.body, `id="err-types"`) {
		t.Errorf("no error next to the insurance types:\n%s", r.body)
	}
	// The domain reports the first bad field of a fact; each is shown next to its field.
	good := "11010519800101003" + string(record.IDCheckChar("11010519800101003"))
	for _, tc := range []struct{ id, region, date, field, msg string }{
		{"110105198001010099", "110105", "2024-03-01", "id_number", "校验码不正确"},
		{good, "11", "2024-03-01", "region", "6位行政区划代码"},
		{good, "110105", "2024-13-01", "registered_on", "日期"},
	} {
		r = c.submit("/console/intake/person", url.Values{"id_number": {tc.id}, "name": {"测试"}, "region": {tc.region},
			"registered_on": {tc.date}, "type_pension": {"on"}})
		re := regexp.MustCompile(`id="err-` + tc.field + `">[^<]*` + tc.msg)
		if r.status != http.StatusUnprocessableEntity || !re.MatchString(r.body) {
			t.Errorf("field %s: %d, no inline message %q", tc.field, r.status, tc.msg)
		}
	}
	if !strings.Contains(r.body, `value="测试"`) {
		t.Error("the form is not filled again with what was submitted")
	}
	// A batch with bad rows lists each row and refuses the whole file.
	c.get("/console/intake/batch")
	csv := "id_number,period,type,wage,status\n" + f.ids[0] + ",202401,pension,8000,paid\n" + f.ids[1] + ",202413,pension,8000,paid\n"
	r = c.submitFiles("/console/intake/batch", nil, map[string]map[string][]byte{"file": {"jan.csv": []byte(csv)}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "row 3") || !strings.Contains(r.body, `id="err-file"`) {
		t.Errorf("bad batch: %d\n%s", r.status, r.body)
	}
}

func TestMaterialsAndBatch(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	c.get("/console/intake/contribution")
	scan := []byte("%PDF-1.4 scanned wage slip")
	r := c.submitFiles("/console/intake/contribution", url.Values{"id_number": {f.ids[2]}, "period": {"202401"}, "type": {"medical"},
		"wage": {"9000.50"}, "status": {"paid"}}, map[string]map[string][]byte{"materials": {"工资单.pdf": scan}})
	if r.status != 200 || !strings.Contains(r.body, "工资单.pdf") {
		t.Fatalf("contribution with material: %d\n%s", r.status, r.body)
	}
	link := regexp.MustCompile(`href="(/console/drafts/D\d+/materials/[0-9a-f]{64})"`).FindStringSubmatch(r.body)
	if link == nil {
		t.Fatal("no download link")
	}
	if d := c.get(link[1]); d.status != 200 || d.body != string(scan) || !strings.Contains(d.resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q", d.status, d.body)
	}
	// A material of another draft is not served under this draft.
	other := strings.Replace(link[1], "/D0", "/D9", 1)
	if d := c.get(other); d.status == 200 {
		t.Error("material served under another draft number")
	}
	c.get("/console/intake/batch")
	csv := "id_number,period,type,wage,status\n" + f.ids[0] + ",202401,pension,8000,paid\n" + f.ids[1] + ",202401,pension,9000,paid\n"
	r = c.submitFiles("/console/intake/batch", nil, map[string]map[string][]byte{"file": {"2024-01.csv": []byte(csv)}})
	if r.status != 200 || !strings.Contains(r.body, "2024-01.csv") || !strings.Contains(r.body, "月度缴费批量") {
		t.Fatalf("batch: %d\n%s", r.status, r.body)
	}
}

func TestQueryLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		d := f.st.Driver()
		// The person's own view is not a query by someone else.
		p := f.client(t)
		p.login("portal", web.DemoPersonAccount, portalPassword)
		if es, _, _ := web.ListQueries(ctx, d, web.QueryFilter{}, 0, 10); len(es) != 0 {
			t.Fatalf("own view logged: %+v", es)
		}
		q := f.client(t)
		q.login("console", "query", staffPassword)
		q.get("/console/persons")
		q.submit("/console/persons", url.Values{"id_number": {f.ids[0]}, "purpose": {"objection"}})
		es, total, err := web.ListQueries(ctx, d, web.QueryFilter{Person: f.person0}, 0, 10)
		if err != nil || total != 1 || es[0].Actor != "query" || es[0].ActorKind != web.ActorStaff || es[0].Purpose != "objection" ||
			es[0].Page != "console/person" || !strings.Contains(es[0].Fields, "contributions") {
			t.Fatalf("staff view: %d %+v %v", total, es, err)
		}
		e := f.client(t)
		e.login("portal", web.DemoEmployerAccount, portalPassword)
		es, _, err = web.ListQueries(ctx, d, web.QueryFilter{Actor: web.DemoEmployerAccount}, 0, 100)
		if err != nil || len(es) == 0 || es[0].ActorKind != web.ActorEmployer {
			t.Fatalf("employer list view: %+v %v", es, err)
		}
		// Supervisors read the log in the console.
		s := f.client(t)
		s.login("console", "supervisor", staffPassword)
		if r := s.get("/console/querylog"); !strings.Contains(r.body, f.person0) || !strings.Contains(r.body, "objection") {
			t.Errorf("query log page:\n%s", r.body)
		}
		// A draft shows the persons it names: viewing it is logged too.
		dr, err := review.New(f.st).Submit(ctx, review.Actor{User: "collector", Posts: []string{"collector"}}, review.Submission{Kind: "other",
			Facts: []review.DraftFact{{Type: record.TypeOtherRecorded, IDNumber: f.ids[0], Data: []byte(`{"kind":"note","attributes":{"a":"b"}}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		s.get("/console/drafts/" + dr.Number)
		es, _, err = web.ListQueries(ctx, d, web.QueryFilter{Actor: "supervisor", Person: f.person0}, 0, 10)
		if err != nil || len(es) != 1 || es[0].Page != "console/draft" || es[0].Purpose != "review" {
			t.Fatalf("draft view: %+v %v", es, err)
		}
	})
}

func TestPortalAccounts(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	ctx := context.Background()
	now := time.Now()
	for name, n := range map[string]web.NewPortalAccount{
		"unknown person":   {Username: "p-unknown", Kind: web.KindPerson, Subject: "nobody", Password: portalPassword},
		"bad kind":         {Username: "p-kind", Kind: "staff", Subject: f.person0, Password: portalPassword},
		"weak password":    {Username: "p-weak", Kind: web.KindPerson, Subject: f.person0, Password: "short"},
		"taken":            {Username: web.DemoPersonAccount, Kind: web.KindPerson, Subject: f.person0, Password: portalPassword},
		"bad credit code":  {Username: "e-bad", Kind: web.KindEmployer, Subject: "91110000XXXXXXXXX1", Password: portalPassword},
		"unknown employer": {Username: "e-unknown", Kind: web.KindEmployer, Subject: "91110105MA0000000" + string(record.USCCCheckChar("91110105MA0000000")), Password: portalPassword},
	} {
		if _, err := f.accounts.Create(ctx, n, "test", now); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	cfg := auth.DefaultConfig()
	for i := 0; i < cfg.MaxFailures; i++ {
		if _, _, err := f.accounts.Login(ctx, web.DemoPersonAccount, "wrong-pass-1", now); record.ErrorCode(err) != record.EUnauthorized {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	if _, _, err := f.accounts.Login(ctx, web.DemoPersonAccount, portalPassword, now); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked account signed in: %v", err)
	}
	tok, acc, err := f.accounts.Login(ctx, web.DemoPersonAccount, portalPassword, now.Add(cfg.LockoutDuration+time.Second))
	if err != nil || acc.Subject != f.person0 {
		t.Fatalf("after the lockout: %+v %v", acc, err)
	}
	if _, err := f.accounts.Authenticate(ctx, tok, now.Add(cfg.LockoutDuration+cfg.IdleTimeout+time.Minute)); err == nil {
		t.Error("idle session accepted")
	}
}

// TestPortalScope checks Q1 and Q3 without a browser: a person sees only their own record, an employer only
// its employees' items for their time there.
func TestPortalScope(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	p := f.client(t)
	p.login("portal", web.DemoPersonAccount, portalPassword)
	v, _ := f.st.PersonRecord(context.Background(), f.person0)
	if !strings.Contains(p.last, v.Name) || !strings.Contains(p.last, `id="account"`) || !strings.Contains(p.last, `<svg class="chart"`) {
		t.Errorf("own record page incomplete:\n%s", p.last)
	}
	if r := p.get("/portal/persons/" + f.person0); r.status != 200 {
		t.Errorf("own page by key: %d", r.status)
	}
	for _, path := range []string{"/portal/persons/" + f.key(t, 1), "/portal/employees/" + f.key(t, 1)} {
		if r := p.get(path); r.status != http.StatusForbidden {
			t.Errorf("person GET %s: %d", path, r.status)
		}
	}
	e := f.client(t)
	e.login("portal", web.DemoEmployerAccount, portalPassword)
	var in, out int = -1, -1
	for i := range f.ids {
		if f.employs(t, i) && in < 0 {
			in = i
		}
		if !f.employs(t, i) && out < 0 {
			out = i
		}
	}
	if in < 0 || out < 0 {
		t.Fatalf("fixture needs an employee and a non-employee (%d, %d)", in, out)
	}
	if r := e.get("/portal/employees/" + f.key(t, out)); r.status != http.StatusForbidden {
		t.Errorf("non-employee: %d", r.status)
	}
	r := e.get("/portal/employees/" + f.key(t, in))
	if r.status != 200 || strings.Contains(r.body, `id="account"`) || strings.Contains(r.body, "estimate") {
		t.Errorf("employee page: %d, shows more than Q3 allows:\n%s", r.status, r.body)
	}
	if r := e.get("/portal/persons/" + f.key(t, in)); r.status != http.StatusForbidden {
		t.Errorf("employer on a person page: %d", r.status)
	}
}

// TestCatalogue checks that every message key the templates name exists in both languages.
func TestCatalogue(t *testing.T) {
	re := regexp.MustCompile(`\.T "([a-z_.]+)"`)
	err := fs.WalkDir(os.DirFS("templates"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile("templates/" + path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			for _, lang := range []string{"zh", "en"} {
				if !web.HasMessage(lang, m[1]) {
					t.Errorf("%s: key %q missing in %s", path, m[1], lang)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var dynamic []string
	for k := range review.Kinds {
		dynamic = append(dynamic, "kind."+k)
	}
	for _, st := range review.Stages {
		dynamic = append(dynamic, "stage."+st)
	}
	for _, ty := range record.InsuranceTypes {
		dynamic = append(dynamic, "type."+ty)
	}
	for _, p := range web.Purposes {
		dynamic = append(dynamic, "purpose."+p)
	}
	for _, k := range record.EligibilityKinds {
		dynamic = append(dynamic, "benefit."+k)
	}
	for _, k := range []string{"status.in_review", "status.returned", "status.approved", "status.withdrawn", "decision.submit",
		"decision.approve", "decision.reject", "decision.resubmit", "decision.withdraw", "area.console", "area.portal",
		"console.login.hint", "portal.login.hint", "fact." + record.TypePersonRegistered, "fact." + record.TypeContributionPosted} {
		dynamic = append(dynamic, k)
	}
	for _, k := range dynamic {
		for _, lang := range []string{"zh", "en"} {
			if !web.HasMessage(lang, k) {
				t.Errorf("key %q missing in %s", k, lang)
			}
		}
	}
	if missing := web.MissingMessages(); len(missing) > 0 {
		t.Errorf("keys in one language only: %v", missing)
	}
}
