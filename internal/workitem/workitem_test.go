package workitem_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/workitem"
)

var (
	collector  = review.Actor{User: "caiji", Posts: []string{"collector"}}
	maintainer = review.Actor{User: "weihu", Posts: []string{"maintainer"}}
	first      = review.Actor{User: "chushen", Posts: []string{"initial_reviewer"}}
	second     = review.Actor{User: "shenhe", Posts: []string{"reviewer"}}
	third      = review.Actor{User: "fuhe", Posts: []string{"rechecker"}}
	approver   = review.Actor{User: "shenpi", Posts: []string{"approver"}}
)

func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n)
	return body + string(record.IDCheckChar(body))
}

func data(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

type fixture struct {
	st    *store.Store
	rv    *review.Service
	items *workitem.Service
	users *auth.Service
}

// approveAll takes a draft through the four default stages.
func (f fixture) approveAll(t *testing.T, d review.Draft) review.Draft {
	t.Helper()
	var err error
	for _, a := range []review.Actor{first, second, third, approver} {
		if d, err = f.rv.Act(context.Background(), a, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// setup registers persons 1 and 2 through review, and a maintainer user to assign items to.
func setup(t *testing.T, env *storetest.Env) fixture {
	t.Helper()
	ctx := context.Background()
	st := env.Store()
	cfg := auth.DefaultConfig()
	cfg.Argon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	f := fixture{st: st, rv: review.New(st), users: auth.New(st.Driver(), cfg)}
	f.items = workitem.New(st, f.users)
	for _, u := range []struct {
		name string
		post auth.Post
	}{{"weihu", auth.PostMaintainer}, {"weihu2", auth.PostMaintainer}, {"chaxun", auth.PostQuery}} {
		if _, err := f.users.AddUser(ctx, auth.NewUser{Username: u.name, DisplayName: u.name, Password: "Secret-pass-42", Posts: []auth.Post{u.post}}, "test", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{1, 2} {
		d, err := f.rv.Submit(ctx, collector, review.Submission{Kind: "person_registration", Facts: []review.DraftFact{
			{Type: record.TypePersonRegistered, IDNumber: idNumber(n), Data: data(map[string]string{"name": "李四", "region": "110105", "registered_on": "2024-03-01"})},
			{Type: record.TypeEnrolmentStarted, IDNumber: idNumber(n), Data: data(map[string]string{"type": "pension", "from": "2024-03-01"})},
		}})
		if err != nil {
			t.Fatal(err)
		}
		f.approveAll(t, d)
	}
	return f
}

func (f fixture) person(t *testing.T, n int) string {
	t.Helper()
	p, err := f.st.FindPerson(context.Background(), idNumber(n))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// file files findings as one run of the source "check" over the kinds named.
func (f fixture) file(t *testing.T, run int64, kinds []string, fs ...workitem.Finding) workitem.Report {
	t.Helper()
	ctx := context.Background()
	in := f.items.Begin("check", kinds, run, fmt.Sprintf("check:R%06d", run))
	for _, x := range fs {
		if err := in.Add(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := in.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func finding(person string, key string) workitem.Finding {
	return workitem.Finding{Source: "check", Kind: "missing_months", Key: key, Severity: "medium", Person: person, Period: 202403,
		Detail: "pension: no contribution for " + key}
}

func (f fixture) only(t *testing.T, filter workitem.Filter) workitem.Item {
	t.Helper()
	items, total, err := f.items.List(context.Background(), filter, workitem.Sort{By: "id"}, 0, 10)
	if err != nil || total != 1 || len(items) != 1 {
		t.Fatalf("items %+v (total %d) %v; want one", items, total, err)
	}
	return items[0]
}

// code is the error's code; a list of validation errors is invalid.
func code(err error) string {
	var es record.Errors
	if errors.As(err, &es) {
		return record.EInvalid
	}
	return record.ErrorCode(err)
}

func TestFindingsAreFiledOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := setup(t, env)
		p1, p2 := f.person(t, 1), f.person(t, 2)
		kinds := []string{"missing_months"}
		rep := f.file(t, 1, kinds, finding(p1, "202403-202404"), finding(p2, "202405-202405"), finding(p1, "202403-202404"))
		if rep.New != 2 || rep.Seen != 1 {
			t.Fatalf("first run: %+v", rep)
		}
		rep = f.file(t, 2, kinds, finding(p1, "202403-202404"), finding(p2, "202405-202405"))
		if rep.New != 0 || rep.Seen != 2 || rep.Gone != 0 {
			t.Fatalf("second run: %+v", rep)
		}
		items, total, err := f.items.List(context.Background(), workitem.Filter{}, workitem.Sort{By: "id"}, 0, 10)
		if err != nil || total != 2 {
			t.Fatalf("%d items, %v", total, err)
		}
		it := items[0]
		// The subject: the person key and the masked ID number, never the number in clear.
		if it.Person != p1 || it.MaskedID != record.MaskID(idNumber(1)) || strings.Contains(it.Detail+it.MaskedID, idNumber(1)) {
			t.Fatalf("subject %+v", it)
		}
		if it.Status != workitem.StatusOpen || it.FirstRun != 1 || it.LastRun != 2 || it.Source != "check" || it.Number != "W000001" {
			t.Fatalf("item %+v", it)
		}
		// A bad finding is refused naming the field.
		in := f.items.Begin("check", kinds, 3, "test")
		if err := in.Add(context.Background(), workitem.Finding{Kind: "x", Key: "k", Severity: "urgent", Detail: "d"}); code(err) != record.EInvalid || !strings.Contains(err.Error(), "severity") {
			t.Fatalf("bad severity: %v", err)
		}
		// Filters, sorting and paging.
		if got := f.only(t, workitem.Filter{Person: p2}); got.Person != p2 {
			t.Fatal(got)
		}
		page, total, _ := f.items.List(context.Background(), workitem.Filter{Status: "active"}, workitem.Sort{By: "id", Desc: true}, 1, 1)
		if total != 2 || len(page) != 1 || page[0].ID != 1 {
			t.Fatalf("page 2 of newest first: %+v %d", page, total)
		}
		if _, _, err := f.items.List(context.Background(), workitem.Filter{Status: "done"}, workitem.Sort{By: "id"}, 0, 10); code(err) != record.EInvalid {
			t.Fatalf("bad status filter: %v", err)
		}
		if _, err := workitem.ParseSort("-colour"); code(err) != record.EInvalid {
			t.Fatalf("bad sort: %v", err)
		}
		// Assignment: to an enabled maintainer only, by a maintainer.
		if _, err := f.items.Assign(context.Background(), first, 1, "weihu"); code(err) != record.EForbidden {
			t.Fatalf("assigned by a reviewer: %v", err)
		}
		if _, err := f.items.Assign(context.Background(), maintainer, 1, "chaxun"); code(err) != record.EInvalid {
			t.Fatalf("assigned to a query user: %v", err)
		}
		it, err = f.items.Assign(context.Background(), maintainer, 1, "weihu2")
		if err != nil || it.Assignee != "weihu2" {
			t.Fatalf("assign: %+v %v", it, err)
		}
		if got := f.only(t, workitem.Filter{Assignee: "-"}); got.ID != 2 {
			t.Fatalf("unassigned: %+v", got)
		}
	})
}

func TestClosedOnlyByApprovedMaintenanceDraft(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := setup(t, env)
		p1 := f.person(t, 1)
		f.file(t, 1, []string{"missing_months"}, finding(p1, "202403-202403"))
		correction := func(n int) review.Submission {
			return review.Submission{Kind: review.Maintenance, Reason: "漏记 2024 年 3 月缴费", Method: "依据单位缴费凭证补录",
				Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: idNumber(n),
					Data: data(map[string]any{"period": "202403", "type": "pension", "status": "paid", "wage": 600000})}}}
		}
		// Not a maintenance draft; a draft about another person; an approved draft: none can close the item.
		other, err := f.rv.Submit(ctx, collector, review.Submission{Kind: "contribution", Facts: correction(1).Facts})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.items.Link(ctx, maintainer, 1, other.ID); code(err) != record.EInvalid || !strings.Contains(err.Error(), "draft_maintenance") {
			t.Fatalf("linked a contribution draft: %v", err)
		}
		wrong, err := f.rv.Submit(ctx, maintainer, correction(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.items.Link(ctx, maintainer, 1, wrong.ID); code(err) != record.EInvalid || !strings.Contains(err.Error(), "draft_person") {
			t.Fatalf("linked a draft about another person: %v", err)
		}
		if _, err := f.items.Link(ctx, collector, 1, wrong.ID); code(err) != record.EForbidden {
			t.Fatalf("linked by a collector: %v", err)
		}
		done := f.approveAll(t, wrong)
		if _, err := f.items.Link(ctx, maintainer, 1, done.ID); code(err) != record.EInvalid || !strings.Contains(err.Error(), "draft_in_review") {
			t.Fatalf("linked an approved draft: %v", err)
		}

		d, err := f.rv.Submit(ctx, maintainer, correction(1))
		if err != nil {
			t.Fatal(err)
		}
		it, err := f.items.Link(ctx, maintainer, 1, d.ID)
		if err != nil || it.Draft != d.Number || it.Status != workitem.StatusOpen {
			t.Fatalf("link: %+v %v", it, err)
		}
		// While the draft is in review the item stays open, and no dismissal can be proposed beside it.
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsNotAFault, "不是错误"); code(err) != record.EConflict {
			t.Fatalf("dismissal beside a draft in review: %v", err)
		}
		for i, a := range []review.Actor{first, second, third} {
			if d, err = f.rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
			if it, _ := f.items.Get(ctx, 1); it.Status != workitem.StatusOpen {
				t.Fatalf("closed after stage %d of 4", i+1)
			}
		}
		// The final approval closes it, with the approver and the events in its history.
		if _, err := f.rv.Act(ctx, approver, d.ID, review.Approve, ""); err != nil {
			t.Fatal(err)
		}
		it, err = f.items.Get(ctx, 1)
		if err != nil || it.Status != workitem.StatusClosed || it.Resolution != workitem.ResolvedByMaintenance || it.ClosedBy != "shenpi" {
			t.Fatalf("after approval: %+v %v", it, err)
		}
		last := it.Actions[len(it.Actions)-1]
		if last.Action != "closed_by_maintenance" || !strings.Contains(last.Detail, d.Number) {
			t.Fatalf("history: %+v", it.Actions)
		}
		if _, err := f.items.Assign(ctx, maintainer, 1, "weihu"); code(err) != record.EConflict {
			t.Fatalf("assigned a closed item: %v", err)
		}
	})
}

func TestReviewedDismissal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := setup(t, env)
		p1 := f.person(t, 1)
		kinds := []string{"missing_months"}
		f.file(t, 1, kinds, finding(p1, "202403-202403"))
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsNotAFault, " "); code(err) != record.EInvalid {
			t.Fatalf("dismissal without a reason: %v", err)
		}
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsResolvedByData, "已补录"); code(err) != record.EInvalid || !strings.Contains(err.Error(), "still_found") {
			t.Fatalf("resolved by data while still found: %v", err)
		}
		if _, err := f.items.ProposeDismissal(ctx, first, 1, workitem.GroundsNotAFault, "中断期间参军，经核实无误"); code(err) != record.EForbidden {
			t.Fatalf("proposed by a reviewer: %v", err)
		}
		// A maintainer who also holds a review post proposes; they cannot approve their own proposal.
		both := review.Actor{User: "weihu3", Posts: []string{"maintainer", "approver"}}
		it, err := f.items.ProposeDismissal(ctx, both, 1, workitem.GroundsNotAFault, "中断期间参军，经核实无误")
		if err != nil || it.Status != workitem.StatusDismissalProposed || it.Proposal.ProposedBy != "weihu3" {
			t.Fatalf("propose: %+v %v", it, err)
		}
		for _, c := range []struct {
			name  string
			actor review.Actor
			code  string
		}{
			{"the proposer", both, record.EForbidden},
			{"a maintainer without a review post", review.Actor{User: "weihu2", Posts: []string{"maintainer"}}, record.EForbidden},
			{"an outside helper", review.Actor{User: "waibao", Posts: []string{"approver"}, External: true}, record.EForbidden},
		} {
			if _, err := f.items.DecideDismissal(ctx, c.actor, 1, review.Approve, ""); code(err) != c.code {
				t.Errorf("approved by %s: %v", c.name, err)
			}
		}
		if _, err := f.items.DecideDismissal(ctx, first, 1, review.Reject, ""); code(err) != record.EInvalid {
			t.Fatalf("rejected without a reason: %v", err)
		}
		it, err = f.items.DecideDismissal(ctx, first, 1, review.Reject, "请核对参军证明后再提")
		if err != nil || it.Status != workitem.StatusOpen || it.Proposal != nil {
			t.Fatalf("rejected: %+v %v", it, err)
		}
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsNotAFault, "已核对参军证明，中断期间视同缴费另行处理"); err != nil {
			t.Fatal(err)
		}
		it, err = f.items.DecideDismissal(ctx, second, 1, review.Approve, "")
		if err != nil || it.Status != workitem.StatusClosed || it.Resolution != workitem.ResolvedByDismissal || it.ClosedBy != "shenhe" {
			t.Fatalf("approved: %+v %v", it, err)
		}
		var actions []string
		for _, a := range it.Actions {
			actions = append(actions, a.Actor+":"+a.Action)
		}
		want := "check:R000001:created weihu3:dismissal_proposed chushen:dismissal_rejected weihu:dismissal_proposed shenhe:dismissal_approved"
		if strings.Join(actions, " ") != want {
			t.Fatalf("history %v", actions)
		}
		// Found again by the next run: dismissed as not a fault, it is not filed again.
		rep := f.file(t, 2, kinds, finding(p1, "202403-202403"))
		if rep.New != 0 || rep.Suppressed != 1 {
			t.Fatalf("rerun after dismissal: %+v", rep)
		}
	})
}

