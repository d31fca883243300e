package check_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/demo"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/workitem"
)

func ref(id string) record.PersonRef { return record.PersonRef{IDNumber: id} }

// contributor returns demo person i's ID number, key and one of their pension contributions.
func contributor(t *testing.T, s *store.Store, i int) (string, string, store.ContributionView) {
	t.Helper()
	id := demo.IDNumber(9, i)
	p, err := s.FindPerson(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.PersonRecord(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var pension []store.ContributionView
	for _, c := range v.Contributions {
		if c.Type == record.Pension {
			pension = append(pension, c)
		}
	}
	if len(pension) < 6 {
		return "", "", store.ContributionView{}
	}
	return id, p, pension[len(pension)/2]
}

func TestEachCheckFindsItsPlantedFaultAndNothingInCleanData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		if _, err := demo.Generate(ctx, s, demo.Options{Persons: 60, Seed: 9, FromYear: 2022, Years: 2}); err != nil {
			t.Fatal(err)
		}
		c := check.New(s)
		clean, err := c.Run(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(clean) != 0 {
			t.Fatalf("clean demo data has findings: %+v", clean)
		}
		// Contributors with at least six pension months, one per planted fault.
		var ids, keys []string
		var rows []store.ContributionView
		for i := 0; len(ids) < 8 && i < 60; i++ {
			if id, p, row := contributor(t, s, i); id != "" {
				ids, keys, rows = append(ids, id), append(keys, p), append(rows, row)
			}
		}
		if len(ids) < 8 {
			t.Fatal("too few contributors in the demo data")
		}
		record1 := func(f record.Fact) {
			t.Helper()
			if _, err := s.Record(ctx, "test:plant", []record.Fact{f}); err != nil {
				t.Fatal(err)
			}
		}
		// missing_months: a month withdrawn.
		if _, err := s.Correct(ctx, "test:plant", rows[0].Seq, &record.EventVoided{Reason: "plant"}); err != nil {
			t.Fatal(err)
		}
		// duplicate_months: the same month posted again.
		record1(&record.ContributionPosted{PersonRef: ref(ids[1]), Employer: rows[1].Employer, Period: rows[1].Period, Type: record.Pension, Status: record.StatusPaid, Wage: 700000})
		// base_out_of_range: a base changed behind the application's back.
		env.Raw(fmt.Sprintf("UPDATE contributions SET base = 100 WHERE seq = %d", rows[2].Seq))
		// duplicate_identities: another ID number with the same name, sex and birth date.
		v3, _ := s.PersonRecord(ctx, keys[3])
		twin := ids[3][:6] + ids[3][6:14] + "99" + ids[3][16:17]
		twin = twin[:17] + string(record.IDCheckChar(twin[:17]))
		if twin[:6] == ids[3][:6] {
			twin = "110229" + twin[6:17]
			twin += string(record.IDCheckChar(twin))
		}
		record1(&record.PersonRegistered{PersonRef: ref(twin), Name: v3.Name, Region: "110105", RegisteredOn: "2023-01-01"})
		// overlapping_enrolments: a second pension enrolment overlapping the first.
		record1(&record.EnrolmentStarted{PersonRef: ref(ids[4]), Type: record.Pension, From: "2023-01-01"})
		// after_death: died before the last contributions.
		record1(&record.PersonChanged{PersonRef: ref(ids[5]), Status: "deceased", DeathDate: fmt.Sprintf("%d-%02d-15", rows[5].Period.Year(), rows[5].Period.Month()), Reason: "plant"})
		// contributions_after_retirement: retired before the last contributions.
		record1(&record.EligibilityGranted{PersonRef: ref(ids[6]), Kind: "retirement", From: fmt.Sprintf("%d-%02d-01", rows[6].Period.Year(), rows[6].Period.Month()), Decision: "plant"})
		// benefits_without_eligibility: a pension paid without eligibility.
		record1(&record.BenefitPaid{PersonRef: ref(ids[7]), Kind: "unemployment", Period: 202301, Amount: 150000})
		// materials: a stored original changed.
		rv := review.New(s)
		sha, _ := rv.AddMaterial(ctx, []byte("原件扫描"))
		if _, err := rv.Submit(ctx, review.Actor{User: "c", Posts: []string{"collector"}}, review.Submission{Kind: "other", Facts: []review.DraftFact{
			{Type: record.TypeOtherRecorded, IDNumber: ids[0], Data: []byte(`{"kind":"note","attributes":{"a":"b"}}`)}},
			Materials: []review.Material{{SHA256: sha, Name: "scan.pdf"}}}); err != nil {
			t.Fatal(err)
		}
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + sha + "'")

		want := map[string]string{
			"missing_months":                 keys[0],
			"duplicate_months":               keys[1],
			"base_out_of_range":              keys[2],
			"duplicate_identities":           "",
			"overlapping_enrolments":         keys[4],
			"after_death":                    keys[5],
			"contributions_after_retirement": keys[6],
			"benefits_without_eligibility":   keys[7],
			"materials":                      "",
		}
		for _, name := range check.Names() {
			got, err := c.Run(ctx, []string{name}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				t.Errorf("%s found nothing", name)
				continue
			}
			for _, f := range got {
				if want[name] != "" && f.Person != want[name] {
					t.Errorf("%s: finding about the wrong person: %+v", name, f)
				}
				if strings.Contains(f.Detail, ids[0]) || strings.Contains(f.Detail, twin) {
					t.Errorf("%s: a finding shows an ID number: %s", name, f.Detail)
				}
			}
		}
		if _, err := c.Run(ctx, []string{"no_such_check"}, nil); record.ErrorCode(err) != record.EInvalid {
			t.Fatalf("unknown check: %v", err)
		}
	})
}

func TestRunnerFilesWorkItemsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		if _, err := demo.Generate(ctx, s, demo.Options{Persons: 30, Seed: 9, FromYear: 2022, Years: 2}); err != nil {
			t.Fatal(err)
		}
		cfg := auth.DefaultConfig()
		cfg.Argon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		items := workitem.New(s, auth.New(s.Driver(), cfg))
		r := &check.Runner{Store: s, Items: items}
		var ids []string
		var rows []store.ContributionView
		for i := 0; len(ids) < 2 && i < 30; i++ {
			if id, _, row := contributor(t, s, i); id != "" {
				ids, rows = append(ids, id), append(rows, row)
			}
		}
		// Two faults: a month withdrawn, and a base changed behind the application's back.
		if _, err := s.Correct(ctx, "test:plant", rows[0].Seq, &record.EventVoided{Reason: "plant"}); err != nil {
			t.Fatal(err)
		}
		env.Raw(fmt.Sprintf("UPDATE contributions SET base = 100 WHERE seq = %d", rows[1].Seq))

		var progress []check.Status
		run, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: "tester"}, nil, func(st check.Status) { progress = append(progress, st) })
		if err != nil {
			t.Fatal(err)
		}
		// missing_months, base_out_of_range and journal_projections (the changed base disagrees with the journal).
		if run.Status != check.RunOK || run.Findings != 3 || run.New != 3 || run.Rows == 0 || len(run.Checks) != len(check.Checks) {
			t.Fatalf("first run: %+v", run)
		}
		if len(progress) < len(check.Checks)+1 || progress[len(progress)-1].Check != "" || progress[len(progress)-1].Done != len(check.Checks) {
			t.Fatalf("progress: %+v", progress)
		}
		again, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: "tester"}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if again.New != 0 || again.Seen != 3 || again.Gone != 0 {
			t.Fatalf("second run filed again: %+v", again)
		}
		list, total, err := items.List(ctx, workitem.Filter{Source: check.Source}, workitem.Sort{By: "id"}, 0, 10)
		if err != nil || total != 3 {
			t.Fatalf("%d items after two runs, %v", total, err)
		}
		for _, it := range list {
			if it.Status != workitem.StatusOpen || it.FirstRun != run.ID || it.LastRun != again.ID || strings.Contains(it.Detail, ids[0]) {
				t.Errorf("item %+v", it)
			}
		}
		last, ok, err := r.Last(ctx)
		if err != nil || !ok || last.ID != again.ID || last.Status != check.RunOK || last.Seen != 3 {
			t.Fatalf("last run %+v %v", last, err)
		}
		// One run at a time: a run still making progress elsewhere refuses a second; an abandoned one does not.
		now := time.Now().UnixMilli()
		env.Raw(fmt.Sprintf(`INSERT INTO check_runs (id, trigger_kind, started_by, checks, status, started_at, heartbeat, finished_at, current_check,
			checks_done, rows_read, findings, new_items, seen_items, gone_items, suppressed, error) VALUES (100, 'cli', 'x', '', 'running', %d, %d, 0, '', 0, 0, 0, 0, 0, 0, 0, '')`, now, now))
		if _, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: "tester"}, []string{"materials"}, nil); record.ErrorCode(err) != record.EConflict {
			t.Fatalf("second run at once: %v", err)
		}
		env.Raw(fmt.Sprintf("UPDATE check_runs SET heartbeat = %d WHERE id = 100", now-int64(40*time.Minute/time.Millisecond)))
		if _, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: "tester"}, []string{"materials"}, nil); err != nil {
			t.Fatal(err)
		}
		if old, _ := r.Get(ctx, 100); old.Status != check.RunFailed || !strings.Contains(old.Error, "abandoned") {
			t.Fatalf("abandoned run: %+v", old)
		}
		// The scheduler starts a run when one is due, and not again within the interval.
		sched := &check.Scheduler{Runner: r, Every: time.Hour}
		env.Raw("UPDATE check_runs SET started_at = 0")
		sched.Once(ctx, slog.New(slog.DiscardHandler))
		r.Wait()
		last, _, _ = r.Last(ctx)
		if last.Trigger != check.TriggerSchedule || last.Status != check.RunOK || last.StartedBy != "scheduler" {
			t.Fatalf("scheduled run %+v", last)
		}
		sched.Once(ctx, slog.New(slog.DiscardHandler))
		r.Wait()
		if again, _, _ := r.Last(ctx); again.ID != last.ID {
			t.Fatalf("a second scheduled run within the interval: %+v", again)
		}
	})
}
