package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"sirec/internal/demo"
	"sirec/internal/journal"
	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const (
	employerA = "91350100M000100Y43"
	personA   = "11010519491231002X"
)

// idNumber makes a valid ID number born 1985 with sequence n.
func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n%1000)
	return body + string(record.IDCheckChar(body))
}

func ref(id string) record.PersonRef { return record.PersonRef{IDNumber: id} }

func basics(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Record(ctx, "test:registrations", []record.Fact{
		&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 2, Name: "福州测试有限公司", Region: "350100", RegisteredOn: "2001-05-01"},
		&record.PersonRegistered{PersonRef: ref(idNumber(1)), Name: "张三", Region: "110105", RegisteredOn: "2019-01-02"},
		&record.EnrolmentStarted{PersonRef: ref(idNumber(1)), Employer: employerA, Type: record.Pension, From: "2019-01-02"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var facts []record.Fact
	for m := 1; m <= 12; m++ {
		facts = append(facts, &record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA, Period: record.MakePeriod(2024, m),
			Type: record.Pension, Status: record.StatusPaid, Wage: 800000})
	}
	if _, err := s.Record(ctx, "test:batch:2024", facts); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, env *storetest.Env) store.VerifyReport {
	t.Helper()
	rep, err := store.Verify(context.Background(), env.Driver(), env.Keys.Verifier, store.DefaultRules(), nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func TestRecordReadVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		p, err := s.FindPerson(ctx, idNumber(1))
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.PersonRecord(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if v.Name != "张三" || v.IDMasked != record.MaskID(idNumber(1)) || v.Sex != "female" && v.Sex != "male" || len(v.Contributions) != 12 || len(v.Enrolments) != 1 {
			t.Fatalf("person view: %+v", v)
		}
		c := v.Contributions[0]
		// 8,000.00 lies between the national default floor and ceiling: base = wage; pension 16 % / 8 %.
		if c.Base != 800000 || c.EmployerAmt != 128000 || c.IndividualAmt != 64000 || c.AccountCredit != 64000 {
			t.Fatalf("derived figures: %+v", c)
		}
		// Derived by the rules (national default: monthly interest method, 2024 crediting rate 2.62 %):
		// 12 × 640.00 credited, interest Σ 640 × (13 − n) × 2.62 % / 12 = 108.99, closing 7,788.99.
		d := v.Derived
		if d == nil || d.AccountBalance != 778899 || len(d.AccountYears) != 1 || d.AccountYears[0].Interest != 10899 {
			t.Fatalf("derived account: %+v", d)
		}
		if len(d.ContributionMonths) != 1 || d.ContributionMonths[0].Total != 12 || d.ContributionMonths[0].Years != "1.00" {
			t.Fatalf("derived months: %+v", d.ContributionMonths)
		}
		// 8,000.00 ÷ the default average monthly wage 5,448.58 = 1.46827…
		if d.ContributionIndex != "1.4683" || d.Retirement == nil || d.PensionEstimate == nil {
			t.Fatalf("derived index and estimate: %+v", d)
		}
		rep := mustVerify(t, env)
		cp, _, err := s.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Events != 15 || rep.RootHex() != fmt.Sprintf("%x", cp.Root) || rep.Checkpoints != 2 {
			t.Fatalf("report %+v, checkpoint %+v", rep, cp)
		}
		// Every event is provably in the signed tree.
		for seq := int64(0); seq < rep.Events; seq++ {
			_, body, err := s.Event(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			proof, err := s.InclusionProof(ctx, seq, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := journal.VerifyInclusion(body, uint64(seq), cp.Size, proof, cp.Root); err != nil {
				t.Fatalf("event %d: %v", seq, err)
			}
		}
		first, err := s.Checkpoint(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		cons, err := s.ConsistencyProof(ctx, 3, cp.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := journal.VerifyConsistency(3, cp.Size, cons, first.Root, cp.Root); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBatchIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		before, _ := s.Counts(ctx)
		var facts []record.Fact
		for m := 1; m <= 10; m++ {
			facts = append(facts, &record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA, Period: record.MakePeriod(2023, m),
				Type: record.Pension, Status: record.StatusPaid, Wage: 800000})
		}
		facts[3].(*record.ContributionPosted).Period = 202313
		facts[7].(*record.ContributionPosted).Wage = 0
		_, err := s.Record(ctx, "test:bad", facts)
		var es record.Errors
		if !errors.As(err, &es) || len(es) != 2 {
			t.Fatalf("want 2 problems, got %v", err)
		}
		if es[0].Field != "facts[3].period" || es[0].Rule != "period_month" || es[1].Field != "facts[7].wage" || es[1].Rule != "wage_positive" {
			t.Fatalf("problems: %v / %v", es[0], es[1])
		}
		// An unknown person is found only against the database: still nothing is written.
		facts = facts[:2]
		facts = append(facts, &record.ContributionPosted{PersonRef: ref(idNumber(99)), Period: 202301, Type: record.Pension, Status: record.StatusPaid, Wage: 100000})
		_, err = s.Record(ctx, "test:bad", facts)
		if !errors.As(err, &es) || len(es) != 1 || es[0].Field != "facts[2].id_number" {
			t.Fatalf("unknown person: %v", err)
		}
		if strings.Contains(err.Error(), idNumber(99)) {
			t.Fatalf("error shows the full ID number: %v", err)
		}
		after, _ := s.Counts(ctx)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("a refused batch changed the database: %v → %v", before, after)
		}
		mustVerify(t, env)
	})
}

func TestCorrectionSupersedes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		p, _ := s.FindPerson(ctx, idNumber(1))
		v, _ := s.PersonRecord(ctx, p)
		old := v.Contributions[5]
		rc, err := s.Correct(ctx, "test:correction", old.Seq, &record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA,
			Period: old.Period, Type: record.Pension, Status: record.StatusPaid, Wage: 900000})
		if err != nil {
			t.Fatal(err)
		}
		v, _ = s.PersonRecord(ctx, p)
		var found bool
		for _, c := range v.Contributions {
			if c.Seq == old.Seq {
				t.Fatal("superseded contribution still in force")
			}
			if c.Seq == rc.First {
				found = c.Wage == 900000 && c.Period == old.Period
			}
		}
		if !found || len(v.Contributions) != 12 {
			t.Fatalf("correction not in force: %+v", v.Contributions)
		}
		// The old event stays in the journal, unchanged.
		e, _, err := s.Event(ctx, old.Seq)
		if err != nil || !strings.Contains(string(e.Data), `"wage":800000`) {
			t.Fatalf("old event: %s %v", e.Data, err)
		}
		// A second correction of the same event, or a correction of another type, is refused.
		if _, err := s.Correct(ctx, "x", old.Seq, &record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA, Period: old.Period, Type: record.Pension, Status: record.StatusPaid, Wage: 1}); err == nil {
			t.Fatal("superseded twice")
		}
		if _, err := s.Correct(ctx, "x", 0, &record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA, Period: 202401, Type: record.Pension, Status: record.StatusPaid, Wage: 1}); err == nil {
			t.Fatal("a registration was superseded by a contribution")
		}
		mustVerify(t, env)
	})
}

