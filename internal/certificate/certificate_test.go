package certificate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/certificate"
	"sirec/internal/demo"
	"sirec/internal/pdf"
	"sirec/internal/pdf/pdftest"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const seed = 11

type fixture struct {
	st  *store.Store
	svc *certificate.Service
	now time.Time
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	st := env.Store()
	if _, err := demo.Generate(context.Background(), st, demo.Options{Persons: 10, Seed: seed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, svc: certificate.New(st, &pdf.FontSource{}), now: time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)}
	f.svc.Now = func() time.Time { return f.now }
	f.svc.Location = time.UTC
	return f
}

// person returns a demo person whose record has what want looks for.
func (f *fixture) person(t *testing.T, want func(*store.PersonView) bool) *store.PersonView {
	t.Helper()
	for i := range 10 {
		k, err := f.st.FindPerson(context.Background(), demo.IDNumber(seed, i))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.st.PersonRecord(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if want(v) {
			return v
		}
	}
	t.Fatal("no demo person fits")
	return nil
}

func paidIn2023(v *store.PersonView) bool {
	for _, c := range v.Contributions {
		if c.Period.Year() == 2023 && c.Status == record.StatusPaid && c.Type == record.Pension {
			return true
		}
	}
	return false
}

func TestIssueAndCheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		v := f.person(t, paidIn2023)
		req := certificate.Request{Person: v.Person, Kind: certificate.KindContributions, From: 202301, To: 202312, IssuerKind: certificate.IssuerStaff, Issuer: "query"}
		bad := req
		bad.From, bad.To, bad.Kind = 202312, 202301, "wages"
		if _, err := f.svc.Issue(ctx, bad); err == nil || !strings.Contains(err.Error(), "certificate_kind") {
			t.Errorf("bad request: %v", err)
		}
		c, err := f.svc.Issue(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var pension *certificate.Line
		for i := range c.Lines {
			if c.Lines[i].Type == record.Pension {
				pension = &c.Lines[i]
			}
		}
		var months int
		var amount record.Fen
		for _, x := range v.Contributions {
			if x.Type == record.Pension && x.Period.Year() == 2023 && x.Status == record.StatusPaid {
				months++
				amount += x.EmployerAmt + x.IndividualAmt
			}
		}
		if pension == nil || pension.Months != months || pension.Amount != amount || len(c.Events) == 0 || c.Number != "C00000001" {
			t.Fatalf("certificate lines %+v, want %d months %s", c.Lines, months, amount)
		}
		// Staff reading the record to issue it is logged.
		if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: v.Person, Actor: "query"}, 0, 10); len(es) != 1 || es[0].Purpose != "certificate" {
			t.Errorf("issue on behalf not logged: %+v", es)
		}

		// The code checks out however it is typed, and the check proves the lines.
		for _, typed := range []string{c.Code, strings.ToLower(strings.ReplaceAll(c.Code, "-", " "))} {
			res, err := f.svc.Check(ctx, typed)
			if err != nil || res.Status != certificate.Valid || res.Body == nil || res.Proof == nil || res.Proof.Events != len(c.Events) || res.Body.Name != v.Name {
				t.Fatalf("check %q: %+v %v", typed, res, err)
			}
		}

		// Altered and forged codes are refused and show nothing.
		code, _ := certificate.NormalizeCode(c.Code)
		swap := map[byte]byte{'0': '1'}
		altered := []byte(code)
		if altered[3] == '0' {
			swap = map[byte]byte{'0': '2'}
		}
		if b, ok := swap[altered[3]]; ok {
			altered[3] = b
		} else {
			altered[3] = '0'
		}
		if res, _ := f.svc.Check(ctx, string(altered)); res.Status != certificate.Mistyped && res.Status != certificate.Unknown || res.Body != nil {
			t.Errorf("altered code: %+v", res)
		}
		forged := certificate.NewCode()
		if res, _ := f.svc.Check(ctx, forged); res.Status != certificate.Unknown || res.Body != nil || res.Number != "" {
			t.Errorf("forged well-formed code: %+v", res)
		}
		altered[15] = certificate.CheckChar(string(altered[:15]))
		if res, _ := f.svc.Check(ctx, string(altered)); res.Status != certificate.Unknown || res.Body != nil {
			t.Errorf("altered code with its check character recomputed: %+v", res)
		}
		if res, _ := f.svc.Check(ctx, "not a code"); res.Status != certificate.Mistyped {
			t.Errorf("garbage: %+v", res)
		}

		// The certificate can be printed again, with its code, from its number.
		again, err := f.svc.Get(ctx, c.Number)
		if err != nil || again.Code != c.Code {
			t.Fatalf("reprint: %+v %v", again, err)
		}
		if list, _ := f.svc.List(ctx, v.Person); len(list) != 1 || list[0].Number != c.Number {
			t.Errorf("list: %+v", list)
		}
		doc, err := certificate.Render(pdftest.Fonts(t), again, certificate.CheckURL("https://si.example.gov.cn", code), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		text := pdftest.Text(t, doc)
		for _, w := range []string{"社会保险参保缴费证明", v.Name, v.IDMasked, "验真码：" + c.Code, "养老保险", fmt.Sprint(months), amount.String(),
			"https://si.example.gov.cn/verify/certificate", "202301至202312"} {
			if !strings.Contains(text, w) {
				t.Errorf("printed certificate lacks %q:\n%s", w, text)
			}
		}

		// Past its validity it no longer shows what it asserts.
		f.now = c.ValidUntil.Add(time.Minute)
		if res, _ := f.svc.Check(ctx, c.Code); res.Status != certificate.Expired || res.Body != nil {
			t.Errorf("expired: %+v", res)
		}
		f.now = time.Date(2026, 2, 11, 8, 0, 0, 0, time.UTC)

		// A correction of an event it rests on makes it no longer current.
		var target store.ContributionView
		for _, x := range v.Contributions {
			if x.Seq == c.Events[0] {
				target = x
			}
		}
		if _, err := f.st.Correct(ctx, "test:correction", target.Seq, &record.ContributionPosted{PersonRef: record.PersonRef{Person: v.Person},
			Employer: target.Employer, Period: target.Period, Status: record.StatusArrears, Type: target.Type, Wage: int64(target.Wage)}); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.svc.Check(ctx, c.Code); res.Status != certificate.NotCurrent || res.Body != nil {
			t.Errorf("after a correction: %+v", res)
		}
	})
}

func TestTamperedCertificatesAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		retiree := f.person(t, func(v *store.PersonView) bool { return len(v.Benefits) > 0 })
		b, err := f.svc.Issue(ctx, certificate.Request{Person: retiree.Person, Kind: certificate.KindBenefits, From: 201001, To: 202601,
			IssuerKind: certificate.IssuerPerson, Issuer: "retiree"})
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Lines) == 0 || b.Lines[0].Months == 0 || b.Lines[0].Amount == 0 {
			t.Fatalf("benefits certificate: %+v", b.Lines)
		}
		if es, _, _ := querylog.List(ctx, f.st.Driver(), querylog.Filter{Person: retiree.Person}, 0, 10); len(es) != 0 {
			t.Errorf("the person's own certificate was logged as someone else's read: %+v", es)
		}
		if res, _ := f.svc.Check(ctx, b.Code); res.Status != certificate.Valid {
			t.Fatalf("benefits certificate check: %+v", res)
		}
		// Its record changed in the database: the agency's signature no longer matches.
		env.Raw(fmt.Sprintf("UPDATE certificates SET body = REPLACE(body, '%s', '王大锤') WHERE number = '%s'", retiree.Name, b.Number))
		if res, _ := f.svc.Check(ctx, b.Code); res.Status != certificate.Forged || res.Body != nil {
			t.Errorf("changed certificate record: %+v", res)
		}
		env.Raw(fmt.Sprintf("UPDATE certificates SET body = REPLACE(body, '王大锤', '%s') WHERE number = '%s'", retiree.Name, b.Number))
		if res, _ := f.svc.Check(ctx, b.Code); res.Status != certificate.Valid {
			t.Fatalf("restored: %+v", res)
		}
		// An event it rests on changed in the journal: its inclusion proof fails.
		env.Raw(fmt.Sprintf("UPDATE journal_events SET body = %s WHERE seq = %d", env.Blob([]byte(`{"at":0,"data":{},"region":"110105","seq":0,"type":"x"}`)), b.Events[0]))
		if res, _ := f.svc.Check(ctx, b.Code); res.Status != certificate.Forged || res.Body != nil {
			t.Errorf("changed journal event: %+v", res)
		}
		// Revoked certificates are refused with the reason.
		v := f.person(t, paidIn2023)
		c, err := f.svc.Issue(ctx, certificate.Request{Person: v.Person, Kind: certificate.KindContributions, From: 202301, To: 202306, IssuerKind: certificate.IssuerPerson, Issuer: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Revoke(ctx, "maintainer", c.Number, ""); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("revoke without reason: %v", err)
		}
		if _, err := f.svc.Revoke(ctx, "maintainer", c.Number, "出具有误"); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.svc.Check(ctx, c.Code); res.Status != certificate.Revoked || res.Body != nil || !strings.Contains(res.Reason, "出具有误") {
			t.Errorf("revoked: %+v", res)
		}
	})
}

func TestLimiter(t *testing.T) {
	l := certificate.NewLimiter(3, time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if !l.Allow("1.2.3.4", now) {
			t.Fatalf("check %d refused", i)
		}
	}
	if l.Allow("1.2.3.4", now) {
		t.Error("fourth check at once allowed")
	}
	if !l.Allow("5.6.7.8", now) {
		t.Error("another client refused")
	}
	if !l.Allow("1.2.3.4", now.Add(61*time.Second)) {
		t.Error("not refilled after a minute")
	}
}

func TestCodeFormat(t *testing.T) {
	for range 100 {
		c := certificate.NewCode()
		f := certificate.FormatCode(c)
		if len(f) != 19 || strings.Count(f, "-") != 3 {
			t.Fatalf("formatted %q", f)
		}
		if n, ok := certificate.NormalizeCode(strings.ToLower(f)); !ok || n != c {
			t.Fatalf("normalize %q: %q %v", f, n, ok)
		}
	}
}
