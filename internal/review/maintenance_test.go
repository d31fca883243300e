package review_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

var maintainer = review.Actor{User: "weihu", Posts: []string{"maintainer"}}

func approveAll(t *testing.T, rv *review.Service, d review.Draft) review.Draft {
	t.Helper()
	var err error
	for _, a := range []review.Actor{first, second, third, approver} {
		if d, err = rv.Act(context.Background(), a, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestCorrectionByMaintenance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		d, err := rv.Submit(ctx, collector, registration(20))
		if err != nil {
			t.Fatal(err)
		}
		approveAll(t, rv, d)
		d, err = rv.Submit(ctx, collector, review.Submission{Kind: "contribution", Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: idNumber(20),
			Data: data(map[string]any{"period": "202404", "type": "pension", "status": "paid", "wage": 600000})}}})
		if err != nil {
			t.Fatal(err)
		}
		d, _ = rv.Act(ctx, first, d.ID, review.Approve, "")
		d, err = rv.Act(ctx, approver, d.ID, review.Approve, "")
		if err != nil {
			t.Fatal(err)
		}
		old := d.FirstSeq
		fix := review.Submission{Kind: review.Maintenance, Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: idNumber(20), Supersedes: &old,
			Data: data(map[string]any{"period": "202404", "type": "pension", "status": "paid", "wage": 650000})}}}
		// A maintenance draft states its reason and method, and only a maintainer makes one.
		_, err = rv.Submit(ctx, maintainer, fix)
		var es record.Errors
		if !errors.As(err, &es) || len(es) != 2 || es[0].Field != "reason" || es[1].Field != "method" {
			t.Fatalf("missing reason and method: %v", err)
		}
		fix.Reason, fix.Method = "单位申报工资有误，依工资表更正", "依据单位工资表更正缴费工资"
		if _, err := rv.Submit(ctx, collector, fix); record.ErrorCode(err) != record.EForbidden {
			t.Fatalf("a collector made a maintenance draft: %v", err)
		}
		// A non-maintenance draft cannot correct.
		if _, err := rv.Submit(ctx, collector, review.Submission{Kind: "contribution", Facts: fix.Facts}); !errors.As(err, &es) || es[0].Rule != "supersedes_maintenance" {
			t.Fatalf("a contribution draft superseded: %v", err)
		}
		d, err = rv.Submit(ctx, maintainer, fix)
		if err != nil {
			t.Fatal(err)
		}
		d = approveAll(t, rv, d)
		if d.Status != review.StatusApproved || d.EventCount != 2 {
			t.Fatalf("maintenance draft: %+v", d)
		}
		p, _ := st.FindPerson(ctx, idNumber(20))
		v, _ := st.PersonRecord(ctx, p)
		if len(v.Contributions) != 1 || v.Contributions[0].Wage != 650000 {
			t.Fatalf("in force: %+v", v.Contributions)
		}
		// The old value stays in history.
		e, _, _ := st.Event(ctx, old)
		if !strings.Contains(string(e.Data), `"wage":600000`) {
			t.Fatalf("old event: %s", e.Data)
		}
		// The maintenance log entry: time, content before and after, reason, method, responsible, reviewers.
		log, total, err := st.MaintenanceLog(ctx, store.MaintenanceFilter{Person: p}, 0, 10)
		if err != nil || total != 1 {
			t.Fatalf("log: %d %v", total, err)
		}
		m := log[0]
		if m.Reason != fix.Reason || m.Method != fix.Method || m.Responsible != "weihu" || len(m.Reviewers) != 4 || m.Draft != d.Number {
			t.Fatalf("log entry: %+v", m)
		}
		var before, after map[string]any
		json.Unmarshal(m.Changes[0].Before, &before)
		json.Unmarshal(m.Changes[0].After, &after)
		if before["wage"] != 600000.0 || after["wage"] != 650000.0 || *m.Changes[0].Supersedes != old {
			t.Fatalf("before/after: %s / %s", m.Changes[0].Before, m.Changes[0].After)
		}
		for _, f := range []store.MaintenanceFilter{{User: "shenpi"}, {User: "weihu"}, {Type: record.TypeContributionPosted}} {
			if _, n, _ := st.MaintenanceLog(ctx, f, 0, 10); n != 1 {
				t.Errorf("filter %+v found %d", f, n)
			}
		}
		if _, n, _ := st.MaintenanceLog(ctx, store.MaintenanceFilter{User: "nobody"}, 0, 10); n != 0 {
			t.Error("filter by an unknown user found entries")
		}
		if _, err := store.Verify(ctx, env.Driver(), env.Keys.Verifier, store.DefaultRules(), nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExternalMaintainerNeedsInternalReviewers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, _ := setup(t, env)
		d, _ := rv.Submit(ctx, collector, registration(21))
		approveAll(t, rv, d)
		ext := review.Actor{User: "waibao", Posts: []string{"maintainer"}, External: true}
		d, err := rv.Submit(ctx, ext, review.Submission{Kind: review.Maintenance, Reason: "补录", Method: "依原始材料补录",
			Facts: []review.DraftFact{{Type: record.TypeOtherRecorded, IDNumber: idNumber(21), Data: data(map[string]any{"kind": "note", "attributes": map[string]string{"a": "b"}})}}})
		if err != nil {
			t.Fatal(err)
		}
		// At every stage an outside helper holding that stage's post is refused, and an internal reviewer acts.
		for _, internal := range []review.Actor{first, second, third, approver} {
			extReviewer := review.Actor{User: "waibao2", Posts: internal.Posts, External: true}
			_, err := rv.Act(ctx, extReviewer, d.ID, review.Approve, "")
			if record.ErrorCode(err) != record.EForbidden || !strings.Contains(err.Error(), "R11.2") || !strings.Contains(err.Error(), d.Number) {
				t.Fatalf("an outside helper reviewed at %s: %v", d.Stage, err)
			}
			if d, err = rv.Act(ctx, internal, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
		}
		if d.Status != review.StatusApproved {
			t.Fatal(d.Status)
		}
		// Every reviewer on the record is internal: the outside helper was never alone.
		for _, a := range d.Actions {
			if a.Decision == review.Approve && strings.HasPrefix(a.Actor, "waibao") {
				t.Fatalf("an outside helper approved: %+v", a)
			}
		}
	})
}

