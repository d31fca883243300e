package institution_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/institution"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/workitem"
)

var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func idNumber(n int) string {
	body := fmt.Sprintf("11010519700101%03d", n)
	return body + string(record.IDCheckChar(body))
}

func creditCode(n int) string {
	body := fmt.Sprintf("91110105MA%07d", n)
	return body + string(record.USCCCheckChar(body))
}

type fixture struct {
	st    *store.Store
	users *auth.Service
	items *workitem.Service
	inst  *institution.Service
	rv    *review.Service
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	st := env.Store()
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	users := auth.New(st.Driver(), cfg)
	items := workitem.New(st, users)
	f := &fixture{st: st, users: users, items: items, inst: institution.New(st, users, items), rv: review.New(st)}
	facts := []record.Fact{}
	for n := range 3 {
		facts = append(facts, &record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: idNumber(n)}, Name: fmt.Sprintf("测试%d", n), Region: "110105", RegisteredOn: "2015-01-01"})
	}
	facts = append(facts,
		&record.BenefitPaid{PersonRef: record.PersonRef{IDNumber: idNumber(0)}, Kind: "retirement", Period: 202401, Amount: 350000},
		&record.BenefitPaid{PersonRef: record.PersonRef{IDNumber: idNumber(0)}, Kind: "retirement", Period: 202402, Amount: 350000},
		&record.EligibilityGranted{PersonRef: record.PersonRef{IDNumber: idNumber(1)}, Kind: "work_injury", From: "2023-01-01", Decision: "工伤认定书 2023-17"})
	if _, err := st.Record(context.Background(), "test", facts); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) add(t *testing.T, kind string, n int) institution.Institution {
	t.Helper()
	i, err := f.inst.Add(context.Background(), institution.NewInstitution{Code: creditCode(n), Kind: kind, Name: kind + " 机构", Agreement: "XY-2024-" + kind,
		AgreementUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")}, "sysadmin")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func count(t *testing.T, st *store.Store, table string) int64 {
	t.Helper()
	tx, err := st.Driver().Begin(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var n int64
	if err := tx.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func problems(err error) []string {
	var es record.Errors
	var e *record.Error
	var out []string
	switch {
	case errors.As(err, &es):
		for _, x := range es {
			out = append(out, x.Field+" "+x.Rule)
		}
	case errors.As(err, &e):
		out = append(out, e.Field+" "+e.Rule)
	}
	return out
}

func TestARepeatedSubmissionIsAcceptedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		bank := f.add(t, institution.KindBank, 1)
		body := []byte(`{"rows":[{"id_number":"` + idNumber(0) + `","period":"202402","kind":"retirement","amount":"3500.00","reason":"账户已销户","reference":"TX-778"}]}`)
		first, replayed, err := f.inst.Submit(ctx, bank.Username, institution.KindBank, "7d1c-0001", body)
		if err != nil || replayed || first.FollowUps != 1 || first.Rows != 1 || first.Draft == "" {
			t.Fatalf("first: %+v %v %v", first, replayed, err)
		}
		again, replayed, err := f.inst.Submit(ctx, bank.Username, institution.KindBank, "7d1c-0001", body)
		if err != nil || !replayed || again != first {
			t.Fatalf("repeat: %+v %v %v; want %+v", again, replayed, err, first)
		}
		for table, want := range map[string]int64{"institution_submissions": 1, "payment_followups": 1, "review_drafts": 1} {
			if n := count(t, f.st, table); n != want {
				t.Errorf("%s has %d rows, want %d", table, n, want)
			}
		}
		// The same key for other data is refused.
		other := []byte(strings.Replace(string(body), "TX-778", "TX-779", 1))
		if _, _, err := f.inst.Submit(ctx, bank.Username, institution.KindBank, "7d1c-0001", other); !slices.Equal(problems(err), []string{"Idempotency-Key idempotency_key_reused"}) {
			t.Fatalf("key reused: %v", err)
		}
		// The failed payment is marked for follow-up: a work item of the bank's, open, on the payment's event.
		ups, total, err := f.inst.FollowUps(ctx, true, 0, 10)
		if err != nil || total != 1 || len(ups) != 1 || ups[0].Period != 202402 || ups[0].Status != workitem.StatusOpen || ups[0].WorkItem == "" {
			t.Fatalf("follow-ups: %+v %d %v", ups, total, err)
		}
		items, n, err := f.items.List(ctx, workitem.Filter{Source: institution.FollowUpSource(bank.Code)}, workitem.Sort{By: "id"}, 0, 10)
		if err != nil || n != 1 || items[0].Seq != ups[0].PaymentSeq || items[0].Kind != institution.FollowUpKind || items[0].Severity != "high" {
			t.Fatalf("work items: %+v %v", items, err)
		}
		// The draft waits for review, made by the bank's machine account; nothing is recorded yet.
		sub, err := f.inst.GetSubmission(ctx, first.Number, "")
		if err != nil || sub.Status != review.StatusInReview || sub.Stage != review.StageInitialReview {
			t.Fatalf("submission: %+v %v", sub, err)
		}
		if _, err := f.inst.GetSubmission(ctx, first.Number, creditCode(99)); record.ErrorCode(err) != record.ENotFound {
			t.Fatalf("another institution reads it: %v", err)
		}
	})
}

func TestSubmissionsAreCheckedRowByRowAndNothingIsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		med := f.add(t, institution.KindMedical, 2)
		rehab := f.add(t, institution.KindRehabilitation, 3)
		bank := f.add(t, institution.KindBank, 4)
		body := `{"rows":[
			{"id_number":"` + idNumber(0) + `","document":"M-1","settled_on":"2024-03-01","category":"inpatient","total":"1000.00","fund_paid":"800.00","self_paid":"200.00"},
			{"id_number":"` + idNumber(0)[:17] + `0","document":"M-2","settled_on":"2024-03-01","category":"inpatient","total":"1000.00","fund_paid":"800.00","self_paid":"200.00"},
			{"id_number":"` + idNumber(1) + `","document":"M-1","settled_on":"2024-13-01","category":"spa","total":"1000.00","fund_paid":"900.00","self_paid":"200.00"},
			{"id_number":"` + idNumber(1) + `","document":"M-4","settled_on":"2024-03-01","total":1000,"extra":"x"}]}`
		_, _, err := f.inst.Submit(ctx, med.Username, institution.KindMedical, "k1", []byte(body))
		want := []string{"rows[1].id_number gb11643_check", "rows[2].settled_on date_format", "rows[2].category settlement_category",
			"rows[2].total amounts_add_up", "rows[2].document document_unique", "rows[3].extra unknown_field", "rows[3].total json_string"}
		if got := problems(err); !slices.Equal(got, want) {
			t.Fatalf("problems:\n got  %q\n want %q", got, want)
		}
		// Against the record: an unregistered person; rehabilitation without a work-injury eligibility; a payment
		// never recorded.
		_, _, err = f.inst.Submit(ctx, med.Username, institution.KindMedical, "k2", []byte(`{"rows":[{"id_number":"`+idNumber(7)+
			`","document":"M-9","settled_on":"2024-03-01","category":"outpatient","total":"10.00","fund_paid":"0","self_paid":"10.00"}]}`))
		if got := problems(err); !slices.Equal(got, []string{"rows[0].id_number person_registered"}) {
			t.Fatalf("unregistered: %v", err)
		}
		rehabRow := func(n int) string {
			return `{"id_number":"` + idNumber(n) + `","document":"R-` + fmt.Sprint(n) + `","from":"2024-01-02","to":"2024-02-01","program":"关节康复","cost":"5000","fund_paid":"5000"}`
		}
		_, _, err = f.inst.Submit(ctx, rehab.Username, institution.KindRehabilitation, "k3", []byte(`{"rows":[`+rehabRow(1)+`,`+rehabRow(2)+`]}`))
		if got := problems(err); !slices.Equal(got, []string{"rows[1].id_number work_injury_eligibility"}) {
			t.Fatalf("rehabilitation: %v", err)
		}
		_, _, err = f.inst.Submit(ctx, bank.Username, institution.KindBank, "k4", []byte(`{"rows":[
			{"id_number":"`+idNumber(0)+`","period":"202403","kind":"retirement","amount":"3500.00","reason":"户名不符","reference":"T1"},
			{"id_number":"`+idNumber(0)+`","period":"202401","kind":"retirement","amount":"3500.00","reason":"户名不符","reference":"T2"},
			{"id_number":"`+idNumber(0)+`","period":"202401","kind":"retirement","amount":"3500.00","reason":"户名不符","reference":"T3"}]}`))
		if got := problems(err); !slices.Equal(got, []string{"rows[0] payment_recorded", "rows[2] payment_unique"}) {
			t.Fatalf("bank: %v", err)
		}
		// An institution submits only its own kind.
		if _, _, err := f.inst.Submit(ctx, bank.Username, institution.KindMedical, "k5", []byte(body)); record.ErrorCode(err) != record.EForbidden {
			t.Fatalf("bank submitting medical settlements: %v", err)
		}
		// A user who holds the post but is no registered institution.
		if _, err := f.users.AddUser(ctx, auth.NewUser{Username: "stray", DisplayName: "x", Password: "Secret-pass-42", Posts: []auth.Post{auth.PostInstitution}}, "t", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.inst.Submit(ctx, "stray", institution.KindBank, "k6", []byte(body)); record.ErrorCode(err) != record.EConflict {
			t.Fatalf("stray: %v", err)
		}
		for _, table := range []string{"institution_submissions", "payment_followups", "review_drafts"} {
			if n := count(t, f.st, table); n != 0 {
				t.Errorf("%s has %d rows after refused submissions", table, n)
			}
		}
		// The good rehabilitation row alone goes through.
		if _, _, err := f.inst.Submit(ctx, rehab.Username, institution.KindRehabilitation, "k3", []byte(`{"rows":[`+rehabRow(1)+`]}`)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSubmissionsAreRecordedOnlyByReviewAndRejectionClosesThem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		med := f.add(t, institution.KindMedical, 2)
		row := func(doc string) []byte {
			return []byte(`{"rows":[{"id_number":"` + idNumber(2) + `","document":"` + doc + `","settled_on":"2024-03-01","category":"outpatient","total":"120.50","fund_paid":"100.00","self_paid":"20.50"}]}`)
		}
		a, _, err := f.inst.Submit(ctx, med.Username, institution.KindMedical, "a", row("M-100"))
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := f.inst.Submit(ctx, med.Username, institution.KindMedical, "b", row("M-101"))
		if err != nil {
			t.Fatal(err)
		}
		var ida, idb int64
		fmt.Sscanf(a.Draft, "D%d", &ida)
		fmt.Sscanf(b.Draft, "D%d", &idb)
		initial := review.Actor{User: "chu", Posts: []string{"initial_reviewer"}}
		approver := review.Actor{User: "shen", Posts: []string{"approver"}}
		if _, err := f.rv.Act(ctx, initial, ida, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		if d, err := f.rv.Act(ctx, approver, ida, review.Approve, ""); err != nil || d.Status != review.StatusApproved {
			t.Fatalf("approve: %+v %v", d, err)
		}
		p, _ := f.st.FindPerson(ctx, idNumber(2))
		v, err := f.st.PersonRecord(ctx, p)
		if err != nil || len(v.Others) != 1 || v.Others[0].Kind != "medical_settlement" || v.Others[0].Attributes["fund_paid"] != "100.00" ||
			v.Others[0].Attributes["institution"] != med.Code {
			t.Fatalf("record: %+v %v", v.Others, err)
		}
		if _, err := f.rv.Act(ctx, initial, idb, review.Reject, "结算单号与纸质单据不符"); err != nil {
			t.Fatal(err)
		}
		sub, err := f.inst.GetSubmission(ctx, b.Number, med.Code)
		if err != nil || sub.Status != review.StatusWithdrawn || sub.Reason != "结算单号与纸质单据不符" {
			t.Fatalf("rejected submission: %+v %v", sub, err)
		}
		list, total, err := f.inst.Submissions(ctx, institution.SubmissionFilter{Institution: med.Code}, 0, 10)
		if err != nil || total != 2 || list[0].Number != b.Number || list[1].Status != review.StatusApproved {
			t.Fatalf("list: %+v %v", list, err)
		}
	})
}

func TestMachineAccounts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, storetest.New(t, "sqlite"))
	bank := f.add(t, institution.KindBank, 1)
	// Its account holds the institution post only, and can hold no other (S1).
	u, err := f.users.GetUser(ctx, bank.Username)
	if err != nil || !slices.Equal(u.Posts, []auth.Post{auth.PostInstitution}) {
		t.Fatalf("account: %+v %v", u, err)
	}
	if err := f.users.Grant(ctx, bank.Username, auth.PostQuery, "sysadmin", time.Now()); record.ErrorCode(err) != record.EConflict {
		t.Fatalf("grant query to an institution: %v", err)
	}
	// Its token carries the one scope of its kind.
	secret, tok, err := f.inst.Token(ctx, bank.Code, "", time.Now().AddDate(0, 3, 0), "sysadmin")
	if err != nil || !slices.Equal(tok.Scopes, []auth.Scope{auth.ScopeSubmitBank}) {
		t.Fatalf("token: %+v %v", tok, err)
	}
	p, err := f.users.Authenticate(ctx, secret, time.Now())
	if err != nil || !p.Can(auth.ScopeSubmitBank) || p.Can(auth.ScopeSubmitMedical) || p.Can(auth.ScopePersonsRead) {
		t.Fatalf("principal: %+v %v", p, err)
	}
	// Registered once; bad fields all named.
	if _, err := f.inst.Add(ctx, institution.NewInstitution{Code: bank.Code, Kind: "bank", Name: "x", Agreement: "y", AgreementUntil: "2099-01-01"}, "s"); record.ErrorCode(err) != record.EConflict {
		t.Fatalf("twice: %v", err)
	}
	_, err = f.inst.Add(ctx, institution.NewInstitution{Code: "91110105MA0000000X", Kind: "spa", Name: "", Agreement: "y", AgreementUntil: "2020-01-01"}, "s")
	if got := problems(err); !slices.Equal(got, []string{"code gb32100_check", "kind institution_kind", "name required", "agreement_until agreement_in_force"}) {
		t.Fatalf("bad institution: %q", got)
	}
	// An agreement that ended stops submissions.
	f.inst.Now = func() time.Time { return time.Now().AddDate(2, 0, 0) }
	_, _, err = f.inst.Submit(ctx, bank.Username, institution.KindBank, "late", []byte(`{"rows":[]}`))
	if record.ErrorCode(err) != record.EForbidden || !strings.Contains(err.Error(), "ended") {
		t.Fatalf("after the agreement: %v", err)
	}
}

func TestTheSameSubmissionAtOnceIsAcceptedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		bank := f.add(t, institution.KindBank, 1)
		body := []byte(`{"rows":[{"id_number":"` + idNumber(0) + `","period":"202401","kind":"retirement","amount":"3500.00","reason":"账户冻结","reference":"TX-1"}]}`)
		const n = 6
		results := make([]institution.Submitted, n)
		errs := make([]error, n)
		replays := make([]bool, n)
		done := make(chan int)
		for i := range n {
			go func() {
				results[i], replays[i], errs[i] = f.inst.Submit(ctx, bank.Username, institution.KindBank, "same-key", body)
				done <- i
			}()
		}
		for range n {
			<-done
		}
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("submission %d: %v", i, errs[i])
			}
			if results[i] != results[0] {
				t.Fatalf("answers differ: %+v and %+v", results[i], results[0])
			}
			if !replays[i] {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d submissions were accepted as new", fresh)
		}
		for table, want := range map[string]int64{"institution_submissions": 1, "payment_followups": 1, "review_drafts": 1} {
			if got := count(t, f.st, table); got != want {
				t.Errorf("%s has %d rows, want %d", table, got, want)
			}
		}
	})
}
