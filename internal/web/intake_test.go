package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

var draftPathRE = regexp.MustCompile(`^/console/drafts/(D\d+)$`)

// submitted returns the number of the draft a form submission landed on, failing the test when it did not.
func submitted(t *testing.T, r result) string {
	t.Helper()
	m := draftPathRE.FindStringSubmatch(r.resp.Request.URL.Path)
	if r.status != http.StatusOK || m == nil {
		errs := regexp.MustCompile(`id="err-[a-z_]+">[^<]*|<div class="errors"[^>]*>.*?</div>`).FindAllString(r.body, -1)
		t.Fatalf("submission: %d at %s; errors: %v", r.status, r.resp.Request.URL.Path, errs)
	}
	return m[1]
}

// reviewers are one signed-in console client per review post, named after the post.
type reviewerClients map[string]*client

func (f *fixture) reviewerClients(t *testing.T) reviewerClients {
	rc := reviewerClients{}
	for _, post := range review.Stages {
		c := f.client(t)
		c.login("console", review.StagePost[post], staffPassword)
		rc[post] = c
	}
	return rc
}

// approveAll approves a draft at every stage of its chain through the console, each stage by the user holding
// that stage's post, and fails the test unless it ends recorded.
func (f *fixture) approveAll(t *testing.T, rc reviewerClients, number string) review.Draft {
	t.Helper()
	rv := review.New(f.st)
	id := draftNumber(t, number)
	for range review.Stages {
		d, err := rv.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != review.StatusInReview {
			break
		}
		c := rc[d.Stage]
		c.get("/console/drafts/" + number)
		if r := c.submit("/console/drafts/"+number+"/decision", url.Values{"decision": {"approve"}}); r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("approve %s at %s: %d\n%s", number, d.Stage, r.status, r.body)
		}
	}
	d, err := rv.Get(context.Background(), id)
	if err != nil || d.Status != review.StatusApproved {
		t.Fatalf("draft %s not recorded: %+v %v", number, d.Status, err)
	}
	return d
}

func draftNumber(t *testing.T, number string) int64 {
	t.Helper()
	var id int64
	for _, c := range strings.TrimPrefix(number, "D") {
		id = id*10 + int64(c-'0')
	}
	return id
}

