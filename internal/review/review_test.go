package review_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

var (
	collector = review.Actor{User: "caiji", Posts: []string{"collector"}}
	first     = review.Actor{User: "chushen", Posts: []string{"initial_reviewer"}}
	second    = review.Actor{User: "shenhe", Posts: []string{"reviewer"}}
	third     = review.Actor{User: "fuhe", Posts: []string{"rechecker"}}
	approver  = review.Actor{User: "shenpi", Posts: []string{"approver"}}
	admin     = review.Actor{User: "admin", Posts: []string{"sysadmin"}}
)

func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n)
	return body + string(record.IDCheckChar(body))
}

func data(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func registration(n int) review.Submission {
	return review.Submission{Kind: "person_registration", Facts: []review.DraftFact{
		{Type: record.TypePersonRegistered, IDNumber: idNumber(n), Data: data(map[string]string{"name": "李四", "region": "110105", "registered_on": "2024-03-01"})},
		{Type: record.TypeEnrolmentStarted, IDNumber: idNumber(n), Data: data(map[string]string{"type": "pension", "from": "2024-03-01"})},
	}}
}

func setup(t *testing.T, env *storetest.Env) (*review.Service, *store.Store) {
	s := env.Store()
	return review.New(s), s
}

func errCode(err error) string { return record.ErrorCode(err) }

func TestFourStagesThenRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		sha, err := rv.AddMaterial(ctx, []byte("%PDF-1.4 身份证复印件"))
		if err != nil {
			t.Fatal(err)
		}
		sub := registration(1)
		sub.Materials = []review.Material{{SHA256: sha, Name: "身份证复印件.pdf", ContentType: "application/pdf"}}
		d, err := rv.Submit(ctx, collector, sub)
		if err != nil {
			t.Fatal(err)
		}
		if d.Stage != review.StageInitialReview || len(d.Materials) != 1 {
			t.Fatalf("submitted: %+v", d)
		}
		for _, a := range []review.Actor{first, second, third} {
			if _, err := st.FindPerson(ctx, idNumber(1)); err == nil {
				t.Fatal("recorded before final approval (I1)")
			}
			if d, err = rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
		}
		if d.Stage != review.StageApproval {
			t.Fatalf("stage %s", d.Stage)
		}
		if d, err = rv.Act(ctx, approver, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		if d.Status != review.StatusApproved || d.EventCount != 2 || len(d.Actions) != 5 {
			t.Fatalf("approved draft: %+v", d)
		}
		p, err := st.FindPerson(ctx, idNumber(1))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := st.PersonRecord(ctx, p)
		if v.Name != "李四" || len(v.Enrolments) != 1 {
			t.Fatalf("record: %+v", v)
		}
		e, _, _ := st.Event(ctx, d.FirstSeq)
		if e.Source != "draft:"+d.Number {
			t.Fatalf("event source %q", e.Source)
		}
		got, err := rv.ReadMaterial(ctx, sha)
		if err != nil || !strings.Contains(string(got), "身份证") {
			t.Fatalf("material: %v", err)
		}
		if _, err := store.Verify(ctx, env.Driver(), env.Keys.Verifier, store.DefaultRules(), nil); err != nil {
			t.Fatal(err)
		}
		// A changed material is refused on read.
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + sha + "'")
		_, err = rv.ReadMaterial(ctx, sha)
		var re *record.Error
		if !errors.Is(err, review.ErrMaterialChanged) || !errors.As(err, &re) || re.Code != record.EConflict || re.Rule != review.MaterialHashRule {
			t.Fatalf("changed material read: %v", err)
		}
	})
}