func TestFindingThatDisappears(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := setup(t, env)
		p1, p2 := f.person(t, 1), f.person(t, 2)
		kinds := []string{"missing_months"}
		f.file(t, 1, kinds, finding(p1, "a"), finding(p2, "b"))
		// Run 2 no longer finds the first: it is marked, not closed.
		rep := f.file(t, 2, kinds, finding(p2, "b"))
		if rep.Gone != 1 {
			t.Fatalf("run 2: %+v", rep)
		}
		it, _ := f.items.Get(ctx, 1)
		if it.Status != workitem.StatusOpen || it.GoneSince.IsZero() || it.Actions[len(it.Actions)-1].Action != "not_found" {
			t.Fatalf("gone item: %+v", it)
		}
		if got := f.only(t, workitem.Filter{Gone: "yes"}); got.ID != 1 {
			t.Fatal(got)
		}
		// A partial run of other kinds says nothing about it.
		if rep := f.file(t, 3, []string{"after_death"}); rep.Gone != 0 {
			t.Fatalf("run of another kind: %+v", rep)
		}
		// It is closed through the same rules: a reviewed dismissal on the grounds "resolved by data".
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsResolvedByData, "单位已补缴，数据已更正"); err != nil {
			t.Fatal(err)
		}
		// Found again before the decision: the proposal cannot be approved.
		f.file(t, 4, kinds, finding(p1, "a"), finding(p2, "b"))
		if _, err := f.items.DecideDismissal(ctx, approver, 1, review.Approve, ""); code(err) != record.EConflict {
			t.Fatalf("approved although found again: %v", err)
		}
		f.items.DecideDismissal(ctx, approver, 1, review.Reject, "又出现了")
		f.file(t, 5, kinds, finding(p2, "b"))
		if _, err := f.items.ProposeDismissal(ctx, maintainer, 1, workitem.GroundsResolvedByData, "单位已补缴，数据已更正"); err != nil {
			t.Fatal(err)
		}
		if it, err := f.items.DecideDismissal(ctx, approver, 1, review.Approve, "核实无误"); err != nil || it.Status != workitem.StatusClosed {
			t.Fatalf("closed: %+v %v", it, err)
		}
		// A fault resolved by data that comes back is a new item.
		if rep := f.file(t, 6, kinds, finding(p1, "a"), finding(p2, "b")); rep.New != 1 {
			t.Fatalf("fault back: %+v", rep)
		}
		sum, err := f.items.Summarise(ctx)
		if err != nil || sum.Open != 2 || sum.Closed != 1 || sum.ByLevel["medium"] != 2 || sum.Unassigned != 2 {
			t.Fatalf("summary %+v %v", sum, err)
		}
	})
}