// record returns demo person i's record.
func (f *fixture) record(t *testing.T, i int) *store.PersonView {
	t.Helper()
	v, err := f.st.PersonRecord(context.Background(), f.key(t, i))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newCreditCode makes a valid unified social credit code that is not registered.
func newCreditCode(body string) string { return body + string(record.USCCCheckChar(body)) }

// TestIntakeEveryKind takes in one draft of every business type that has a console form, through that form
// with an original material, walks it through its review chain, and finds it in the record (I1: nothing is
// recorded before the final approval).
func TestIntakeEveryKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		col := f.client(t)
		col.login("console", "collector", staffPassword)
		rc := f.reviewerClients(t)
		newEmployer := newCreditCode("91110105MA0TEXT01")
		stop := f.record(t, 5).Enrolments[0]
		ruleSet, err := os.ReadFile("../rules/testdata/beijing-2025.toml")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			kind  string
			form  url.Values
			check func(t *testing.T)
		}{
			{"person_change", url.Values{"id_number": {f.ids[3]}, "name": {"张新名"}, "reason": {"本人申请，户籍已变更"}}, func(t *testing.T) {
				if v := f.record(t, 3); v.Name != "张新名" {
					t.Errorf("name after the change: %q", v.Name)
				}
			}},
			{"enrolment_start", url.Values{"id_number": {f.ids[4]}, "type": {record.Maternity}, "employer": {f.employer}, "from": {"2024-01-01"}}, func(t *testing.T) {
				if !slices.ContainsFunc(f.record(t, 4).Enrolments, func(e store.EnrolmentView) bool {
					return e.Type == record.Maternity && e.Employer == f.employer && e.From == "2024-01-01"
				}) {
					t.Error("maternity enrolment missing")
				}
			}},
			{"enrolment_stop", url.Values{"id_number": {f.ids[5]}, "type": {stop.Type}, "employer": {stop.Employer}, "to": {"2024-12-31"}, "reason": {"解除劳动合同"}}, func(t *testing.T) {
				if !slices.ContainsFunc(f.record(t, 5).Enrolments, func(e store.EnrolmentView) bool { return e.Type == stop.Type && e.To == "2024-12-31" }) {
					t.Errorf("enrolment not stopped: %+v", f.record(t, 5).Enrolments)
				}
			}},
			{"employer_registration", url.Values{"credit_code": {strings.ToLower(newEmployer)}, "name": {"北京测试科技有限公司"}, "industry_class": {"3"},
				"region": {"110105"}, "registered_on": {"2024-02-01"}}, func(t *testing.T) {
				if e, err := f.st.Employer(ctx, newEmployer); err != nil || e.Name != "北京测试科技有限公司" || e.IndustryClass != 3 {
					t.Errorf("new employer: %+v %v", e, err)
				}
			}},
			{"employer_change", url.Values{"credit_code": {f.employer}, "name": {"演示单位（更名）"}, "reason": {"工商变更登记"}}, func(t *testing.T) {
				if e, err := f.st.Employer(ctx, f.employer); err != nil || e.Name != "演示单位（更名）" {
					t.Errorf("changed employer: %+v %v", e, err)
				}
			}},
			{"contribution", url.Values{"id_number": {f.ids[2]}, "period": {"202505"}, "type": {record.Medical}, "wage": {"9000.50"}, "status": {"paid"}}, func(t *testing.T) {
				if !slices.ContainsFunc(f.record(t, 2).Contributions, func(c store.ContributionView) bool {
					return c.Period == 202505 && c.Type == record.Medical && c.Wage == 900050
				}) {
					t.Error("contribution missing")
				}
			}},
			{"subsidy", url.Values{"id_number": {f.ids[2]}, "type": {record.Pension}, "kind": {"灵活就业社保补贴"}, "period": {"202401"}, "amount": {"300"}}, func(t *testing.T) {
				if s := f.record(t, 2).Subsidies; len(s) != 1 || s[0].Amount != 30000 || s[0].Kind != "灵活就业社保补贴" {
					t.Errorf("subsidies: %+v", s)
				}
			}},
			{"eligibility", url.Values{"id_number": {f.ids[6]}, "kind": {"unemployment"}, "from": {"2024-02-01"}, "decision": {"失业认定2024-001"}}, func(t *testing.T) {
				if !slices.ContainsFunc(f.record(t, 6).Eligibilities, func(e store.EligibilityView) bool { return e.Decision == "失业认定2024-001" }) {
					t.Error("eligibility missing")
				}
			}},
			{"benefit_payment", url.Values{"id_number": {f.ids[6]}, "kind": {"unemployment"}, "period": {"202403"}, "amount": {"1800.5"}}, func(t *testing.T) {
				if !slices.ContainsFunc(f.record(t, 6).Benefits, func(b store.BenefitView) bool { return b.Period == 202403 && b.Amount == 180050 }) {
					t.Error("benefit payment missing")
				}
			}},
			{"deemed_period", url.Values{"id_number": {f.ids[7]}, "from": {"199001"}, "to": {"199712"}, "basis": {"原国有企业连续工龄"}}, func(t *testing.T) {
				if d := f.record(t, 7).Deemed; !slices.ContainsFunc(d, func(x store.DeemedView) bool {
					return x.From == 199001 && x.To == 199712 && x.Basis == "原国有企业连续工龄"
				}) {
					t.Errorf("deemed: %+v", d)
				}
			}},
			{"account_transfer_in", url.Values{"id_number": {f.ids[7]}, "other_region": {"310101"}, "period": {"202402"}, "amount": {"12000"}}, func(t *testing.T) {
				if x := f.record(t, 7).Transfers; len(x) != 1 || x[0].Direction != "in" || x[0].Amount != 1200000 {
					t.Errorf("transfers: %+v", x)
				}
			}},
			{"other", url.Values{"id_number": {f.ids[8]}, "kind": {"劳动模范"}, "attributes": {"级别=省级\r\n年份＝2020\r\n"}}, func(t *testing.T) {
				if o := f.record(t, 8).Others; len(o) != 1 || o[0].Attributes["级别"] != "省级" || o[0].Attributes["年份"] != "2020" {
					t.Errorf("others: %+v", o)
				}
			}},
			{"rule_set", url.Values{"body": {strings.Replace(string(ruleSet), `"beijing-2025.1"`, `"beijing-2025.web"`, 1)}}, func(t *testing.T) {
				found := false
				for _, s := range f.st.Book().Sets() {
					found = found || strings.Contains(s.Version(), "beijing-2025.web")
				}
				if !found {
					t.Error("rule set not adopted")
				}
			}},
		} {
			t.Run(tc.kind, func(t *testing.T) {
				if r := col.get("/console/intake/" + tc.kind); r.status != 200 || !strings.Contains(r.body, `id="intake-form"`) {
					t.Fatalf("form: %d", r.status)
				}
				scan := []byte("%PDF-1.4 " + tc.kind)
				r := col.submitFiles("/console/intake/"+tc.kind, tc.form, map[string]map[string][]byte{"materials": {tc.kind + ".pdf": scan}})
				number := submitted(t, r)
				if !strings.Contains(r.body, tc.kind+".pdf") || strings.Contains(r.body, "id_number=") {
					t.Errorf("draft page: material missing or raw fields shown")
				}
				d, err := review.New(f.st).Get(ctx, draftNumber(t, number))
				if err != nil || d.Kind != tc.kind || len(d.Facts) != 1 || strings.Contains(d.Summary, "110105198") {
					t.Fatalf("draft: %+v %v", d, err)
				}
				f.approveAll(t, rc, number)
				tc.check(t)
			})
		}
	})
}