func TestSeparationOfDuties(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		both := review.Actor{User: "chushen2", Posts: []string{"initial_reviewer", "reviewer"}}
		makerReviewer := review.Actor{User: "caiji", Posts: []string{"collector", "initial_reviewer"}}
		d, err := rv.Submit(ctx, collector, registration(2))
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			actor review.Actor
		}{
			{"maker as reviewer", makerReviewer},
			{"out-of-order stage: approver at initial review", approver},
			{"no post", review.Actor{User: "query1", Posts: []string{"query"}}},
			{"outside helper", review.Actor{User: "ext", Posts: []string{"initial_reviewer"}, External: true}},
		}
		for _, c := range cases {
			if _, err := rv.Act(ctx, c.actor, d.ID, review.Approve, ""); errCode(err) != record.EForbidden {
				t.Errorf("%s: want forbidden, got %v", c.name, err)
			}
		}
		if d, err = rv.Act(ctx, both, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		// The same person twice: holding the next stage's post too does not let them act again.
		if _, err := rv.Act(ctx, both, d.ID, review.Approve, ""); errCode(err) != record.EForbidden {
			t.Fatalf("same person twice: %v", err)
		}
		// Only a collector makes drafts; only a system administrator sets chains.
		if _, err := rv.Submit(ctx, first, registration(3)); errCode(err) != record.EForbidden {
			t.Fatalf("submit without collector post: %v", err)
		}
		if err := rv.SetChain(ctx, collector, "contribution", []string{review.StageApproval}); errCode(err) != record.EForbidden {
			t.Fatalf("chain by collector: %v", err)
		}
		if _, err := st.FindPerson(ctx, idNumber(2)); err == nil {
			t.Fatal("recorded by refused actions")
		}
	})
}

