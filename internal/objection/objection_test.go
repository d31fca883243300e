package objection_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"sirec/internal/demo"
	"sirec/internal/objection"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const seed = 5

var (
	maintainer = review.Actor{User: "weihu", Posts: []string{"maintainer"}}
	reviewers  = []review.Actor{{User: "chushen", Posts: []string{"initial_reviewer"}}, {User: "shenhe", Posts: []string{"reviewer"}},
		{User: "fuhe", Posts: []string{"rechecker"}}, {User: "shenpi", Posts: []string{"approver"}}}
)

type fixture struct {
	st  *store.Store
	rv  *review.Service
	svc *objection.Service
	now time.Time
	doc review.Material
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	st := env.Store()
	if _, err := demo.Generate(ctx, st, demo.Options{Persons: 6, Seed: seed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, rv: review.New(st), now: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)} // a Monday
	f.svc = objection.NewService(st, f.rv)
	f.svc.Now = func() time.Time { return f.now }
	f.svc.Location = time.UTC
	sha, err := f.rv.AddMaterial(ctx, []byte("pay slip 2024-03"))
	if err != nil {
		t.Fatal(err)
	}
	f.doc = review.Material{SHA256: sha, Name: "工资条.jpg", ContentType: "image/jpeg"}
	return f
}

func (f *fixture) person(t *testing.T, i int) *store.PersonView {
	t.Helper()
	k, err := f.st.FindPerson(context.Background(), demo.IDNumber(seed, i))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.st.PersonRecord(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rules(err error) string {
	var es record.Errors
	var one *record.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one):
		es = record.Errors{one}
	default:
		return ""
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Field+"/"+e.Rule)
	}
	return strings.Join(out, " ")
}