func snapshot(t *testing.T, s *store.Store, persons []string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range persons {
		v, err := s.PersonRecord(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func demoPersons(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	ctx := context.Background()
	if _, err := demo.Generate(ctx, s, demo.Options{Persons: n, Seed: 7, FromYear: 2022, Years: 2}); err != nil {
		t.Fatal(err)
	}
	keys, err := s.PersonKeys(ctx, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestRebuildGivesIdenticalProjections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		persons := demoPersons(t, s, 40)
		before := snapshot(t, s, persons)
		counts, _ := s.Counts(ctx)
		if err := s.Rebuild(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, s, persons); after != before {
			t.Fatal("rebuilt projections differ")
		}
		counts2, _ := s.Counts(ctx)
		if fmt.Sprint(counts) != fmt.Sprint(counts2) {
			t.Fatalf("row counts differ: %v vs %v", counts, counts2)
		}
		if counts["contributions"] == 0 || counts["benefit_payments"] == 0 || counts["deemed_periods"] == 0 {
			t.Fatalf("demo lacks kinds: %v", counts)
		}
		mustVerify(t, env)
	})
}

func TestDemoIsDeterministicAcrossEngines(t *testing.T) {
	var views []string
	var keys *keyring.Keyring
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		// The same agency keys on both engines: person keys are keyed hashes of the ID numbers.
		if keys == nil {
			keys = env.Keys
		}
		env.Keys = keys
		s := env.Store()
		persons := demoPersons(t, s, 25)
		views = append(views, snapshot(t, s, persons))
	})
	if len(views) == 2 && views[0] != views[1] {
		t.Fatal("the same seed gave different records on SQLite and PostgreSQL")
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	cases := []struct {
		name string
		do   func(env *storetest.Env, s *store.Store)
		want string
		// journal is what VerifyJournal reports; "" when the change lies outside the journal, which it does
		// not check.
		journal string
	}{
		{"change one byte of an event", func(env *storetest.Env, s *store.Store) {
			_, body, _ := s.Event(context.Background(), 5)
			b := []byte(strings.Replace(string(body), `"wage":800000`, `"wage":900000`, 1))
			env.Raw("UPDATE journal_events SET body = " + env.Blob(b) + " WHERE seq = 5")
		}, "event 5", "event 5"},
		{"change an event and its leaf hash", func(env *storetest.Env, s *store.Store) {
			_, body, _ := s.Event(context.Background(), 6)
			b := []byte(strings.Replace(string(body), `"wage":800000`, `"wage":900000`, 1))
			env.Raw("UPDATE journal_events SET body = " + env.Blob(b) + ", leaf_hash = " + env.Blob(journal.LeafHash(b)) + " WHERE seq = 6")
		}, "tree root at size", "tree root at size"},
		{"delete an event", func(env *storetest.Env, s *store.Store) {
			env.Raw("DELETE FROM journal_events WHERE seq = 4")
		}, "event 4 is missing", "event 4 is missing"},
		{"delete the last event", func(env *storetest.Env, s *store.Store) {
			env.Raw("DELETE FROM journal_events WHERE seq = 14")
		}, "event 14 and later are missing", "event 14 and later are missing"},
		{"insert an event", func(env *storetest.Env, s *store.Store) {
			e, _, _ := s.Event(context.Background(), 14)
			e.Seq = 15
			body := e.Encode()
			env.Raw(fmt.Sprintf("INSERT INTO journal_events (seq, body, leaf_hash) VALUES (15, %s, %s)", env.Blob(body), env.Blob(journal.LeafHash(body))))
		}, "not covered by any signed checkpoint", "not covered by any signed checkpoint"},
		{"swap two events", func(env *storetest.Env, s *store.Store) {
			env.Raw("UPDATE journal_events SET seq = -1 WHERE seq = 7")
			env.Raw("UPDATE journal_events SET seq = 7 WHERE seq = 8")
			env.Raw("UPDATE journal_events SET seq = 8 WHERE seq = -1")
		}, "event 7", "tree root at size"},
		{"change a projection row", func(env *storetest.Env, s *store.Store) {
			env.Raw("UPDATE contributions SET base = base + 1 WHERE seq = 9")
		}, "projection contributions: row seq=9", ""},
		{"change a derived account credit", func(env *storetest.Env, s *store.Store) {
			env.Raw("UPDATE contributions SET account_credit = account_credit - 1 WHERE seq = 11")
		}, "projection contributions: row seq=11", ""},
		{"delete a projection row", func(env *storetest.Env, s *store.Store) {
			env.Raw("DELETE FROM contributions WHERE seq = 10")
		}, "projection contributions: row seq=10", ""},
		{"add a projection row", func(env *storetest.Env, s *store.Store) {
			env.Raw("INSERT INTO subsidies (seq, person, type, kind, period, amount) VALUES (99, 'x', 'pension', 'k', 202401, 100)")
		}, "projection subsidies: row seq=99", ""},
		{"replace the checkpoint with one signed by another key", func(env *storetest.Env, s *store.Store) {
			cp, _, _ := s.LatestCheckpoint(context.Background())
			other := storetest.New(t, "sqlite").Keys
			forged, _ := cp.Sign(other.Signer)
			env.Raw(fmt.Sprintf("UPDATE journal_checkpoints SET signed = '%s' WHERE size = %d", forged, cp.Size))
		}, "checkpoint of size 15", "checkpoint of size 15"},
		{"replace the latest checkpoint with an older one", func(env *storetest.Env, s *store.Store) {
			env.Raw("DELETE FROM journal_checkpoints WHERE size = 15")
		}, "not covered by any signed checkpoint", "not covered by any signed checkpoint"},
	}
	storetest.Each(t, func(t *testing.T, _ *storetest.Env) {
		engine := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				env := storetest.New(t, engine)
				s := env.Store()
				basics(t, s)
				mustVerify(t, env)
				tc.do(env, s)
				_, err := store.Verify(context.Background(), env.Driver(), env.Keys.Verifier, store.DefaultRules(), nil)
				if !errors.Is(err, store.ErrTampered) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want a failure naming %q, got %v", tc.want, err)
				}
				_, err = store.VerifyJournal(context.Background(), env.Driver(), env.Keys.Verifier, nil)
				switch {
				case tc.journal == "" && err != nil:
					t.Fatalf("VerifyJournal, which does not check projections, failed: %v", err)
				case tc.journal != "" && (!errors.Is(err, store.ErrTampered) || !strings.Contains(err.Error(), tc.journal)):
					t.Fatalf("VerifyJournal: want a failure naming %q, got %v", tc.journal, err)
				}
			})
		}
	})
}

func TestJournalRefusesUpdateAndDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		for _, q := range []string{
			"UPDATE journal_events SET body = leaf_hash WHERE seq = 1",
			"DELETE FROM journal_events WHERE seq = 1",
			"UPDATE journal_checkpoints SET signed = 'x'",
			"DELETE FROM journal_checkpoints WHERE size > 0",
		} {
			tx, err := s.Driver().Begin(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, q)
			tx.Rollback(ctx)
			if err == nil {
				t.Fatalf("the application's connection could run %q", q)
			}
		}
		mustVerify(t, env)
	})
}

func TestSchemaMigrationsAreRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		d := env.Driver()
		applied, err := store.Migrate(context.Background(), d, time.Now())
		if err != nil || len(applied) < 5 || applied[len(applied)-1] != store.SchemaVersion {
			t.Fatalf("first migrate: %v %v", applied, err)
		}
		applied, err = store.Migrate(context.Background(), d, time.Now())
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v %v", applied, err)
		}
		// A database holding a step this binary does not know was written by a newer sirec: refused.
		env.Raw("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)", store.SchemaVersion+100)
		if _, err := store.Migrate(context.Background(), d, time.Now()); !errors.Is(err, store.ErrSchemaTooNew) {
			t.Fatalf("migrate over a newer schema: %v, want ErrSchemaTooNew", err)
		}
	})
}