func TestRejectionReturnsToMaker(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		d, err := rv.Submit(ctx, collector, registration(4))
		if err != nil {
			t.Fatal(err)
		}
		d, _ = rv.Act(ctx, first, d.ID, review.Approve, "")
		if _, err := rv.Act(ctx, second, d.ID, review.Reject, ""); errCode(err) != record.EInvalid {
			t.Fatalf("reject without reason: %v", err)
		}
		d, err = rv.Act(ctx, second, d.ID, review.Reject, "姓名与身份证不符")
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != review.StatusReturned || d.Actions[len(d.Actions)-1].Reason != "姓名与身份证不符" {
			t.Fatalf("returned: %+v", d)
		}
		if q, _, _ := rv.Queue(ctx, first, review.QueueQuery{Limit: 10}); len(q) != 0 {
			t.Fatalf("a returned draft is in a review queue: %v", q)
		}
		if _, err := rv.Resubmit(ctx, first, d.ID, review.Resubmission{}); errCode(err) != record.EForbidden {
			t.Fatalf("resubmit by another: %v", err)
		}
		facts := registration(4).Facts
		facts[0].Data = data(map[string]string{"name": "李肆", "region": "110105", "registered_on": "2024-03-01"})
		d, err = rv.Resubmit(ctx, collector, d.ID, review.Resubmission{Facts: facts, Note: "已更正姓名"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Stage != review.StageInitialReview {
			t.Fatalf("resubmitted at %s", d.Stage)
		}
		// After a resubmission the chain starts again, and the same reviewers may act again.
		for _, a := range []review.Actor{first, second, third, approver} {
			if d, err = rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := st.FindPerson(ctx, idNumber(4))
		v, _ := st.PersonRecord(ctx, p)
		if v.Name != "李肆" {
			t.Fatalf("recorded %q", v.Name)
		}
	})
}

// TestResubmitAddsMaterials: a draft returned for missing materials goes back with them; one not stored is
// refused by name and leaves the draft returned; a material it holds already is kept once.
func TestResubmitAddsMaterials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, _ := setup(t, env)
		id1, _ := rv.AddMaterial(ctx, []byte("%PDF-1.4 身份证"))
		sub := registration(60)
		sub.Materials = []review.Material{{SHA256: id1, Name: "身份证.pdf", ContentType: "application/pdf"}}
		d, err := rv.Submit(ctx, collector, sub)
		if err != nil {
			t.Fatal(err)
		}
		if d, err = rv.Act(ctx, first, d.ID, review.Reject, "缺少户口簿复印件"); err != nil {
			t.Fatal(err)
		}
		unstored := review.Material{SHA256: strings.Repeat("ab", 32), Name: "户口簿.pdf", ContentType: "application/pdf"}
		var e *record.Error
		if _, err := rv.Resubmit(ctx, collector, d.ID, review.Resubmission{Materials: []review.Material{unstored}}); !errors.As(err, &e) || e.Field != "materials" || e.Rule != "material_stored" {
			t.Fatalf("an unstored material: %v", err)
		}
		if got, _ := rv.Get(ctx, d.ID); got.Status != review.StatusReturned || len(got.Materials) != 1 {
			t.Fatalf("after the refused resubmission: %s with %d materials", got.Status, len(got.Materials))
		}
		id2, _ := rv.AddMaterial(ctx, []byte("%PDF-1.4 户口簿"))
		d, err = rv.Resubmit(ctx, collector, d.ID, review.Resubmission{Note: "已补充户口簿", Materials: []review.Material{
			{SHA256: id2, Name: "户口簿.pdf", ContentType: "application/pdf"}, {SHA256: id1, Name: "身份证again.pdf", ContentType: "application/pdf"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != review.StatusInReview || len(d.Materials) != 2 || d.Materials[1].SHA256 != id2 || d.Materials[0].Name != "身份证.pdf" {
			t.Fatalf("resubmitted: %s, materials %+v", d.Status, d.Materials)
		}
		if a := d.Actions[len(d.Actions)-1]; a.Decision != "resubmit" || a.Reason != "已补充户口簿" {
			t.Fatalf("last action %+v", a)
		}
	})
}

func TestQueuePagesFiltersAndHidesWhatTheReviewerDid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, _ := setup(t, env)
		var regs []int64
		for i := 0; i < 7; i++ {
			d, err := rv.Submit(ctx, collector, registration(300+i))
			if err != nil {
				t.Fatal(err)
			}
			regs = append(regs, d.ID)
		}
		emp, err := rv.Submit(ctx, collector, review.Submission{Kind: "employer_registration", Facts: []review.DraftFact{
			{Type: record.TypeEmployerRegistered, CreditCode: employer, Data: data(map[string]any{"name": "测试单位", "industry_class": 1, "region": "350100", "registered_on": "2001-01-01"})}}})
		if err != nil {
			t.Fatal(err)
		}
		ids := func(ds []review.Draft) []int64 {
			var out []int64
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		// Pages of three, oldest first, each with the total.
		var seen []int64
		for off := 0; off < 9; off += 3 {
			ds, total, err := rv.Queue(ctx, first, review.QueueQuery{Offset: off, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if total != 8 || len(ds) != min(3, 8-off) {
				t.Fatalf("page at %d: %d drafts of %d", off, len(ds), total)
			}
			seen = append(seen, ids(ds)...)
		}
		if want := append(append([]int64{}, regs...), emp.ID); fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Fatalf("pages %v, want %v", seen, want)
		}
		if ds, total, _ := rv.Queue(ctx, first, review.QueueQuery{Kind: "employer_registration"}); total != 1 || len(ds) != 1 || ds[0].ID != emp.ID {
			t.Fatalf("employer registrations: %v of %d", ids(ds), total)
		}
		if _, _, err := rv.Queue(ctx, first, review.QueueQuery{Kind: "no_such_kind"}); errCode(err) != record.EInvalid {
			t.Fatalf("unknown kind: %v", err)
		}
		// The maker and holders of other posts see none of them; one who holds two posts and approved the
		// first stage does not see the draft again at the second.
		if _, total, _ := rv.Queue(ctx, collector, review.QueueQuery{}); total != 0 {
			t.Fatalf("the maker's queue holds %d", total)
		}
		if _, total, _ := rv.Queue(ctx, second, review.QueueQuery{}); total != 0 {
			t.Fatalf("the second stage's queue holds %d before any approval", total)
		}
		both := review.Actor{User: "liangge", Posts: []string{"initial_reviewer", "reviewer"}}
		if _, err := rv.Act(ctx, both, regs[0], review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := rv.Act(ctx, first, regs[1], review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		if ds, total, _ := rv.Queue(ctx, second, review.QueueQuery{}); total != 2 || fmt.Sprint(ids(ds)) != fmt.Sprint(regs[:2]) {
			t.Fatalf("second stage: %v of %d", ids(ds), total)
		}
		if ds, total, _ := rv.Queue(ctx, both, review.QueueQuery{Kind: "person_registration"}); total != 6 || ds[0].ID != regs[1] {
			t.Fatalf("the two-post reviewer's queue: %v of %d (the draft it approved must not be in it)", ids(ds), total)
		}
		// A rejection hides the draft until it is submitted again; then the reviewer sees it anew.
		d, err := rv.Act(ctx, second, regs[1], review.Reject, "姓名有误")
		if err != nil {
			t.Fatal(err)
		}
		if _, total, _ := rv.Queue(ctx, second, review.QueueQuery{}); total != 1 {
			t.Fatalf("second stage after the rejection: %d", total)
		}
		if _, err := rv.Resubmit(ctx, collector, d.ID, review.Resubmission{Note: "已更正"}); err != nil {
			t.Fatal(err)
		}
		if _, err := rv.Act(ctx, first, regs[1], review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		if ds, total, _ := rv.Queue(ctx, second, review.QueueQuery{}); total != 2 || fmt.Sprint(ids(ds)) != fmt.Sprint(regs[:2]) {
			t.Fatalf("second stage after the resubmission: %v of %d", ids(ds), total)
		}
	})
}

func TestBadDraftIsRefusedWhole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, _ := setup(t, env)
		sub := registration(5)
		bad := []byte(idNumber(5))
		bad[17] = map[bool]byte{true: '1', false: '2'}[bad[17] != '1']
		sub.Facts[0].IDNumber = string(bad)
		sub.Facts[1].Data = data(map[string]string{"type": "pensions", "from": "2024-03-01"})
		_, err := rv.Submit(ctx, collector, sub)
		var es record.Errors
		if !errors.As(err, &es) || len(es) != 2 || es[0].Field != "facts[0].id_number" || es[1].Field != "facts[1].type" {
			t.Fatalf("want two problems naming fields, got %v", err)
		}
		sub = registration(6)
		sub.Facts = append(sub.Facts, review.DraftFact{Type: record.TypeBenefitPaid, IDNumber: idNumber(6), Data: data(map[string]any{"kind": "retirement", "period": "202401", "amount": 100})})
		if _, err := rv.Submit(ctx, collector, sub); !errors.As(err, &es) || es[0].Rule != "kind_fact_type" {
			t.Fatalf("a benefit in a registration draft: %v", err)
		}
	})
}

func TestConfiguredChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, _ := setup(t, env)
		if err := rv.SetChain(ctx, admin, "person_registration", []string{review.StageReview, review.StageInitialReview, review.StageApproval}); errCode(err) != record.EInvalid {
			t.Fatalf("out-of-order chain accepted: %v", err)
		}
		if err := rv.SetChain(ctx, admin, "person_registration", []string{review.StageInitialReview}); errCode(err) != record.EInvalid {
			t.Fatalf("chain without approval accepted: %v", err)
		}
		if err := rv.SetChain(ctx, admin, "person_registration", []string{review.StageInitialReview, review.StageApproval}); err != nil {
			t.Fatal(err)
		}
		d, err := rv.Submit(ctx, collector, registration(7))
		if err != nil {
			t.Fatal(err)
		}
		d, _ = rv.Act(ctx, first, d.ID, review.Approve, "")
		if d, err = rv.Act(ctx, approver, d.ID, review.Approve, ""); err != nil || d.Status != review.StatusApproved {
			t.Fatalf("two-stage chain: %+v %v", d, err)
		}
	})
}

func TestTransferInDraftRefusesTransferOut(t *testing.T) {
	env := storetest.New(t, "sqlite")
	rv, _ := setup(t, env)
	_, err := rv.Submit(context.Background(), collector, review.Submission{Kind: "account_transfer_in", Facts: []review.DraftFact{
		{Type: record.TypeAccountTransferred, IDNumber: idNumber(1), Data: data(map[string]any{"amount": 100, "direction": "out", "other_region": "310101", "period": "202401"})}}})
	var es record.Errors
	if !errors.As(err, &es) || es[0].Field != "facts[0].direction" || es[0].Rule != "transfer_in" {
		t.Fatalf("transfer out in a transfer-in draft: %v", err)
	}
}