// TestIntakeInlineErrors submits bad fields to the forms: each error is shown beside its field, naming the
// rule in the page's language, the form is filled again, and no draft is made.
func TestIntakeInlineErrors(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	ctx := context.Background()
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	unknownPerson := "11010519800101003" + string(record.IDCheckChar("11010519800101003"))
	unregistered := newCreditCode("91110105MA0NXNE01")
	for _, tc := range []struct {
		name, kind string
		form       url.Values
		want       map[string]string // field → part of its message; "" is the list above the form
	}{
		{"money and period", "contribution", url.Values{"id_number": {f.ids[0]}, "period": {"202413"}, "type": {"pension"}, "wage": {"12.345"}, "status": {"paid"}},
			map[string]string{"wage": "金额应写作元", "period": "月份应为01–12"}},
		{"unknown person, bad days", "contribution", url.Values{"id_number": {unknownPerson}, "period": {"202401"}, "type": {"pension"}, "wage": {"100"}, "status": {"paid"}, "late_days": {"三"}},
			map[string]string{"id_number": "没有该身份号码的参保人员", "late_days": "应为整数"}},
		{"check character", "employer_registration", url.Values{"credit_code": {f.employer[:17] + "0"}, "name": {"某公司"}, "industry_class": {"1"}, "region": {"110105"}, "registered_on": {"2024-01-01"}},
			map[string]string{"credit_code": "校验码不正确"}},
		{"registered already, no class", "employer_registration", url.Values{"credit_code": {f.employer}, "name": {"某公司"}, "region": {"110105"}, "registered_on": {"2024-01-01"}},
			map[string]string{"credit_code": "已登记", "industry_class": "工伤行业类别"}},
		{"nothing changes", "person_change", url.Values{"id_number": {f.ids[0]}, "reason": {"测试"}},
			map[string]string{"": "至少填写一项要变更的内容"}},
		{"unregistered employer", "enrolment_start", url.Values{"id_number": {f.ids[0]}, "type": {"pension"}, "employer": {unregistered}, "from": {"2024-01-01"}},
			map[string]string{"employer": "没有以该统一社会信用代码登记的用人单位"}},
		{"periods in the wrong order", "deemed_period", url.Values{"id_number": {f.ids[0]}, "from": {"199801"}, "to": {"199001"}, "basis": {"工龄"}},
			map[string]string{"to": "终止年月不能早于起始年月"}},
		{"attribute line", "other", url.Values{"id_number": {f.ids[0]}, "kind": {"荣誉"}, "attributes": {"省级劳模"}},
			map[string]string{"attributes": "名称=内容"}},
		{"required reason", "enrolment_stop", url.Values{"id_number": {f.ids[0]}, "type": {"pension"}, "to": {"2024-01-01"}},
			map[string]string{"reason": "必填"}},
		{"amount", "subsidy", url.Values{"id_number": {f.ids[0]}, "type": {"pension"}, "kind": {"补贴"}, "period": {"202401"}, "amount": {"-5"}},
			map[string]string{"amount": "金额应大于0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, _ := review.New(f.st).Queue(ctx, review.Actor{User: "x", Posts: []string{"initial_reviewer"}}, review.QueueQuery{})
			c.get("/console/intake/" + tc.kind)
			r := c.submitFiles("/console/intake/"+tc.kind, tc.form, map[string]map[string][]byte{"materials": {"scan.pdf": []byte("%PDF")}})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d at %s", r.status, r.resp.Request.URL.Path)
			}
			for field, msg := range tc.want {
				re := regexp.MustCompile(`id="err-` + field + `">[^<]*` + regexp.QuoteMeta(msg))
				if field == "" {
					re = regexp.MustCompile(`id="errors"><ul><li>[^<]*` + regexp.QuoteMeta(msg))
				}
				if !re.MatchString(r.body) {
					t.Errorf("no message %q for %q", msg, field)
				}
				if field != "" && !strings.Contains(r.body, `aria-describedby="`) {
					t.Errorf("field %s not described by its error", field)
				}
			}
			if !strings.Contains(r.body, `id="err-materials"`) {
				t.Error("not told that the files must be chosen again")
			}
			for k, vs := range tc.form {
				if k != "attributes" && !strings.Contains(r.body, `value="`+vs[0]+`"`) && !strings.Contains(r.body, `value="`+vs[0]+`" selected`) && !strings.Contains(r.body, ">"+vs[0]+"<") {
					t.Errorf("field %s not filled again with %q", k, vs[0])
				}
			}
			after, _, _ := review.New(f.st).Queue(ctx, review.Actor{User: "x", Posts: []string{"initial_reviewer"}}, review.QueueQuery{})
			if len(after) != len(before) {
				t.Error("a draft was made from a bad form")
			}
		})
	}
	// In English the domain's own message is shown, which names the rule.
	en := f.client(t)
	en.login("console", "collector", staffPassword)
	en.submit("/console/lang", url.Values{"lang": {"en"}, "back": {"/console/intake/contribution"}})
	r := en.submit("/console/intake/contribution", url.Values{"id_number": {f.ids[0]}, "period": {"202413"}, "type": {"pension"}, "wage": {"100"}, "status": {"paid"}})
	if !regexp.MustCompile(`id="err-period">[^<]*months are 01 to 12`).MatchString(r.body) {
		t.Errorf("English message:\n%s", r.body)
	}
	// A kind the console has no form for, and a post that does not make drafts.
	if r := c.get("/console/intake/no_such_kind"); r.status != http.StatusNotFound {
		t.Errorf("unknown kind: %d", r.status)
	}
	if r := c.get("/console/intake/maintenance"); r.status != http.StatusForbidden {
		t.Errorf("collector on the maintenance form: %d", r.status)
	}
	q := f.client(t)
	q.login("console", "query", staffPassword)
	if r := q.get("/console/intake/subsidy"); r.status != http.StatusForbidden {
		t.Errorf("query user on an intake form: %d", r.status)
	}
}