func TestRuleSetAdoptedThroughTheJournal(t *testing.T) {
	body, err := os.ReadFile("../rules/testdata/beijing-2025.toml")
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		post := func(p record.Period) {
			t.Helper()
			if _, err := s.Record(ctx, "test", []record.Fact{&record.ContributionPosted{PersonRef: ref(idNumber(1)), Employer: employerA,
				Period: p, Type: record.Pension, Status: record.StatusPaid, Wage: 500000}}); err != nil {
				t.Fatal(err)
			}
		}
		post(202507)
		if _, err := s.Record(ctx, "test:rules", []record.Fact{&record.RuleSetAdopted{Body: string(body)}}); err != nil {
			t.Fatal(err)
		}
		post(202508)
		post(202506)
		bases := func() map[record.Period]record.Fen {
			p, _ := s.FindPerson(ctx, idNumber(1))
			v, err := s.PersonRecord(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			m := map[record.Period]record.Fen{}
			for _, c := range v.Contributions {
				m[c.Period] = c.Base
			}
			return m
		}
		// Beijing's 2025 floor (7,162) from 2025-07 on — also for the July contribution recorded before the
		// set was adopted, which adoption recomputes; the national rules before (5,000.00 lies above their floor).
		want := map[record.Period]record.Fen{202506: 500000, 202507: 716200, 202508: 716200}
		for p, b := range want {
			if got := bases()[p]; got != b {
				t.Fatalf("%s: base %s, want %s", p, got, b)
			}
		}
		if err := s.Rebuild(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for p, b := range want {
			if got := bases()[p]; got != b {
				t.Fatalf("after rebuild %s: base %s, want %s", p, got, b)
			}
		}
		mustVerify(t, env)
		// A store opened afresh loads the adopted set from its projection.
		s2 := env.Store()
		if got := s2.Book().At("110105", 202508).Floor(); got != 716200 {
			t.Fatalf("reopened store floor %s", got)
		}
		// A malformed rule set is refused and records nothing.
		if _, err := s.Record(ctx, "test:rules", []record.Fact{&record.RuleSetAdopted{Body: "version = 1\n"}}); err == nil {
			t.Fatal("a malformed rule set was adopted")
		}
		mustVerify(t, env)
	})
}