func TestObjectionAnswered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		v := f.person(t, 0)
		me := objection.Filer{Kind: objection.FilerPerson, Name: "demo-person"}
		_, err := f.svc.File(ctx, me, objection.New{Person: v.Person, Subject: "x", Description: "short"})
		if r := rules(err); !strings.Contains(r, "subject/text_length") || !strings.Contains(r, "description/text_length") || !strings.Contains(r, "materials/evidence_required") {
			t.Fatalf("incomplete objection: %v", err)
		}
		seq := v.Contributions[0].Seq
		o, err := f.svc.File(ctx, me, objection.New{Person: v.Person, Subject: "2024年3月养老保险缴费", EventSeq: &seq,
			Description: "单位按最低基数申报，实际工资高于申报工资，附工资条。", Materials: []review.Material{f.doc}})
		if err != nil {
			t.Fatal(err)
		}
		// Filed on Monday 2 March: 15 working days later is Monday 23 March; due at its end.
		if o.Number != "O000001" || o.Status != objection.StatusOpen || o.Channel != "portal" || len(o.Materials) != 1 ||
			!o.DueAt.Equal(time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)) || o.Overdue || *o.EventSeq != seq {
			t.Fatalf("filed: %+v", o)
		}
		other := f.person(t, 1)
		if _, err := f.svc.File(ctx, me, objection.New{Person: v.Person, Subject: "别人的记录", EventSeq: &other.Contributions[0].Seq,
			Description: "这是另一个人的缴费记录事件编号。", Materials: []review.Material{f.doc}}); rules(err) != "event/event_of_person" {
			t.Errorf("event of another person: %v", err)
		}

		// Overdue when the deadline passes unanswered.
		f.now = time.Date(2026, 3, 24, 0, 0, 1, 0, time.UTC)
		if n, _ := f.svc.OverdueCount(ctx); n != 1 {
			t.Errorf("overdue count: %d", n)
		}
		list, total, err := f.svc.List(ctx, objection.Filter{Overdue: true}, 0, 10)
		if err != nil || total != 1 || !list[0].Overdue {
			t.Fatalf("overdue list: %d %+v %v", total, list, err)
		}
		// A maintainer re-checks and answers with reasons; the answer closes it.
		if _, err := f.svc.Answer(ctx, maintainer.User, o.ID, "不对"); rules(err) != "answer/answer_reason" {
			t.Errorf("answer without reasons: %v", err)
		}
		if o, err = f.svc.Assign(ctx, maintainer.User, o.ID); err != nil || o.Status != objection.StatusRechecking || o.Assignee != maintainer.User {
			t.Fatalf("assign: %+v %v", o, err)
		}
		o, err = f.svc.Answer(ctx, maintainer.User, o.ID, "经核查单位工资台账，2024年3月申报工资与实发工资一致，记录无误。")
		if err != nil || o.Status != objection.StatusAnswered || o.Overdue || o.ClosedAt.IsZero() || o.AnsweredBy != maintainer.User {
			t.Fatalf("answered: %+v %v", o, err)
		}
		if n, _ := f.svc.OverdueCount(ctx); n != 0 {
			t.Errorf("overdue after the answer: %d", n)
		}
		if _, err := f.svc.Answer(ctx, maintainer.User, o.ID, "再次答复，记录仍然无误。"); record.ErrorCode(err) != record.EConflict {
			t.Errorf("answering a closed objection: %v", err)
		}
		mine, _, _ := f.svc.List(ctx, objection.Filter{Filer: "demo-person"}, 0, 10)
		if len(mine) != 1 || mine[0].Answer == "" {
			t.Errorf("the filer's objections: %+v", mine)
		}

		// At the counter, staff file on the person's behalf; they cannot re-check their own filing.
		c, err := f.svc.File(ctx, objection.Filer{Kind: objection.FilerCounter, Name: "collector"}, objection.New{IDNumber: demo.IDNumber(seed, 2),
			Subject: "2023年医疗保险缴费", Description: "本人称2023年在外地参保，此处记录重复。", Materials: []review.Material{f.doc}})
		if err != nil || c.Channel != "counter" || c.FilerKind != objection.FilerCounter {
			t.Fatalf("counter filing: %+v %v", c, err)
		}
		if _, err := f.svc.Assign(ctx, "collector", c.ID); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("filer re-checking: %v", err)
		}
		if _, err := f.svc.Withdraw(ctx, "someone", c.ID, "x"); record.ErrorCode(err) != record.EForbidden {
			t.Errorf("withdraw by another: %v", err)
		}
		if c, err = f.svc.Withdraw(ctx, "collector", c.ID, "本人撤回"); err != nil || c.Status != objection.StatusWithdrawn {
			t.Errorf("withdraw: %+v %v", c, err)
		}
	})
}