// TestIntakeIndexCoversEveryKind: every business type review knows has an intake page in the console, except
// those whose drafts only a procedure makes (transfer packages, service institutions' submissions).
func TestIntakeIndexCoversEveryKind(t *testing.T) {
	f := newFixture(t, "sqlite", false)
	c := f.client(t)
	c.login("console", "collector", staffPassword)
	m := f.client(t)
	m.login("console", "maintainer", staffPassword)
	index := c.get("/console/intake/").body + m.get("/console/intake/").body
	for kind := range review.Kinds {
		if review.IsProcedureKind(kind) {
			if strings.Contains(index, `id="intake-`+kind+`"`) {
				t.Errorf("procedure kind %s offered at intake", kind)
			}
			continue
		}
		if !strings.Contains(index, `id="intake-`+kind+`"`) {
			t.Errorf("kind %s has no intake link", kind)
			continue
		}
		href := regexp.MustCompile(`href="([^"]+)" id="intake-` + kind + `"`).FindStringSubmatch(index)
		who := c
		if kind == review.Maintenance {
			who = m
		}
		if r := who.get(href[1]); r.status != 200 || !strings.Contains(r.body, `<form method="`) {
			t.Errorf("kind %s: %s answers %d", kind, href[1], r.status)
		}
	}
}

// contributionDraft has the collector take in demo person 1's pension contribution for 202504 at wage (yuan) on
// the console; it returns the draft's number, the collector's client and a signed-in initial reviewer's.
func (f *fixture) contributionDraft(t *testing.T, wage string) (number string, col, ir *client) {
	t.Helper()
	col = f.client(t)
	col.login("console", "collector", staffPassword)
	col.get("/console/intake/contribution")
	number = submitted(t, col.submit("/console/intake/contribution", url.Values{"id_number": {f.ids[1]}, "period": {"202504"},
		"type": {"pension"}, "wage": {wage}, "status": {"paid"}}))
	ir = f.client(t)
	ir.login("console", "initial_reviewer", staffPassword)
	return number, col, ir
}