// TestMonthlyBatchIsAppendedInPersonOrder: a batch of contribution postings is appended in person-key order
// (each person's rows in their own order), every fact is recorded once, and a batch with any other fact keeps
// its order.
func TestMonthlyBatchIsAppendedInPersonOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		setup := []record.Fact{&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 1, Name: "单位", Region: "350100", RegisteredOn: "2001-01-01"}}
		for i := 0; i < 30; i++ {
			setup = append(setup, &record.PersonRegistered{PersonRef: ref(benchID(i)), Name: "甲", Region: "110105", RegisteredOn: "2015-01-01"})
		}
		if _, err := s.Record(ctx, "setup", setup); err != nil {
			t.Fatal(err)
		}
		var batch []record.Fact
		for m := 3; m >= 1; m-- { // months in falling order: each person's rows must keep it
			for i := 0; i < 30; i++ {
				batch = append(batch, &record.ContributionPosted{PersonRef: ref(benchID(i)), Employer: employerA, Period: record.MakePeriod(2024, m),
					Type: record.Pension, Status: record.StatusPaid, Wage: int64(500000 + i)})
			}
		}
		rc, err := s.Record(ctx, "batch", batch)
		if err != nil || rc.Count != 90 {
			t.Fatalf("%v %+v", err, rc)
		}
		type key struct {
			person string
			period string
		}
		seen := map[key]bool{}
		var lastPerson string
		var lastPeriod string
		for seq := rc.First; seq < rc.First+rc.Count; seq++ {
			e, _, err := s.Event(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Period string `json:"period"`
			}
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatal(err)
			}
			if e.Person < lastPerson {
				t.Fatalf("event %d: person %s after %s", seq, e.Person, lastPerson)
			}
			if e.Person == lastPerson && d.Period > lastPeriod {
				t.Fatalf("event %d: %s's period %s after %s: the person's own order was not kept", seq, e.Person, d.Period, lastPeriod)
			}
			k := key{e.Person, d.Period}
			if seen[k] {
				t.Fatalf("event %d: %v twice", seq, k)
			}
			seen[k] = true
			lastPerson, lastPeriod = e.Person, d.Period
		}
		if len(seen) != 90 {
			t.Fatalf("%d distinct rows, want 90", len(seen))
		}
		mustVerify(t, env)
	})
}

// TestVerifyDoesNotBlockWriters: while a verification's session is open (its snapshot taken), the store
// still records, and the session goes on seeing the journal as it was.
func TestVerifyDoesNotBlockWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		basics(t, s)
		sess, err := s.Driver().Session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Rollback(ctx)
		var before int64
		if err := sess.QueryRow(ctx, "SELECT COUNT(*) FROM journal_events").Scan(&before); err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Exec(ctx, "CREATE TEMP TABLE shadow_probe (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.Record(ctx, "while verifying", []record.Fact{&record.PersonRegistered{PersonRef: ref(benchID(4321)), Name: "乙",
				Region: "110105", RegisteredOn: "2015-01-01"}})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("record while a verify session is open: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("recording waited for the verify session: the session holds the write lock")
		}
		var still int64
		if err := sess.QueryRow(ctx, "SELECT COUNT(*) FROM journal_events").Scan(&still); err != nil || still != before {
			t.Fatalf("session saw %d events, then %d (%v): not a snapshot", before, still, err)
		}
	})
}

