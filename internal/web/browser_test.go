package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sirec/internal/record"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

// chromium returns the browser to test with: SIREC_TEST_CHROMIUM, else /usr/bin/chromium or chromium on the
// PATH. Without one the browser tests are skipped, except in CI (CI=true), where they fail.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SIREC_TEST_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found (set SIREC_TEST_CHROMIUM or run scripts/test.sh, which installs it): browser tests are required in CI")
	}
	t.Skip("Chromium not found: set SIREC_TEST_CHROMIUM or run scripts/test.sh to run the browser tests")
	return ""
}

// artifacts returns the folder for screenshots: SIREC_ARTIFACTS, or screenshots/ under the system's temporary
// folder.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SIREC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sirec-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium for one test, with a fresh profile and nothing that calls out to the
// internet.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true), chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true), chromedp.Flag("password-store", "basic"))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(alloc)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// session is one person at one browser: an isolated browser context (own cookies) on the test's browser.
type session struct {
	t    *testing.T
	ctx  context.Context
	base string
	shot string // screenshot name prefix
}

func (f *fixture) session(t *testing.T, b context.Context, prefix string) *session {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute) // generous: a loaded 2-core CI machine is slow
	t.Cleanup(cancel)
	return &session{t: t, ctx: ctx, base: f.srv.URL, shot: prefix}
}

func (s *session) do(steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, steps...); err != nil {
		loc, _ := chromedp.Run(s.ctx, chromedp.Location())
		body, _ := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS("main")))
		s.t.Fatalf("at %s: %v\npage: %s", loc, err, body)
	}
}

func (s *session) text(sel string) string {
	s.t.Helper()
	v, err := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

func (s *session) open(path string) {
	s.t.Helper()
	s.do(chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// login signs in through the sign-in page's form.
func (s *session) login(area, user, password string) {
	s.t.Helper()
	s.open("/" + area + "/login")
	s.do(chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.CSS("#logout")))
}

// screenshot saves the whole page as PNG.
func (s *session) screenshot(name string) {
	s.t.Helper()
	png, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifacts(s.t), s.shot+name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func newIDNumber(birth string, seq int) string {
	body := "110105" + birth + string(rune('0'+seq/100%10)) + string(rune('0'+seq/10%10)) + string(rune('0'+seq%10))
	return body + string(record.IDCheckChar(body))
}

// TestBrowserReviewFlow walks a person registration through intake and all four review stages with five
// different users in real Chromium, then finds the person; and it returns a second registration to its maker.
func TestBrowserReviewFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		b := browser(t)
		f := newFixtureOn(t, env)
		prefix := env.Engine + "-"
		scan := filepath.Join(t.TempDir(), "身份证复印件.pdf")
		if err := os.WriteFile(scan, []byte("%PDF-1.4 scan of an ID card"), 0o644); err != nil {
			t.Fatal(err)
		}
		id := newIDNumber("19850615", 101)

		collector := f.session(t, b, prefix)
		collector.login("console", "collector", staffPassword)
		collector.open("/console/intake/person")
		// First with a wrong check digit: the error shows next to the field, and nothing is kept.
		bad := id[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", id[17])+1)%11])
		collector.do(chromedp.SendKeys(chromedp.ID("id_number"), bad), chromedp.SendKeys(chromedp.ID("name"), "王测试"),
			chromedp.SendKeys(chromedp.ID("phone"), "13800000000"), chromedp.Click(chromedp.ID("type_medical")),
			chromedp.SendKeys(chromedp.ID("employer"), f.employer),
			chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("err-id_number")))
		if msg := collector.text("#err-id_number"); !strings.Contains(msg, "校验码") {
			t.Errorf("inline error: %q", msg)
		}
		collector.screenshot("intake-person-errors")
		collector.do(chromedp.SetValue(chromedp.ID("id_number"), id), chromedp.SetUploadFiles(chromedp.ID("materials"), []string{scan}))
		collector.screenshot("intake-person")
		collector.do(chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("draft-number")))
		number := collector.text("#draft-number")
		if !strings.HasPrefix(number, "D") || !strings.Contains(collector.text("#materials-list"), "身份证复印件.pdf") {
			t.Fatalf("draft %q without its material", number)
		}
		collector.screenshot("draft-submitted")

		for i, reviewer := range []string{"initial_reviewer", "reviewer", "rechecker", "approver"} {
			s := f.session(t, b, prefix)
			s.login("console", reviewer, staffPassword)
			s.open("/console/queue")
			if i == 0 {
				s.screenshot("queue")
			}
			s.do(chromedp.Click(chromedp.CSS(`#queue a[href="/console/drafts/`+number+`"]`)), chromedp.WaitVisible(chromedp.ID("approve")))
			if i == 3 {
				s.screenshot("draft-approval")
			}
			s.do(chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("notice")))
			want := []string{"审核", "复核", "审批", ""}[i]
			if i < 3 && s.text("#draft-stage") != want {
				t.Errorf("after %s the draft waits at %q, want %q", reviewer, s.text("#draft-stage"), want)
			}
			if i == 3 && s.text("#draft-status") != "已入账" {
				t.Errorf("after approval the status is %q", s.text("#draft-status"))
			}
		}
		approver := f.session(t, b, prefix)
		approver.login("console", "approver", staffPassword)
		approver.screenshot("dashboard")

		q := f.session(t, b, prefix)
		q.login("console", "query", staffPassword)
		q.open("/console/persons")
		q.do(chromedp.SendKeys(chromedp.ID("id_number"), id), chromedp.SetValue(chromedp.ID("purpose"), "counter"),
			chromedp.Click(chromedp.ID("search")), chromedp.WaitVisible(chromedp.ID("person-name")))
		if name := q.text("#person-name"); name != "王测试" {
			t.Errorf("person page shows %q", name)
		}
		if ids := q.text("#person-id"); ids != record.MaskID(id) {
			t.Errorf("ID shown as %q, want masked %q", ids, record.MaskID(id))
		}
		if en := q.text("#enrolments"); !strings.Contains(en, "养老保险") || !strings.Contains(en, "医疗保险") || !strings.Contains(en, f.employer) {
			t.Errorf("enrolments: %q", en)
		}
		loc, _ := chromedp.Run(q.ctx, chromedp.Location())
		if strings.Contains(loc, id) {
			t.Errorf("ID number in the URL %s", loc)
		}
		q.screenshot("person-new")
		// A demo person with years of contributions: tables and the account chart.
		q.open("/console/persons")
		q.do(chromedp.SendKeys(chromedp.ID("id_number"), f.ids[0]), chromedp.SetValue(chromedp.ID("purpose"), "counter"),
			chromedp.Click(chromedp.ID("search")), chromedp.WaitVisible(chromedp.CSS("svg.chart")), chromedp.WaitVisible(chromedp.ID("account")))
		q.screenshot("person")

		// A rejected draft goes back to its maker with the reason.
		collector.open("/console/intake/person")
		collector.do(chromedp.SendKeys(chromedp.ID("id_number"), newIDNumber("19900101", 202)), chromedp.SendKeys(chromedp.ID("name"), "李退回"),
			chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("draft-number")))
		second := collector.text("#draft-number")
		ir := f.session(t, b, prefix)
		ir.login("console", "initial_reviewer", staffPassword)
		ir.open("/console/drafts/" + second)
		// Rejecting without a reason is refused next to the field.
		ir.do(chromedp.Click(chromedp.ID("reject")), chromedp.WaitVisible(chromedp.ID("err-reason")))
		const reason = "身份证复印件不清晰，请重新扫描"
		ir.do(chromedp.SendKeys(chromedp.ID("reason"), reason), chromedp.Click(chromedp.ID("reject")), chromedp.WaitVisible(chromedp.ID("notice")))
		collector.open("/console/")
		if row := collector.text("#my-drafts"); !strings.Contains(row, second) || !strings.Contains(row, reason) || !strings.Contains(row, "已退回") {
			t.Errorf("maker's dashboard: %q", row)
		}
		collector.screenshot("dashboard-returned")
		collector.open("/console/drafts/" + second)
		if got := collector.text("#reject-reason"); !strings.Contains(got, reason) {
			t.Errorf("reason on the draft page: %q", got)
		}
		collector.screenshot("draft-returned")

		// The language switch.
		en := f.session(t, b, prefix)
		en.open("/console/login")
		en.do(chromedp.Click(chromedp.CSS(`button[name="lang"]`)))
		// The click submits a form: wait for the new page rather than read the old one while it unloads.
		var h string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if v, err := chromedp.Run(en.ctx, chromedp.Text(chromedp.CSS("main h1"))); err == nil {
				if h = v; h == "Staff sign-in" {
					break
				}
			}
		}
		if h != "Staff sign-in" {
			t.Errorf("English sign-in page title %q", h)
		}
		en.screenshot("login-en")
	})
}

