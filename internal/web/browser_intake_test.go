package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// TestBrowserEmployerIntake walks an employer registration — a business type with its own intake form — in
// real Chromium: first with a bad credit code, whose error shows beside the field; then corrected, with an
// original material, through all four review stages by four different users; then a query user finds the new
// employer by its credit code. It also opens the demo employer's page: employees masked, contributions summed.
func TestBrowserEmployerIntake(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		b := browser(t)
		f := newFixtureOn(t, env)
		prefix := env.Engine + "-"
		scan := filepath.Join(t.TempDir(), "营业执照.pdf")
		if err := os.WriteFile(scan, []byte("%PDF-1.4 business licence"), 0o644); err != nil {
			t.Fatal(err)
		}
		code := newCreditCode("91110105MA0BRWX01")
		bad := code[:17] + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[(strings.IndexByte("0123456789ABCDEFGHJKLMNPQRTUWXY", code[17])+1)%31])

		col := f.session(t, b, prefix)
		col.login("console", "collector", staffPassword)
		col.open("/console/intake/")
		col.screenshot("intake-index")
		col.do(chromedp.Click(chromedp.ID("intake-employer_registration")), chromedp.WaitVisible(chromedp.ID("credit_code")))
		col.do(chromedp.SendKeys(chromedp.ID("credit_code"), bad), chromedp.SendKeys(chromedp.ID("name"), "浏览器测试有限公司"),
			chromedp.SetValue(chromedp.ID("industry_class"), "3"), chromedp.SetValue(chromedp.ID("registered_on"), "2024-03-01"),
			chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("err-credit_code")))
		if msg := col.text("#err-credit_code"); !strings.Contains(msg, "校验码") {
			t.Errorf("inline error beside the credit code: %q", msg)
		}
		if v, err := chromedp.Run(col.ctx, chromedp.Value(chromedp.ID("name"))); err != nil || v != "浏览器测试有限公司" {
			t.Errorf("the form is not filled again: %q %v", v, err)
		}
		col.screenshot("intake-employer-error")
		col.do(chromedp.SetValue(chromedp.ID("credit_code"), code), chromedp.SetUploadFiles(chromedp.ID("materials"), []string{scan}),
			chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("draft-number")))
		number := col.text("#draft-number")
		if !strings.Contains(col.text("#materials-list"), "营业执照.pdf") || !strings.Contains(col.text("#facts"), "浏览器测试有限公司") {
			t.Fatalf("draft %s lacks its material or fact", number)
		}
		if _, err := f.st.Employer(context.Background(), code); record.ErrorCode(err) != record.ENotFound {
			t.Fatalf("recorded before approval (I1): %v", err)
		}
		col.screenshot("intake-employer-draft")
		for _, who := range []string{"initial_reviewer", "reviewer", "rechecker", "approver"} {
			s := f.session(t, b, prefix)
			s.login("console", who, staffPassword)
			s.open("/console/queue")
			s.do(chromedp.Click(chromedp.CSS(`#queue a[href="/console/drafts/`+number+`"]`)), chromedp.WaitVisible(chromedp.ID("approve")),
				chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("notice")))
		}

		q := f.session(t, b, prefix)
		q.login("console", "query", staffPassword)
		q.open("/console/employers")
		q.do(chromedp.SendKeys(chromedp.ID("q"), code), chromedp.SetValue(chromedp.ID("purpose"), "business"),
			chromedp.Click(chromedp.ID("search")), chromedp.WaitVisible(chromedp.ID("employer-name")))
		if name := q.text("#employer-name"); name != "浏览器测试有限公司" {
			t.Errorf("new employer's page shows %q", name)
		}
		q.screenshot("employer-new")

		// The demo employer: employees masked, then the contributions tab with its totals.
		q.open("/console/employers")
		q.do(chromedp.SendKeys(chromedp.ID("q"), f.employer), chromedp.SetValue(chromedp.ID("purpose"), "business"),
			chromedp.Click(chromedp.ID("search")), chromedp.WaitVisible(chromedp.ID("employees")))
		list, _, err := f.st.Employees(context.Background(), f.employer, store.EmployeesByName, 0, 25)
		if err != nil || len(list) == 0 {
			t.Fatalf("employees: %v", err)
		}
		table := q.text("#employees")
		for _, x := range list {
			if !strings.Contains(table, x.IDMasked) || strings.Contains(table, x.Name) && len([]rune(x.Name)) > 1 {
				t.Errorf("employee %s not shown masked", x.Person)
			}
		}
		q.screenshot("employer")
		q.do(chromedp.Click(chromedp.ID("tab-contributions")), chromedp.WaitVisible(chromedp.ID("employer-contributions")))
		_, _, sum, err := f.st.EmployerContributions(context.Background(), f.employer, store.EmployerContributionsFilter{}, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if total := q.text("#contributions-total"); !strings.Contains(total, sum.EmployerAmt.String()) {
			t.Errorf("contributions total %q lacks %s", total, sum.EmployerAmt)
		}
		q.screenshot("employer-contributions")

		// The journal page: a supervisor verifies now and sees the outcome.
		s := f.session(t, b, prefix)
		s.login("console", "supervisor", staffPassword)
		s.open("/console/journal")
		s.do(chromedp.Click(chromedp.ID("verify-now")), chromedp.WaitVisible(chromedp.ID("notice")))
		// The page reloads itself while the verification runs: open it until the outcome is listed.
		res := ""
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !strings.Contains(res, "通过"); time.Sleep(200 * time.Millisecond) {
			s.open("/console/journal")
			res, _ = chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS("main")))
		}
		if !strings.Contains(res, "通过") {
			t.Errorf("verification not listed: %q", res)
		}
		s.screenshot("journal")
	})
}