// TestPersonChangeCannotCarryAnIDIndex: a person change that arrives with an ID index and sealed number of its
// own (a crafted draft) does not repoint the person: the store derives those from a new ID number only.
func TestPersonChangeCannotCarryAnIDIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		id, other := benchID(11), benchID(12)
		if _, err := s.Record(ctx, "setup", []record.Fact{&record.PersonRegistered{PersonRef: ref(id), Name: "甲", Region: "110105", RegisteredOn: "2015-01-01"}}); err != nil {
			t.Fatal(err)
		}
		forged := &record.PersonChanged{PersonRef: ref(id), Name: "甲", Reason: "更正姓名",
			IDIndex: env.Keys.IndexID(other), IDSealed: env.Keys.SealID(other)}
		if _, err := s.Record(ctx, "crafted", []record.Fact{forged}); err != nil {
			t.Fatal(err)
		}
		if p, err := s.FindPerson(ctx, id); err != nil || p == "" {
			t.Fatalf("the person is no longer found by their own number: %q %v", p, err)
		}
		if p, err := s.FindPerson(ctx, other); err == nil && p != "" {
			t.Fatalf("the person is now found by another number (%q)", p)
		}
		mustVerify(t, env)
	})
}

// TestIDNumberCorrection: a change of ID number (a public security correction) repoints the person's identity to
// the new number with the birth date and sex it gives; it may not take another person's number nor repeat the
// person's own; the number given up can then be registered by someone else, under a key of their own; and a
// replay gives the same projections.
func TestIDNumberCorrection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		old, other := idNumber(21), idNumber(22)
		body := "11010519900815031" // born 1990-08-15, sequence 031: a man
		corrected := body + string(record.IDCheckChar(body))
		if _, err := s.Record(ctx, "setup", []record.Fact{
			&record.PersonRegistered{PersonRef: ref(old), Name: "王更", Region: "110105", RegisteredOn: "2015-01-01"},
			&record.PersonRegistered{PersonRef: ref(other), Name: "李他", Region: "110105", RegisteredOn: "2015-01-01"},
		}); err != nil {
			t.Fatal(err)
		}
		person, err := s.FindPerson(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		change := func(id string) error {
			_, err := s.Record(ctx, "maintenance", []record.Fact{&record.PersonChanged{PersonRef: ref(old), NewIDNumber: id, Reason: "公安机关更正身份号码"}})
			return err
		}
		var es record.Errors
		if err := change(other); !errors.As(err, &es) || es[0].Field != "facts[0].new_id_number" || es[0].Code != record.EConflict {
			t.Fatalf("taking another person's number: %v", err)
		}
		if err := change(old); !errors.As(err, &es) || es[0].Rule != "new_id_differs" {
			t.Fatalf("the person's own number: %v", err)
		}
		// Named by key, the person's own number is found by the store.
		if _, err := s.Record(ctx, "maintenance", []record.Fact{&record.PersonChanged{PersonRef: record.PersonRef{Person: person}, NewIDNumber: old, Reason: "x"}}); !errors.As(err, &es) || es[0].Rule != "new_id_differs" {
			t.Fatalf("the person's own number, named by key: %v", err)
		}
		if err := change(corrected); err != nil {
			t.Fatal(err)
		}
		if p, err := s.FindPerson(ctx, corrected); err != nil || p != person {
			t.Fatalf("the new number finds %q, %v; want %s", p, err, person)
		}
		if _, err := s.FindPerson(ctx, old); err == nil {
			t.Fatal("the old number still finds the person")
		}
		v, err := s.PersonRecord(ctx, person)
		if err != nil {
			t.Fatal(err)
		}
		if v.Birth != "1990-08-15" || v.Sex != record.SexFromID(corrected) || v.IDMasked != record.MaskID(corrected) {
			t.Fatalf("after the correction: birth %s, sex %s, %s", v.Birth, v.Sex, v.IDMasked)
		}
		// The registration's history shows the correction, masked, with what it gives.
		if len(v.Changes) != 1 || v.Changes[0].IDMasked != record.MaskID(corrected) || v.Changes[0].Birth != "1990-08-15" ||
			v.Changes[0].Reason != "公安机关更正身份号码" || v.Changes[0].Name != "" {
			t.Fatalf("registration changes: %+v", v.Changes)
		}
		// The number given up is registered by another person: a key of their own, both records intact. Before
		// the registration, the key it will be given is known (a view of its draft is logged under it).
		if k, ok, err := s.PersonKeyOf(ctx, corrected); err != nil || !ok || k != person {
			t.Fatalf("PersonKeyOf the corrected number: %q %v %v", k, ok, err)
		}
		future, registered, err := s.PersonKeyOf(ctx, old)
		if err != nil || registered || future == person || future == env.Keys.IndexID(old) {
			t.Fatalf("PersonKeyOf the given-up number: %q %v %v (the corrected person is %s)", future, registered, err, person)
		}
		if k, ok, _ := s.PersonKeyOf(ctx, idNumber(23)); ok || k != env.Keys.IndexID(idNumber(23)) {
			t.Fatalf("PersonKeyOf a number never registered: %q %v", k, ok)
		}
		if _, err := s.Record(ctx, "setup", []record.Fact{&record.PersonRegistered{PersonRef: ref(old), Name: "赵新", Region: "110105", RegisteredOn: "2020-01-01"}}); err != nil {
			t.Fatal(err)
		}
		newcomer, err := s.FindPerson(ctx, old)
		if err != nil || newcomer == person || newcomer != future {
			t.Fatalf("the newcomer is %q (%v); the corrected person is %s", newcomer, err, person)
		}
		if v, _ := s.PersonRecord(ctx, newcomer); v.Name != "赵新" {
			t.Fatalf("newcomer's record: %+v", v)
		}
		if v, _ := s.PersonRecord(ctx, person); v.Name != "王更" {
			t.Fatalf("corrected person's record: %+v", v)
		}
		mustVerify(t, env)
	})
}