// TestIDNumberCorrectionByMaintenance: only a maintenance draft carries a new ID number; approved, the person is
// found by it; a person change at the counter, or a new ID number on another kind of fact, is refused by name.
func TestIDNumberCorrectionByMaintenance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		rv, st := setup(t, env)
		d, err := rv.Submit(ctx, collector, registration(40))
		if err != nil {
			t.Fatal(err)
		}
		approveAll(t, rv, d)
		person, err := st.FindPerson(ctx, idNumber(40))
		if err != nil {
			t.Fatal(err)
		}
		fact := review.DraftFact{Type: record.TypePersonChanged, IDNumber: idNumber(40), NewIDNumber: idNumber(41), Data: data(map[string]string{"reason": "公安机关更正身份号码"})}
		var es record.Errors
		if _, err := rv.Submit(ctx, collector, review.Submission{Kind: "person_change", Facts: []review.DraftFact{fact}}); !errors.As(err, &es) ||
			es[0].Field != "facts[0].new_id_number" || es[0].Rule != "new_id_by_maintenance" {
			t.Fatalf("a counter person change carried a new ID number: %v", err)
		}
		wrong := review.DraftFact{Type: record.TypeOtherRecorded, IDNumber: idNumber(40), NewIDNumber: idNumber(41), Data: data(map[string]any{"kind": "荣誉", "attributes": map[string]string{"a": "b"}})}
		if _, err := rv.Submit(ctx, maintainer, review.Submission{Kind: review.Maintenance, Facts: []review.DraftFact{wrong}, Reason: "r", Method: "m"}); !errors.As(err, &es) ||
			es[0].Field != "facts[0].new_id_number" || es[0].Rule != "new_id_for_change" {
			t.Fatalf("a new ID number on another fact: %v", err)
		}
		d, err = rv.Submit(ctx, maintainer, review.Submission{Kind: review.Maintenance, Facts: []review.DraftFact{fact},
			Reason: "公安机关出具身份号码更正证明", Method: "依公安机关证明更正公民身份号码"})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := rv.Get(ctx, d.ID); got.Facts[0].NewIDNumber != idNumber(41) {
			t.Fatalf("the draft lost its new ID number: %+v", got.Facts[0])
		}
		if d = approveAll(t, rv, d); d.Status != review.StatusApproved {
			t.Fatalf("status %s", d.Status)
		}
		if p, err := st.FindPerson(ctx, idNumber(41)); err != nil || p != person {
			t.Fatalf("the corrected number finds %q, %v", p, err)
		}
		if _, err := st.FindPerson(ctx, idNumber(40)); err == nil {
			t.Fatal("the old number still finds the person")
		}
	})
}