// TestBrowserPortal: an insured person sees their own record and nobody else's; an employer sees its employees
// and no one else.
func TestBrowserPortal(t *testing.T) {
	b := browser(t)
	f := newFixture(t, "sqlite", false)
	p := f.session(t, b, "sqlite-")
	p.login("portal", web.DemoPersonAccount, portalPassword)
	v, err := f.st.PersonRecord(context.Background(), f.person0)
	if err != nil {
		t.Fatal(err)
	}
	if p.text("#person-name") != v.Name {
		t.Errorf("own record shows %q, want %q", p.text("#person-name"), v.Name)
	}
	p.do(chromedp.WaitVisible(chromedp.CSS("svg.chart")), chromedp.WaitVisible(chromedp.ID("contribution-years")))
	p.screenshot("portal-person")
	p.open("/portal/persons/" + f.key(t, 1))
	if msg := p.text("#error-message"); !strings.Contains(msg, "只能查看本人") {
		t.Errorf("another person's page: %q", msg)
	}
	p.screenshot("portal-refused")

	e := f.session(t, b, "sqlite-")
	e.login("portal", web.DemoEmployerAccount, portalPassword)
	e.do(chromedp.WaitVisible(chromedp.ID("employees")))
	e.screenshot("portal-employer")
	in, out := -1, -1
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
	e.do(chromedp.Click(chromedp.CSS(`#employees a[href="/portal/employees/`+f.key(t, in)+`"]`)), chromedp.WaitVisible(chromedp.ID("employee-name")))
	e.screenshot("portal-employee")
	e.open("/portal/employees/" + f.key(t, out))
	if msg := e.text("#error-message"); !strings.Contains(msg, "不是本单位职工") {
		t.Errorf("non-employee: %q", msg)
	}
}