// TestPersonChangesFilledOnUpgrade: a database upgraded to the step that adds the registration history
// (person_changes) has it filled from its journal in the migration, so verify agrees at once.
func TestPersonChangesFilledOnUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		s := env.Store()
		id := idNumber(31)
		if _, err := s.Record(ctx, "setup", []record.Fact{
			&record.PersonRegistered{PersonRef: ref(id), Name: "旧名", Region: "110105", RegisteredOn: "2015-01-01"},
			&record.PersonChanged{PersonRef: ref(id), Name: "新名", Reason: "户口簿更正"},
			&record.PersonChanged{PersonRef: ref(id), Phone: "13800000000", Status: "deceased", DeathDate: "2024-02-03", Reason: "死亡"},
		}); err != nil {
			t.Fatal(err)
		}
		// The database as it was before the step.
		env.Raw("DROP TABLE person_changes")
		env.Raw("DELETE FROM schema_migrations WHERE version = 12")
		applied, err := store.Migrate(ctx, env.Driver(), time.Now())
		if err != nil || fmt.Sprint(applied) != "[12]" {
			t.Fatalf("upgrade: %v %v", applied, err)
		}
		mustVerify(t, env)
		p, _ := s.FindPerson(ctx, id)
		v, err := s.PersonRecord(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Changes) != 2 || v.Changes[0].Name != "新名" || v.Changes[0].Reason != "户口簿更正" || !v.Changes[1].PhoneChanged ||
			v.Changes[1].Status != "deceased" || v.Changes[1].DeathDate != "2024-02-03" || v.Changes[1].Seq <= v.Changes[0].Seq {
			t.Fatalf("registration changes after the upgrade: %+v", v.Changes)
		}
	})
}
