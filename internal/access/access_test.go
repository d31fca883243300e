package access_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/access"
	"sirec/internal/demo"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const seed = 3

type fixture struct {
	st  *store.Store
	svc *access.Service
	now time.Time
	ids []string
	doc review.Material
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	st := env.Store()
	if _, err := demo.Generate(ctx, st, demo.Options{Persons: 6, Seed: seed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, svc: access.New(st), now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	f.svc.Now = func() time.Time { return f.now }
	f.svc.Location = time.UTC
	for i := range 6 {
		f.ids = append(f.ids, demo.IDNumber(seed, i))
	}
	sha, err := review.New(st).AddMaterial(ctx, []byte("%PDF-1.4 scanned written authorisation"))
	if err != nil {
		t.Fatal(err)
	}
	f.doc = review.Material{SHA256: sha, Name: "授权委托书.pdf", ContentType: "application/pdf"}
	return f
}

func (f *fixture) logged(t *testing.T, filter querylog.Filter) []querylog.Entry {
	t.Helper()
	es, _, err := querylog.List(context.Background(), f.st.Driver(), filter, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func wantRule(t *testing.T, err error, field, rule string) {
	t.Helper()
	var es record.Errors
	var one *record.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one):
		es = record.Errors{one}
	default:
		t.Fatalf("want %s/%s, got %v", field, rule, err)
	}
	for _, e := range es {
		if e.Field == field && e.Rule == rule {
			return
		}
	}
	t.Errorf("want %s/%s among %v", field, rule, err)
}

func TestProxyAuthorisation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		proxyID := demo.IDNumber(seed, 5) // a registered person acts as proxy for person 0
		n := access.NewAuthorisation{PersonIDNumber: f.ids[0], ProxyIDNumber: proxyID, ProxyName: "李四",
			Fields: []string{access.FieldContributions, access.FieldIdentity}, ValidFrom: "2026-03-01", ValidUntil: "2026-03-31"}

		// Without the written authorisation on file, or too long, or to oneself: refused, every problem named.
		bad := n
		bad.ValidUntil = "2027-06-30"
		bad.ProxyIDNumber = f.ids[0]
		_, err := f.svc.RecordAuthorisation(ctx, "collector", bad)
		wantRule(t, err, "materials", "authorisation_on_file")
		wantRule(t, err, "valid_until", "validity_max")
		wantRule(t, err, "proxy_id_number", "proxy_other_person")
		bad = n
		bad.Fields = []string{"everything"}
		bad.Materials = []review.Material{f.doc}
		_, err = f.svc.RecordAuthorisation(ctx, "collector", bad)
		wantRule(t, err, "fields[0]", "field_group")

		n.Materials = []review.Material{f.doc}
		a, err := f.svc.RecordAuthorisation(ctx, "collector", n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Number != "P000001" || a.Status != access.StatusActive || len(a.Materials) != 1 || !slices.Equal(a.Fields, []string{"identity", "contributions"}) ||
			strings.Contains(a.ProxyIDMasked, proxyID[6:14]) {
			t.Fatalf("recorded: %+v", a)
		}

		// The named proxy reads what it grants, and the read is logged first.
		view, _, err := f.svc.ProxyRead(ctx, a.ID, access.Proxy{IDNumber: proxyID, Via: "query"}, "api/proxies/query")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := view["contributions"]; !ok {
			t.Errorf("granted contributions missing: %v", view)
		}
		if _, ok := view["account"]; ok {
			t.Errorf("account shown without a grant")
		}
		es := f.logged(t, querylog.Filter{ActorKind: querylog.ActorProxy})
		if len(es) != 1 || es[0].Application != "P000001" || es[0].Person != a.Person || !strings.Contains(es[0].Actor, "via query") ||
			es[0].Fields != "identity,contributions" {
			t.Fatalf("proxy read log: %+v", es)
		}
		// In the portal, the proxy is known by their own person key.
		proxyKey, _ := f.st.FindPerson(ctx, proxyID)
		if _, _, err := f.svc.ProxyRead(ctx, a.ID, access.Proxy{Key: proxyKey, Account: "lisi"}, "portal/proxy"); err != nil {
			t.Fatal(err)
		}
		if list, _, _ := f.svc.Authorisations(ctx, access.AuthorisationFilter{Proxy: proxyKey, Active: true}, 0, 10); len(list) != 1 {
			t.Errorf("authorisations naming the proxy: %+v", list)
		}
		// Anyone else is refused, and nothing is logged for them.
		if _, _, err := f.svc.ProxyRead(ctx, a.ID, access.Proxy{IDNumber: f.ids[1], Via: "query"}, "api/proxies/query"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("another person as proxy: %v", err)
		}
		if es := f.logged(t, querylog.Filter{ActorKind: querylog.ActorProxy}); len(es) != 2 {
			t.Errorf("log after refusal: %d entries", len(es))
		}
		// After its last day the authorisation no longer lets the proxy query.
		f.now = time.Date(2026, 4, 1, 0, 0, 1, 0, time.UTC)
		if _, _, err := f.svc.ProxyRead(ctx, a.ID, access.Proxy{IDNumber: proxyID, Via: "query"}, "api/proxies/query"); record.ErrorCode(err) != record.EForbidden ||
			!strings.Contains(err.Error(), "expired after 2026-03-31") {
			t.Errorf("expired authorisation: %v", err)
		}
		f.now = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
		if _, err := f.svc.RevokeAuthorisation(ctx, "collector", a.ID, ""); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("revoke without reason: %v", err)
		}
		if _, err := f.svc.RevokeAuthorisation(ctx, "collector", a.ID, "本人书面撤销授权"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.ProxyRead(ctx, a.ID, access.Proxy{IDNumber: proxyID, Via: "query"}, "api/proxies/query"); record.ErrorCode(err) != record.EForbidden ||
			!strings.Contains(err.Error(), "revoked") {
			t.Errorf("revoked authorisation: %v", err)
		}
	})
}