func TestObjectionCorrectedThroughMaintenance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		// An employer objects to an employee's record; never to someone else's.
		var v *store.PersonView
		var employer string
		for i := 0; i < 6 && employer == ""; i++ {
			v = f.person(t, i)
			for _, e := range v.Enrolments {
				if e.Employer != "" {
					employer = e.Employer
				}
			}
		}
		if employer == "" {
			t.Fatal("no demo person with an employer")
		}
		emp := objection.Filer{Kind: objection.FilerEmployer, Name: "demo-employer", Employer: employer}
		var stranger *store.PersonView
		for i := 0; i < 6; i++ {
			p := f.person(t, i)
			has := false
			for _, e := range p.Enrolments {
				has = has || e.Employer == employer
			}
			if !has {
				stranger = p
			}
		}
		if stranger != nil {
			if _, err := f.svc.File(ctx, emp, objection.New{Person: stranger.Person, Subject: "他人记录", Description: "不是本单位职工的记录。",
				Materials: []review.Material{f.doc}}); record.ErrorCode(err) != record.EForbidden {
				t.Errorf("employer objecting to a stranger's record: %v", err)
			}
		}
		target := v.Contributions[0]
		o, err := f.svc.File(ctx, emp, objection.New{Person: v.Person, Subject: "缴费工资申报有误", EventSeq: &target.Seq,
			Description: "本单位申报该职工缴费工资时录入有误，应为 8000 元。", Materials: []review.Material{f.doc}})
		if err != nil || o.Employer != employer {
			t.Fatalf("employer filing: %+v %v", o, err)
		}
		// A maintainer corrects the record by a maintenance draft, linked to the objection.
		seq := target.Seq
		fix := review.Submission{Kind: review.Maintenance, Reason: "异议 " + o.Number + "：单位申报工资有误", Method: "依单位工资表更正缴费工资",
			Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: demoID(t, f, v.Person), Supersedes: &seq,
				Data: mustJSON(map[string]any{"period": target.Period.String(), "type": target.Type, "status": "paid", "wage": 800000, "employer": target.Employer})}}}
		d, err := f.rv.Submit(ctx, maintainer, fix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.LinkCorrection(ctx, maintainer.User, o.ID, "D999999"); record.ErrorCode(err) != record.ENotFound {
			t.Errorf("linking a missing draft: %v", err)
		}
		o, err = f.svc.LinkCorrection(ctx, maintainer.User, o.ID, d.Number)
		if err != nil || o.Status != objection.StatusCorrecting || o.Draft != d.Number || o.Assignee != maintainer.User {
			t.Fatalf("linked: %+v %v", o, err)
		}
		// Until the draft is approved the objection stays open for correction; then it is corrected.
		for i, a := range reviewers {
			if d, err = f.rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
				t.Fatal(err)
			}
			o, _ = f.svc.Get(ctx, o.ID)
			if want := map[bool]string{true: objection.StatusCorrected, false: objection.StatusCorrecting}[i == len(reviewers)-1]; o.Status != want {
				t.Fatalf("after stage %d: %s, want %s", i, o.Status, want)
			}
		}
		if o.ClosedAt.IsZero() || o.Actions[len(o.Actions)-1].Action != "corrected" {
			t.Fatalf("corrected: %+v", o)
		}
		after, _ := f.st.PersonRecord(ctx, v.Person)
		found := false
		for _, c := range after.Contributions {
			found = found || c.Period == target.Period && c.Type == target.Type && c.Wage == 800000
		}
		if !found {
			t.Error("the correction is not in the record")
		}

		// A correcting draft that is withdrawn sends the objection back to re-checking.
		o2, err := f.svc.File(ctx, emp, objection.New{Person: v.Person, Subject: "另一笔缴费", Description: "另一笔缴费工资也有误，需要更正。",
			Materials: []review.Material{f.doc}})
		if err != nil {
			t.Fatal(err)
		}
		other := after.Contributions[len(after.Contributions)-1]
		oseq := other.Seq
		fix.Facts[0].Supersedes = &oseq
		fix.Facts[0].Data = mustJSON(map[string]any{"period": other.Period.String(), "type": other.Type, "status": "paid", "wage": 700000, "employer": other.Employer})
		d2, err := f.rv.Submit(ctx, maintainer, fix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.LinkCorrection(ctx, maintainer.User, o2.ID, d2.Number); err != nil {
			t.Fatal(err)
		}
		if _, err := f.rv.Withdraw(ctx, maintainer, d2.ID, "更正依据不足"); err != nil {
			t.Fatal(err)
		}
		if o2, _ = f.svc.Get(ctx, o2.ID); o2.Status != objection.StatusRechecking || o2.Draft != "" {
			t.Errorf("after the draft was withdrawn: %+v", o2)
		}
	})
}

func demoID(t *testing.T, f *fixture, person string) string {
	t.Helper()
	for i := range 6 {
		if k, _ := f.st.FindPerson(context.Background(), demo.IDNumber(seed, i)); k == person {
			return demo.IDNumber(seed, i)
		}
	}
	t.Fatal("not a demo person")
	return ""
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