// TestDraftCorrectAndWithdraw: a returned draft is corrected in its form and resubmitted — the chain starts
// again with the corrected fact — and a draft is withdrawn only with a reason and a ticked confirmation.
func TestDraftCorrectAndWithdraw(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		rv := review.New(f.st)
		number, col, ir := f.contributionDraft(t, "8000.25")
		ir.get("/console/drafts/" + number)
		ir.submit("/console/drafts/"+number+"/decision", url.Values{"decision": {"reject"}, "reason": {"工资与工资表不符，应为8200元"}})

		// Another collector cannot correct it.
		other := f.client(t)
		if r := other.get("/console/drafts/" + number + "/edit"); r.resp.Request.URL.Path != "/console/login" {
			t.Errorf("signed-out edit reached %s", r.resp.Request.URL.Path)
		}
		page := col.get("/console/drafts/" + number)
		if !strings.Contains(page.body, `id="edit"`) || !strings.Contains(page.body, `id="withdraw"`) {
			t.Fatal("returned draft offers no correction or withdrawal")
		}
		edit := col.get("/console/drafts/" + number + "/edit")
		if edit.status != 200 || !strings.Contains(edit.body, `value="8000.25"`) || !strings.Contains(edit.body, "工资与工资表不符") {
			t.Fatalf("edit form: %d\n%s", edit.status, edit.body)
		}
		// A bad correction is shown beside its field and changes nothing.
		if r := col.submit("/console/drafts/"+number+"/edit", url.Values{"id_number": {f.ids[1]}, "period": {"202504"}, "type": {"pension"},
			"wage": {"8200.001"}, "status": {"paid"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-wage"`) {
			t.Errorf("bad correction: %d", r.status)
		}
		if d, _ := rv.Get(ctx, draftNumber(t, number)); d.Status != review.StatusReturned {
			t.Errorf("after a bad correction the draft is %s", d.Status)
		}
		r := col.submit("/console/drafts/"+number+"/edit", url.Values{"id_number": {f.ids[1]}, "period": {"202504"}, "type": {"pension"},
			"wage": {"8200"}, "status": {"paid"}, "note": {"已按工资表更正"}})
		if r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("resubmit: %d", r.status)
		}
		d, err := rv.Get(ctx, draftNumber(t, number))
		if err != nil || d.Status != review.StatusInReview || d.Stage != review.StageInitialReview {
			t.Fatalf("after resubmission: %+v %v", d, err)
		}
		var data struct{ Wage int64 }
		json.Unmarshal(d.Facts[0].Data, &data)
		if data.Wage != 820000 || d.Actions[len(d.Actions)-1].Decision != "resubmit" || d.Actions[len(d.Actions)-1].Reason != "已按工资表更正" {
			t.Errorf("corrected fact %+v, history %+v", data, d.Actions)
		}
		// Not returned any more: no correction.
		if r := col.get("/console/drafts/" + number + "/edit"); r.status != http.StatusConflict {
			t.Errorf("edit of a draft in review: %d", r.status)
		}

		// Withdrawal needs the confirmation and a reason.
		col.get("/console/drafts/" + number)
		if r := col.submit("/console/drafts/"+number+"/withdraw", url.Values{"withdraw_reason": {"重复受理"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-withdraw_confirm"`) {
			t.Errorf("withdraw without confirmation: %d", r.status)
		}
		if r := col.submit("/console/drafts/"+number+"/withdraw", url.Values{"confirm": {"yes"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-withdraw_reason"`) {
			t.Errorf("withdraw without reason: %d", r.status)
		}
		if d, _ := rv.Get(ctx, draftNumber(t, number)); d.Status != review.StatusInReview {
			t.Fatalf("withdrawn without confirmation: %s", d.Status)
		}
		ir.get("/console/drafts/" + number)
		if r := ir.submit("/console/drafts/"+number+"/withdraw", url.Values{"confirm": {"yes"}, "withdraw_reason": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("a reviewer withdrew the draft: %d", r.status)
		}
		if r := col.submit("/console/drafts/"+number+"/withdraw", url.Values{"confirm": {"yes"}, "withdraw_reason": {"重复受理"}}); r.status != 200 || !strings.Contains(r.body, "已撤回") {
			t.Errorf("withdraw: %d", r.status)
		}
		if d, _ := rv.Get(ctx, draftNumber(t, number)); d.Status != review.StatusWithdrawn {
			t.Errorf("after withdrawal: %s", d.Status)
		}
	})
}

// TestResubmitWithMaterials: a draft returned for a missing material goes back with it, unchanged from its page or
// corrected in its form; an empty file is refused beside the field and the draft stays returned.
func TestResubmitWithMaterials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		rv := review.New(f.st)
		number, col, ir := f.contributionDraft(t, "8000")
		reject := func(reason string) {
			t.Helper()
			ir.get("/console/drafts/" + number)
			if r := ir.submit("/console/drafts/"+number+"/decision", url.Values{"decision": {"reject"}, "reason": {reason}}); r.status != 200 {
				t.Fatalf("reject: %d", r.status)
			}
		}
		materials := func() []string {
			t.Helper()
			d, err := rv.Get(ctx, draftNumber(t, number))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range d.Materials {
				names = append(names, m.Name)
			}
			return names
		}
		reject("缺少工资表")
		if page := col.get("/console/drafts/" + number); !strings.Contains(page.body, `id="materials"`) {
			t.Fatal("the returned draft's page offers no way to add materials")
		}
		r := col.submitFiles("/console/drafts/"+number+"/resubmit", url.Values{"note": {"已补工资表"}}, map[string]map[string][]byte{"materials": {"empty.pdf": nil}})
		if r.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="err-materials">[^<]+`).MatchString(r.body) {
			t.Fatalf("an empty file: %d", r.status)
		}
		if d, _ := rv.Get(ctx, draftNumber(t, number)); d.Status != review.StatusReturned || len(d.Materials) != 0 {
			t.Fatalf("after the refused resubmission: %s, %d materials", d.Status, len(d.Materials))
		}
		r = col.submitFiles("/console/drafts/"+number+"/resubmit", url.Values{"note": {"已补工资表"}}, map[string]map[string][]byte{"materials": {"工资表.pdf": []byte("%PDF-1.4 工资表")}})
		if r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("resubmit with a material: %d", r.status)
		}
		if got := materials(); len(got) != 1 || got[0] != "工资表.pdf" {
			t.Fatalf("materials after resubmission: %v", got)
		}
		reject("工资应为8200元，并附银行流水")
		if edit := col.get("/console/drafts/" + number + "/edit"); !strings.Contains(edit.body, `id="materials"`) || !strings.Contains(edit.body, "工资表.pdf") {
			t.Fatal("the correction form neither lists the materials nor takes more")
		}
		r = col.submitFiles("/console/drafts/"+number+"/edit", url.Values{"id_number": {f.ids[1]}, "period": {"202504"}, "type": {"pension"},
			"wage": {"8200"}, "status": {"paid"}, "note": {"已更正并附流水"}}, map[string]map[string][]byte{"materials": {"银行流水.pdf": []byte("%PDF-1.4 流水")}})
		if r.status != 200 || !strings.Contains(r.body, `id="notice"`) {
			t.Fatalf("corrected resubmission with a material: %d", r.status)
		}
		if got := materials(); len(got) != 2 || got[1] != "银行流水.pdf" {
			t.Fatalf("materials after the correction: %v", got)
		}
	})
}

// TestMaintenanceForm: a maintainer corrects a recorded contribution from its event number — the form is
// filled from the event — and voids another; both pass review and show in the record and the maintenance log.
func TestMaintenanceForm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		m := f.client(t)
		m.login("console", "maintainer", staffPassword)
		rc := f.reviewerClients(t)
		who := -1 // a demo person with contributions
		for i := range f.ids {
			if len(f.record(t, i).Contributions) >= 2 {
				who = i
				break
			}
		}
		if who < 0 {
			t.Fatal("no demo person with contributions")
		}
		v := f.record(t, who)
		c0, c1 := v.Contributions[0], v.Contributions[1]

		// From the person page, a maintainer sees the event numbers as correction links.
		if r := m.get("/console/persons/" + v.Person + "/contributions?purpose=business&year=" + c0.Period.String()[:4]); !strings.Contains(r.body, `/console/intake/maintenance?supersedes=`+itoa(c0.Seq)) {
			t.Errorf("no correction link for event %d", c0.Seq)
		}
		r := m.get("/console/intake/maintenance?supersedes=" + itoa(c0.Seq))
		if r.status != 200 || !strings.Contains(r.body, `value="`+c0.Wage.String()+`"`) || !strings.Contains(r.body, `value="`+f.ids[who]+`"`) {
			t.Fatalf("prefilled form: %d\n%s", r.status, r.body)
		}
		if es, _, _ := web.ListQueries(ctx, f.st.Driver(), web.QueryFilter{Actor: "maintainer", Person: v.Person}, 0, 10); len(es) == 0 {
			t.Error("the prefilled form's view of the person is not logged")
		}
		if r := m.get("/console/intake/maintenance?supersedes=99999999"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-supersedes"`) {
			t.Errorf("unknown event: %d", r.status)
		}
		// Reason and method are required.
		form := url.Values{"fact_type": {record.TypeContributionPosted}, "supersedes": {itoa(c0.Seq)}, "id_number": {f.ids[who]},
			"period": {c0.Period.String()}, "type": {c0.Type}, "wage": {"12345.67"}, "status": {c0.Status}, "employer": {c0.Employer}}
		r = m.submit("/console/intake/maintenance", form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="err-maint_reason"`) || !strings.Contains(r.body, `id="err-maint_method"`) {
			t.Fatalf("without reason and method: %d", r.status)
		}
		form.Set("maint_reason", "单位申报工资有误")
		form.Set("maint_method", "依据单位工资表更正缴费工资")
		number := submitted(t, m.submit("/console/intake/maintenance", form))
		f.approveAll(t, rc, number)
		v = f.record(t, who)
		if slices.ContainsFunc(v.Contributions, func(c store.ContributionView) bool { return c.Seq == c0.Seq }) ||
			!slices.ContainsFunc(v.Contributions, func(c store.ContributionView) bool {
				return c.Period == c0.Period && c.Type == c0.Type && c.Wage == 1234567
			}) {
			t.Errorf("correction not in the record")
		}
		// Void.
		m.get("/console/intake/maintenance?fact_type=event.voided&supersedes=" + itoa(c1.Seq))
		number = submitted(t, m.submit("/console/intake/maintenance", url.Values{"fact_type": {record.TypeEventVoided}, "supersedes": {itoa(c1.Seq)},
			"reason": {"重复申报"}, "maint_reason": {"重复缴费记录"}, "maint_method": {"作废重复的一条"}}))
		f.approveAll(t, rc, number)
		if slices.ContainsFunc(f.record(t, who).Contributions, func(c store.ContributionView) bool { return c.Seq == c1.Seq }) {
			t.Error("voided contribution still in the record")
		}
		entries, total, err := f.st.MaintenanceLog(ctx, store.MaintenanceFilter{Person: v.Person}, 0, 10)
		if err != nil || total != 2 || entries[0].Method == "" {
			t.Errorf("maintenance log: %d %+v %v", total, entries, err)
		}
	})
}

// TestIDNumberCorrectionForm: the maintenance form of a person change takes a corrected ID number, which the
// counter's person change form does not; a number another person holds is refused beside the field; an approved
// correction makes the new number find the person.
func TestIDNumberCorrectionForm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixtureOn(t, env)
		ctx := context.Background()
		key := f.key(t, 0)
		c := f.client(t)
		c.login("console", "collector", staffPassword)
		if r := c.get("/console/intake/person_change"); r.status != http.StatusOK || strings.Contains(r.body, `id="new_id_number"`) {
			t.Fatalf("the counter's person change form: %d, new ID field shown: %v", r.status, strings.Contains(r.body, `id="new_id_number"`))
		}
		m := f.client(t)
		m.login("console", "maintainer", staffPassword)
		if r := m.get("/console/intake/maintenance?fact_type=person.changed"); !strings.Contains(r.body, `id="new_id_number"`) {
			t.Fatal("the maintenance person change form has no new ID number field")
		}
		form := url.Values{"fact_type": {record.TypePersonChanged}, "id_number": {f.ids[0]}, "new_id_number": {f.ids[1]}, "reason": {"公安机关更正身份号码"},
			"maint_reason": {"公安机关出具身份号码更正证明"}, "maint_method": {"依证明更正公民身份号码"}}
		r := m.submit("/console/intake/maintenance", form)
		if r.status != http.StatusUnprocessableEntity || !regexp.MustCompile(`id="err-new_id_number">[^<]*已登记为另一参保人员`).MatchString(r.body) {
			t.Fatalf("another person's number: %d", r.status)
		}
		body := "11010519900815031"
		corrected := body + string(record.IDCheckChar(body))
		form.Set("new_id_number", strings.ToLower(corrected))
		number := submitted(t, m.submit("/console/intake/maintenance", form))
		if r := m.get("/console/drafts/" + number); !strings.Contains(r.body, corrected) {
			t.Error("the draft page does not show the corrected number to its reviewers")
		}
		if r := m.get("/console/"); strings.Contains(r.body, corrected) {
			t.Error("the corrected number is shown in clear in a draft summary")
		}
		f.approveAll(t, f.reviewerClients(t), number)
		if p, err := f.st.FindPerson(ctx, corrected); err != nil || p != key {
			t.Fatalf("the corrected number finds %q, %v", p, err)
		}
		if v, err := f.st.PersonRecord(ctx, key); err != nil || v.Birth != "1990-08-15" {
			t.Errorf("birth after the correction: %+v, %v", v, err)
		}
		// The person's page, at the console and on the person's own portal, shows the correction masked.
		changes := regexp.MustCompile(`(?s)id="registration-changes".*` + regexp.QuoteMeta(record.MaskID(corrected)) + `.*公安机关更正身份号码`)
		if r := m.get("/console/persons/" + key + "?purpose=business"); !changes.MatchString(r.body) || strings.Contains(r.body, corrected) {
			t.Error("the console's person page does not show the correction, masked")
		}
		pp := f.client(t)
		pp.login("portal", web.DemoPersonAccount, portalPassword)
		if r := pp.get("/portal/persons/" + key); r.status != http.StatusOK || !changes.MatchString(r.body) || strings.Contains(r.body, corrected) {
			t.Errorf("the person's own page: %d", r.status)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestQueuePages: the console's review queue shows the count, pages of 50 oldest first, and a filter by business
// type; an unknown type in a link shows the whole queue.
func TestQueuePages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixtureOn(t, env)
		rv := review.New(f.st)
		collector := review.Actor{User: "collector", Posts: []string{"collector"}}
		var numbers []string
		for i := range 52 {
			body := fmt.Sprintf("11010519900101%03d", 500+i)
			id := body + string(record.IDCheckChar(body))
			d, err := rv.Submit(ctx, collector, review.Submission{Kind: "person_registration", Facts: []review.DraftFact{
				{Type: record.TypePersonRegistered, IDNumber: id, Data: json.RawMessage(`{"name":"排队人","region":"110105","registered_on":"2024-03-01"}`)}}})
			if err != nil {
				t.Fatal(err)
			}
			numbers = append(numbers, d.Number)
		}
		emp, err := rv.Submit(ctx, collector, review.Submission{Kind: "employer_registration", Facts: []review.DraftFact{
			{Type: record.TypeEmployerRegistered, CreditCode: newCreditCode("91110105MA0NXQE01"), Data: json.RawMessage(`{"name":"排队单位","industry_class":1,"region":"110105","registered_on":"2001-01-01"}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		_, total, err := rv.Queue(ctx, review.Actor{User: "initial_reviewer", Posts: []string{"initial_reviewer"}}, review.QueueQuery{})
		if err != nil || total != 53 {
			t.Fatalf("queue total %d, %v", total, err)
		}
		rows := regexp.MustCompile(`<tr><td><a href="/console/drafts/([^"]+)">`)
		listed := func(body string) []string {
			var out []string
			for _, m := range rows.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
			return out
		}
		c := f.client(t)
		c.login("console", "initial_reviewer", staffPassword)
		r := c.get("/console/queue")
		if got := listed(r.body); r.status != http.StatusOK || len(got) != 50 || got[0] != numbers[0] || got[49] != numbers[49] {
			t.Fatalf("page 1: %d, %d drafts %v", r.status, len(got), got)
		}
		if !regexp.MustCompile(`id="queue-count">[^<]*53<`).MatchString(r.body) || !strings.Contains(r.body, `id="page-next"`) {
			t.Fatal("page 1 lacks the count or the link to page 2")
		}
		r = c.get("/console/queue?page=2")
		if got := listed(r.body); len(got) != 3 || got[0] != numbers[50] || got[2] != emp.Number || strings.Contains(r.body, `id="page-next"`) {
			t.Fatalf("page 2: %v", got)
		}
		r = c.get("/console/queue?kind=employer_registration")
		if got := listed(r.body); len(got) != 1 || got[0] != emp.Number || !strings.Contains(r.body, `value="employer_registration" selected`) {
			t.Fatalf("employer registrations: %v", got)
		}
		if got := listed(c.get("/console/queue?kind=no_such_kind").body); len(got) != 50 {
			t.Fatalf("unknown kind: %d drafts", len(got))
		}
		if r := c.get("/console/queue?kind=person_change"); !strings.Contains(r.body, `id="queue-empty"`) || len(listed(r.body)) != 0 {
			t.Fatal("an empty filtered queue is not said to be empty")
		}
	})
}