func TestOtherBodyApplication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		n := access.NewApplication{BodyName: "某区人民法院", BodyKind: access.BodyJudicial, Credential: "(2026)京0105执123号协助查询通知书",
			Purpose: "执行案件财产调查", LegalBasis: "《民事诉讼法》第二百五十二条", Fields: []string{access.FieldIdentity, access.FieldAccount, access.FieldContributions},
			IDNumbers: []string{f.ids[1], f.ids[2]}, RequestedUntil: "2026-06-30"}
		bad := n
		bad.BodyKind, bad.LegalBasis, bad.IDNumbers = "friend", "", []string{f.ids[1], "110105199001011234"}
		_, err := f.svc.RegisterApplication(ctx, "query", bad)
		wantRule(t, err, "body_kind", "body_kind")
		wantRule(t, err, "legal_basis", "text_length")
		wantRule(t, err, "materials", "application_on_file")
		n.Materials = []review.Material{f.doc}
		a, err := f.svc.RegisterApplication(ctx, "query", n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Number != "A000001" || a.Status != access.AppPending || a.Persons != 2 || a.Access != "" {
			t.Fatalf("registered: %+v", a)
		}
		// Pending: no access.
		if _, _, err := f.svc.BodyRead(ctx, a.ID, f.ids[1], "query", "api"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("pending application read: %v", err)
		}
		// The approver decides; not the one who registered it; a refusal needs its reason.
		if _, err := f.svc.Decide(ctx, "query", a.ID, access.Decision{Decision: access.Approve, ValidUntil: "2026-04-30"}); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("registrar deciding: %v", err)
		}
		if _, err := f.svc.Decide(ctx, "approver", a.ID, access.Decision{Decision: access.Refuse}); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("refusal without reason: %v", err)
		}
		if _, err := f.svc.Decide(ctx, "approver", a.ID, access.Decision{Decision: access.Approve, ValidUntil: "2026-12-31"}); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("longer than asked: %v", err)
		}
		if _, err := f.svc.Decide(ctx, "approver", a.ID, access.Decision{Decision: access.Approve, ValidUntil: "2026-04-30", Fields: []string{access.FieldBenefits}}); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("a field not asked for: %v", err)
		}
		a, err = f.svc.Decide(ctx, "approver", a.ID, access.Decision{Decision: access.Approve, ValidUntil: "2026-04-30", Fields: []string{access.FieldIdentity, access.FieldContributions}})
		if err != nil || a.Status != access.AppApproved || a.Access != access.StatusActive || !slices.Equal(a.Fields, []string{"identity", "contributions"}) {
			t.Fatalf("approved: %+v %v", a, err)
		}
		if _, err := f.svc.Decide(ctx, "approver", a.ID, access.Decision{Decision: access.Refuse, Reason: "x"}); record.ErrorCode(err) != record.EConflict {
			t.Errorf("deciding twice: %v", err)
		}

		// Field-limited reads of the persons it covers, each logged with the application.
		view, _, err := f.svc.BodyRead(ctx, a.ID, f.ids[1], "query", "api/applications/query")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := view["account"]; ok {
			t.Error("account granted though the approver left it out")
		}
		if _, ok := view["identity"]; !ok {
			t.Error("identity missing")
		}
		if _, _, err := f.svc.BodyRead(ctx, a.ID, f.ids[3], "query", "api/applications/query"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("a person the application does not name: %v", err)
		}
		tab, _, err := f.svc.BodyExport(ctx, a.ID, "query")
		if err != nil || len(tab.Rows) != 2 || tab.Header[1] != "姓名 name" {
			t.Fatalf("export: %+v %v", tab, err)
		}
		es := f.logged(t, querylog.Filter{Application: a.Number})
		if len(es) != 3 || es[0].ActorKind != querylog.ActorBody || !strings.HasPrefix(es[0].Actor, "某区人民法院 via query") {
			t.Fatalf("body reads logged: %+v", es)
		}

		// An expired approval no longer grants access: neither a read nor an export.
		f.now = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		if _, _, err := f.svc.BodyRead(ctx, a.ID, f.ids[1], "query", "api/applications/query"); record.ErrorCode(err) != record.EForbidden ||
			!strings.Contains(err.Error(), "expired") {
			t.Errorf("read after expiry: %v", err)
		}
		if _, _, err := f.svc.BodyExport(ctx, a.ID, "query"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("export after expiry: %v", err)
		}
		if a, _ := f.svc.Application(ctx, a.ID); a.Access != access.StatusExpired {
			t.Errorf("access after expiry: %q", a.Access)
		}
		if es := f.logged(t, querylog.Filter{Application: a.Number}); len(es) != 3 {
			t.Errorf("refused reads logged: %d", len(es))
		}

		// A refused application carries its reason and grants nothing. An employer's employees form a scope too.
		v0, _ := f.st.PersonRecord(ctx, mustFind(t, f, 0))
		employer := ""
		for _, e := range v0.Enrolments {
			if e.Employer != "" {
				employer = e.Employer
			}
		}
		m := n
		m.IDNumbers, m.Employer, m.RequestedUntil = nil, employer, "2026-12-31"
		if employer == "" {
			m.IDNumbers, m.Employer = []string{f.ids[0]}, ""
		}
		b, err := f.svc.RegisterApplication(ctx, "collector", m)
		if err != nil {
			t.Fatal(err)
		}
		b, err = f.svc.Decide(ctx, "approver", b.ID, access.Decision{Decision: access.Refuse, Reason: "申请事项超出法定范围"})
		if err != nil || b.Status != access.AppRefused || b.Reason != "申请事项超出法定范围" {
			t.Fatalf("refused: %+v %v", b, err)
		}
		if _, _, err := f.svc.BodyRead(ctx, b.ID, f.ids[0], "query", "api"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("refused application read: %v", err)
		}
		if list, total, _ := f.svc.Applications(ctx, access.AppRefused, 0, 10); total != 1 || list[0].Number != b.Number {
			t.Errorf("list refused: %d %+v", total, list)
		}
	})
}

func mustFind(t *testing.T, f *fixture, i int) string {
	t.Helper()
	p, err := f.st.FindPerson(context.Background(), f.ids[i])
	if err != nil {
		t.Fatal(err)
	}
	return p
}
