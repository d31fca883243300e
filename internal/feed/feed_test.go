package feed_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/feed"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/workitem"
)

// idNumber returns a valid citizen ID number, different for each n.
func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n)
	return body + string(record.IDCheckChar(body))
}

// creditCode returns a valid unified social credit code, different for each n.
func creditCode(n int) string {
	body := fmt.Sprintf("91110105MA%07d", n)
	return body + string(record.USCCCheckChar(body))
}

func ref(n int) record.PersonRef { return record.PersonRef{IDNumber: idNumber(n)} }

func mustRecord(t *testing.T, st *store.Store, facts ...record.Fact) {
	t.Helper()
	if _, err := st.Record(context.Background(), "test", facts); err != nil {
		t.Fatal(err)
	}
}

func employer(n int, name string) *record.EmployerRegistered {
	return &record.EmployerRegistered{CreditCode: creditCode(n), IndustryClass: 1, Name: name, Region: "110105", RegisteredOn: "2005-01-01"}
}

func person(n int, name string) *record.PersonRegistered {
	return &record.PersonRegistered{PersonRef: ref(n), Name: name, Region: "110105", RegisteredOn: "2015-01-01"}
}

func contribution(n, emp int, period record.Period, typ, status string) *record.ContributionPosted {
	return &record.ContributionPosted{PersonRef: ref(n), Employer: creditCode(emp), Period: period, Type: typ, Status: status, Wage: 600000}
}

func key(t *testing.T, st *store.Store, n int) string {
	t.Helper()
	p, err := st.FindPerson(context.Background(), idNumber(n))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// importFile imports content as a feed file and fails the test on error.
func importFile(t *testing.T, svc *feed.Service, kind, name string, complete bool, content string) feed.Feed {
	t.Helper()
	f, err := svc.Import(context.Background(), strings.NewReader(content), feed.ImportOptions{Kind: kind, Name: name, Complete: complete, Actor: "test"})
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return f
}

// found runs a reconciliation and returns its differences as "kind subject", sorted.
func found(t *testing.T, svc *feed.Service, f feed.Feed, subject func(feed.Difference) string) []string {
	t.Helper()
	ctx := context.Background()
	run, err := svc.Reconcile(ctx, f.ID, "tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != feed.RunDone {
		t.Fatalf("run %s is %s: %s", run.Number, run.Status, run.Error)
	}
	ds, total, err := svc.Differences(ctx, run.ID, feed.DifferenceFilter{}, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if total != run.Differences || int64(len(ds)) != total {
		t.Fatalf("run says %d differences, the list %d of %d", run.Differences, len(ds), total)
	}
	var out []string
	for _, d := range ds {
		if d.Detail == "" || d.Key == "" {
			t.Errorf("difference without detail or key: %+v", d)
		}
		out = append(out, d.Kind+" "+subject(d))
	}
	sort.Strings(out)
	return out
}

func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("differences:\n got  %q\n want %q", got, want)
	}
}

// taxFixture records two employers, five persons and their pension months January to March 2024.
func taxFixture(t *testing.T, st *store.Store) {
	t.Helper()
	facts := []record.Fact{employer(1, "甲公司"), employer(3, "丙公司")}
	for n := range 5 {
		facts = append(facts, person(n, fmt.Sprintf("测试%d", n)),
			&record.EnrolmentStarted{PersonRef: ref(n), Employer: creditCode(1), From: "2015-01-01", Type: record.Pension})
	}
	for n := range 4 {
		for m := 1; m <= 3; m++ {
			facts = append(facts, contribution(n, 1, record.MakePeriod(2024, m), record.Pension, record.StatusPaid))
		}
	}
	facts = append(facts, contribution(4, 1, 202401, record.Pension, record.StatusArrears),
		&record.EmployerChanged{CreditCode: creditCode(3), Status: "deregistered", Reason: "注销"})
	mustRecord(t, st, facts...)
}

type amounts struct{ base, employer, individual record.Fen }

// recorded returns the figures the rules derived for a person's contribution.
func recorded(t *testing.T, st *store.Store, n int, p record.Period, typ string) amounts {
	t.Helper()
	v, err := st.PersonRecord(context.Background(), key(t, st, n))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Contributions {
		if c.Period == p && c.Type == typ {
			return amounts{c.Base, c.EmployerAmt, c.IndividualAmt}
		}
	}
	t.Fatalf("person %d has no %s contribution for %s", n, typ, p)
	return amounts{}
}

// taxFile writes the tax bureau's file of the fixture with the planted differences.
func taxFile(t *testing.T, st *store.Store) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("id_number,credit_code,period,type,base,employer_paid,individual_paid\n")
	row := func(id, code string, p record.Period, typ string, a amounts) {
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s\n", id, code, p, typ, a.base, a.employer, a.individual)
	}
	totals := map[record.Period]amounts{}
	for n := range 4 {
		for m := 1; m <= 3; m++ {
			p := record.MakePeriod(2024, m)
			a := recorded(t, st, n, p, record.Pension)
			tt := totals[p]
			tt.base, tt.employer, tt.individual = tt.base+a.base, tt.employer+a.employer, tt.individual+a.individual
			totals[p] = tt
			switch {
			case n == 1 && m == 2:
				a.base += 10000 // planted: the base differs
			case n == 2 && m == 3:
				continue // planted: the tax bureau lacks a paid month
			}
			row(idNumber(n), "", p, record.Pension, a)
		}
	}
	row(idNumber(3), "", 202403, record.Medical, amounts{600000, 60000, 12000})  // planted: not in the record
	row(idNumber(4), "", 202401, record.Pension, amounts{600000, 96000, 48000})  // planted: arrears in the record
	row(idNumber(99), "", 202401, record.Pension, amounts{600000, 96000, 48000}) // planted: not registered
	row(idNumber(99), "", 202402, record.Pension, amounts{600000, 96000, 48000})
	row("", creditCode(1), 202401, record.Pension, totals[202401])
	a := totals[202402]
	a.employer += 100 // planted: the employer's totals differ
	row("", creditCode(1), 202402, record.Pension, a)
	// planted: the employer's March is missing
	row("", creditCode(9), 202403, record.Pension, amounts{100000, 16000, 8000}) // planted: employer not registered
	row("", creditCode(3), 202401, record.Pension, amounts{100000, 16000, 8000}) // planted: employer deregistered
	return b.String()
}

func TestTaxFeedFindsExactlyThePlantedDifferences(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		taxFixture(t, st)
		svc := feed.New(st, nil)
		f := importFile(t, svc, feed.KindTax, "tax-2024q1.csv", false, taxFile(t, st))
		if f.Rows != 19 || !slices.Equal(f.Periods, []record.Period{202401, 202402, 202403}) || !slices.Equal(f.Types, []string{"medical", "pension"}) {
			t.Fatalf("feed: %+v", f)
		}
		who := map[string]string{}
		for n := range 5 {
			who[key(t, st, n)] = fmt.Sprintf("P%d", n)
		}
		got := found(t, svc, f, func(d feed.Difference) string {
			s := who[d.Person]
			if d.Person == "" && d.IDMasked != "" {
				s = d.IDMasked
			}
			if d.Employer != "" {
				s += "E" + d.Employer[len(d.Employer)-2:len(d.Employer)-1]
			}
			if d.Period != 0 {
				s += " " + d.Period.String()
			}
			return s + " " + d.Type
		})
		sameSet(t, got, []string{
			"amount_differs P1 202402 pension",
			"contribution_missing_in_feed P2 202403 pension",
			"contribution_missing_in_record P3 202403 medical",
			"contribution_not_paid_in_record P4 202401 pension",
			"person_not_registered " + record.MaskID(idNumber(99)) + " 202401 ",
			"employer_amount_differs E1 202402 pension",
			"employer_contribution_missing_in_feed E1 202403 pension",
			"employer_not_registered E9 ",
			"employer_deregistered E3 ",
			"employer_contribution_missing_in_record E3 202401 pension",
		})
	})
}

func TestTheSameFileInJSONLinesFindsTheSame(t *testing.T) {
	st := storetest.New(t, "sqlite").Store()
	taxFixture(t, st)
	svc := feed.New(st, nil)
	csvText := taxFile(t, st)
	var jl strings.Builder
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	cols := strings.Split(lines[0], ",")
	for _, l := range lines[1:] {
		vals := strings.Split(l, ",")
		var fields []string
		for i, c := range cols {
			if vals[i] != "" {
				fields = append(fields, fmt.Sprintf("%q:%q", c, vals[i]))
			}
		}
		jl.WriteString("{" + strings.Join(fields, ",") + "}\n\n")
	}
	a := importFile(t, svc, feed.KindTax, "a.csv", false, csvText)
	b := importFile(t, svc, feed.KindTax, "b.jsonl", false, jl.String())
	kinds := func(d feed.Difference) string { return d.Person + d.Employer + d.Period.String() + d.Type }
	if x, y := found(t, svc, a, kinds), found(t, svc, b, kinds); !slices.Equal(x, y) || len(x) != 10 {
		t.Fatalf("CSV found %q\nJSON lines found %q", x, y)
	}
}

func TestAMalformedFeedRecordsNothingAndReportsEveryBadRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		svc := feed.New(st, nil)
		var bad []*record.Error
		csvText := "\ufeffid_number,credit_code,period,type,base,employer_paid,individual_paid\n" +
			idNumber(1) + ",,202401,pension,5000,800,400\n" +
			idNumber(2) + ",,202413,pension,5000,800,400\n" +
			idNumber(3)[:17] + "0,,202401,pension,5000,800,400\n" +
			idNumber(4) + ",,202401,pension,abc,800,-1\n" +
			idNumber(5) + "," + creditCode(1) + ",202401,pension,5000,800,400\n" +
			"\n" +
			idNumber(6) + ",,202401,injury,5000,800,400\n" +
			idNumber(7) + ",,202401,pension,5000,800,400\n"
		if idNumber(3)[17] == '0' {
			t.Fatal("pick another number: its check character is 0")
		}
		_, err := svc.Import(context.Background(), strings.NewReader(csvText), feed.ImportOptions{Kind: feed.KindTax, Name: "bad.csv", Actor: "test",
			OnError: func(e *record.Error) { bad = append(bad, e) }})
		var es record.Errors
		if !errors.As(err, &es) {
			t.Fatalf("import: %v", err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Field+" "+e.Rule)
		}
		want := []string{"line 3.period period_month", "line 4.id_number gb11643_check", "line 5.base money_format",
			"line 5.individual_paid amount_non_negative", "line 6.credit_code subject_one", "line 8.type insurance_type"}
		if !slices.Equal(got, want) || len(bad) != len(want) {
			t.Fatalf("problems:\n got  %q\n want %q (told %d)", got, want, len(bad))
		}
		// JSON lines: a bad line, an unknown field, a number where a string belongs.
		jl := `{"id_number":"` + idNumber(1) + `","period":"202401","type":"pension","base":"5000","employer_paid":"800","individual_paid":"400"}
{"id_number":"` + idNumber(1) + `","period":"202401"
{"id_number":"` + idNumber(1) + `","period":"202401","type":"pension","base":"5000","employer_paid":"800","individual_paid":"400","bonus":"1"}
{"id_number":"` + idNumber(1) + `","period":202401,"type":"pension","base":"5000","employer_paid":"800","individual_paid":"400"}
`
		_, err = svc.Import(context.Background(), strings.NewReader(jl), feed.ImportOptions{Kind: feed.KindTax, Name: "bad.jsonl", Actor: "test"})
		if !errors.As(err, &es) {
			t.Fatalf("import: %v", err)
		}
		got = nil
		for _, e := range es {
			got = append(got, e.Field+" "+e.Rule)
		}
		want = []string{"line 2 json_format", "line 3.bonus feed_column", "line 4.period json_string"}
		if !slices.Equal(got, want) {
			t.Fatalf("JSON lines problems:\n got  %q\n want %q", got, want)
		}
		// A header that does not fit the kind.
		_, err = svc.Import(context.Background(), strings.NewReader("credit_code,name,state,date\n"), feed.ImportOptions{Kind: feed.KindMarket, Name: "m.csv", Actor: "test"})
		if !errors.As(err, &es) || len(es) != 2 || es[0].Field != "line 1.column 3" || es[1].Rule != "feed_column" {
			t.Fatalf("header: %v", err)
		}
		counts := map[string]int64{}
		tx, err := st.Driver().Begin(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		for _, tbl := range []string{"feed_files", "feed_rows"} {
			var n int64
			if err := tx.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+tbl).Scan(&n); err != nil {
				t.Fatal(err)
			}
			counts[tbl] = n
		}
		if counts["feed_files"] != 0 || counts["feed_rows"] != 0 {
			t.Fatalf("a bad file left %v", counts)
		}
	})
}

func TestAFileImportedTwiceIsRecognised(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		svc := feed.New(st, nil)
		text := "id_number,name,event,date\n" + idNumber(1) + ",张三,death,2024-02-10\n"
		f := importFile(t, svc, feed.KindCivilAffairs, "deaths-2024-02.csv", false, text)
		_, err := svc.Import(context.Background(), strings.NewReader(text), feed.ImportOptions{Kind: feed.KindCivilAffairs, Name: "again.csv", Actor: "test"})
		if record.ErrorCode(err) != record.EConflict || !strings.Contains(err.Error(), f.Number) {
			t.Fatalf("second import: %v", err)
		}
		list, total, err := svc.Feeds(context.Background(), feed.FeedFilter{}, 0, 10)
		if err != nil || total != 1 || len(list) != 1 || list[0].SHA256 != f.SHA256 {
			t.Fatalf("feeds: %v %d %v", list, total, err)
		}
	})
}

func TestMarketFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		mustRecord(t, st, employer(1, "甲"), employer(2, "乙"), employer(3, "丙"), employer(4, "旧名"), employer(6, "己"),
			person(0, "测试零"), person(1, "测试一"),
			&record.EnrolmentStarted{PersonRef: ref(0), Employer: creditCode(2), From: "2020-01-01", Type: record.Pension},
			contribution(0, 2, 202401, record.Pension, record.StatusPaid), contribution(0, 2, 202402, record.Pension, record.StatusPaid),
			contribution(0, 2, 202403, record.Pension, record.StatusDue), contribution(1, 1, 202401, record.Pension, record.StatusPaid),
			&record.EmployerChanged{CreditCode: creditCode(3), Status: "deregistered", Reason: "注销"})
		svc := feed.New(st, nil)
		f := importFile(t, svc, feed.KindMarket, "market.csv", true, "credit_code,name,status,date\n"+
			creditCode(1)+",甲,deregistered,2015-01-01\n"+ // superseded by the later row: no difference
			creditCode(1)+",甲,established,2016-01-01\n"+
			creditCode(2)+",乙,deregistered,2024-01-20\n"+
			creditCode(3)+",丙,changed,2023-05-01\n"+
			creditCode(4)+",新名,changed,2023-06-01\n"+
			creditCode(5)+",戊,established,2023-07-01\n")
		got := found(t, svc, f, func(d feed.Difference) string {
			s := "E" + d.Employer[len(d.Employer)-2:len(d.Employer)-1]
			if d.Period != 0 {
				s += " " + d.Period.String()
			}
			return s
		})
		sameSet(t, got, []string{
			"employer_status_conflict E2", "contribution_after_deregistration E2 202402", "contribution_after_deregistration E2 202403",
			"enrolment_open_after_deregistration E2", "employer_status_conflict E3", "employer_name_differs E4",
			"employer_not_registered E5", "employer_missing_in_feed E6",
		})
	})
}

func TestDeathsAndIdentityChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		facts := []record.Fact{employer(1, "甲")}
		for n := range 7 {
			facts = append(facts, person(n, fmt.Sprintf("测试%d", n)))
		}
		for m := 1; m <= 4; m++ {
			facts = append(facts, &record.BenefitPaid{PersonRef: ref(0), Kind: "retirement", Period: record.MakePeriod(2024, m), Amount: 300000})
		}
		facts = append(facts,
			&record.PersonChanged{PersonRef: ref(1), Status: "deceased", DeathDate: "2024-01-05", Reason: "死亡"},
			&record.PersonChanged{PersonRef: ref(6), Status: "deceased", DeathDate: "2024-03-01", Reason: "死亡"},
			contribution(6, 1, 202403, record.Pension, record.StatusPaid), contribution(6, 1, 202405, record.Pension, record.StatusPaid))
		mustRecord(t, st, facts...)
		svc := feed.New(st, nil)
		f := importFile(t, svc, feed.KindPublicSecurity, "hukou.jsonl", false, strings.Join([]string{
			`{"id_number":"` + idNumber(0) + `","name":"测试0","event":"death","date":"2024-02-10"}`,
			`{"id_number":"` + idNumber(1) + `","event":"death","date":"2024-01-06"}`,
			`{"id_number":"` + idNumber(2) + `","event":"id_change","date":"2024-01-01","new_id_number":"` + idNumber(50) + `"}`,
			`{"id_number":"` + idNumber(3) + `","event":"id_change","date":"2024-01-01","new_id_number":"` + idNumber(4) + `"}`,
			`{"id_number":"` + idNumber(5) + `","name":"新名字","event":"name_change","date":"2024-01-01"}`,
			`{"id_number":"` + idNumber(60) + `","event":"death","date":"2024-01-01"}`,
			`{"id_number":"` + idNumber(6) + `","event":"death","date":"2024-03-01"}`,
		}, "\n")+"\n")
		who := map[string]string{}
		for n := range 7 {
			who[key(t, st, n)] = fmt.Sprintf("P%d", n)
		}
		got := found(t, svc, f, func(d feed.Difference) string {
			s := who[d.Person]
			if d.Period != 0 {
				s += " " + d.Period.String()
			}
			return s
		})
		sameSet(t, got, []string{"death_not_recorded P0", "benefit_after_death P0 202403", "benefit_after_death P0 202404",
			"death_date_differs P1", "id_change_not_recorded P2", "duplicate_identity P3", "name_differs P5", "contribution_after_death P6 202405"})
	})
}

func TestStaffingPosts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		facts := []record.Fact{employer(7, "某事业单位")}
		for n := range 6 {
			facts = append(facts, person(n, fmt.Sprintf("测试%d", n)))
		}
		enrol := func(n int, from string) record.Fact {
			return &record.EnrolmentStarted{PersonRef: ref(n), Employer: creditCode(7), From: from, Type: record.Pension}
		}
		facts = append(facts, enrol(0, "2020-01-01"), enrol(2, "2019-01-01"), enrol(5, "2018-01-01"))
		mustRecord(t, st, facts...)
		svc := feed.New(st, nil)
		f := importFile(t, svc, feed.KindStaffing, "posts.csv", true, "id_number,credit_code,post,from,to\n"+
			idNumber(0)+","+creditCode(7)+",事业编制,2020-01-01,\n"+
			idNumber(1)+","+creditCode(7)+",事业编制,2021-01-01,\n"+
			idNumber(2)+","+creditCode(7)+",事业编制,2019-01-01,2022-12-31\n"+
			idNumber(70)+","+creditCode(7)+",事业编制,2022-01-01,\n"+
			idNumber(3)+","+creditCode(8)+",行政编制,2020-01-01,\n"+
			idNumber(4)+","+creditCode(8)+",行政编制,2020-01-01,\n")
		who := map[string]string{}
		for n := range 6 {
			who[key(t, st, n)] = fmt.Sprintf("P%d", n)
		}
		got := found(t, svc, f, func(d feed.Difference) string {
			if d.Person == "" && d.IDMasked != "" {
				return "?" + d.Employer[len(d.Employer)-2:len(d.Employer)-1]
			}
			return who[d.Person] + "E" + d.Employer[len(d.Employer)-2:len(d.Employer)-1]
		})
		sameSet(t, got, []string{"enrolment_missing P1E7", "enrolment_not_stopped P2E7", "person_not_registered ?7", "employer_not_registered E8",
			"post_missing_in_feed P5E7"})
	})
}

func TestExportStreamsEveryDifference(t *testing.T) {
	st := storetest.New(t, "sqlite").Store()
	taxFixture(t, st)
	svc := feed.New(st, nil)
	f := importFile(t, svc, feed.KindTax, "tax.csv", false, taxFile(t, st))
	run, err := svc.Reconcile(context.Background(), f.ID, "tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := svc.Export(context.Background(), &b, "csv", run.ID, feed.DifferenceFilter{Severity: feed.High}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.HasPrefix(lines[0], "\ufeff序号 n") || len(lines) != 1+int(run.Counts[feed.DiffAmountDiffers]+run.Counts[feed.DiffContributionMissingInRecord]+
		run.Counts[feed.DiffPersonNotRegistered]+run.Counts[feed.DiffEmployerAmountDiffers]+run.Counts[feed.DiffEmployerNotRegistered]+
		run.Counts[feed.DiffEmployerMissingInRecord]) {
		t.Fatalf("export:\n%s", b.String())
	}
	b.Reset()
	if err := svc.Export(context.Background(), &b, "xlsx", run.ID, feed.DifferenceFilter{}); err != nil || !bytes.HasPrefix(b.Bytes(), []byte("PK")) {
		t.Fatalf("xlsx: %v", err)
	}
}

func TestDifferencesBecomeWorkItemsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		taxFixture(t, st)
		cfg := auth.DefaultConfig()
		items := workitem.New(st, auth.New(st.Driver(), cfg))
		svc := feed.New(st, items)
		f := importFile(t, svc, feed.KindTax, "tax.csv", false, taxFile(t, st))
		first, err := svc.Reconcile(ctx, f.ID, "tester", nil)
		if err != nil || first.WorkItems == nil || int64(first.WorkItems.New) != first.Differences || first.Differences != 10 {
			t.Fatalf("first run: %+v %v", first, err)
		}
		list, n, err := items.List(ctx, workitem.Filter{Source: feed.Source(f.Number)}, workitem.Sort{By: "id"}, 0, 100)
		if err != nil || n != 10 {
			t.Fatalf("work items: %d %v", n, err)
		}
		for _, it := range list {
			if it.Status != workitem.StatusOpen || it.Detail == "" || (it.Kind != feed.DiffPersonNotRegistered && it.Person == "" && it.Employer == "") {
				t.Errorf("item %+v", it)
			}
		}
		// The deregistered employer is found active again; a second run files nothing twice and marks that
		// difference's item as no longer found (it is closed only through review, never by the run).
		mustRecord(t, st, &record.EmployerChanged{CreditCode: creditCode(3), Status: "active", Reason: "撤销注销"})
		second, err := svc.Reconcile(ctx, f.ID, "tester", nil)
		if err != nil || second.WorkItems.New != 0 || second.WorkItems.Seen != 9 || second.WorkItems.Gone != 1 {
			t.Fatalf("second run: %+v %+v %v", second, second.WorkItems, err)
		}
		if _, n, _ := items.List(ctx, workitem.Filter{Source: feed.Source(f.Number), Status: "active"}, workitem.Sort{By: "id"}, 0, 100); n != 10 {
			t.Fatalf("open items after the second run: %d", n)
		}
	})
}

func TestARunThatStoppedReportingIsInterrupted(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t, "sqlite").Store()
	svc := feed.New(st, nil)
	f := importFile(t, svc, feed.KindCivilAffairs, "d.csv", false, "id_number,event,date\n"+idNumber(1)+",death,2024-01-01\n")
	run, err := svc.Start(ctx, f.ID, "tester")
	if err != nil || run.Status != feed.RunRunning {
		t.Fatalf("start: %+v %v", run, err)
	}
	if _, err := svc.Start(ctx, f.ID, "tester"); record.ErrorCode(err) != record.EConflict {
		t.Fatalf("a second run at once: %v", err)
	}
	// Its process died: no heartbeat for longer than a run may go without one.
	later := time.Now().Add(3 * time.Minute)
	svc.Now = func() time.Time { return later }
	if r, _ := svc.Run(ctx, run.ID); r.Status != feed.RunInterrupted {
		t.Fatalf("status %s", r.Status)
	}
	next, err := svc.Reconcile(ctx, f.ID, "tester", nil)
	if err != nil || next.Status != feed.RunDone {
		t.Fatalf("run again: %+v %v", next, err)
	}
}

func TestAFileOfEmployersAloneSaysNothingOfPersons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		st := env.Store()
		taxFixture(t, st)
		svc := feed.New(st, nil)
		var totals [3]amounts
		for n := range 4 {
			for m := 1; m <= 3; m++ {
				a := recorded(t, st, n, record.MakePeriod(2024, m), record.Pension)
				totals[m-1].base += a.base
				totals[m-1].employer += a.employer
				totals[m-1].individual += a.individual
			}
		}
		var b strings.Builder
		b.WriteString("credit_code,period,type,base,employer_paid,individual_paid\n")
		for m, a := range totals {
			fmt.Fprintf(&b, "%s,%s,pension,%s,%s,%s\n", creditCode(1), record.MakePeriod(2024, m+1), a.base, a.employer, a.individual)
		}
		f := importFile(t, svc, feed.KindTax, "employers.csv", false, b.String())
		if got := found(t, svc, f, func(d feed.Difference) string { return d.Employer }); len(got) != 0 {
			t.Fatalf("differences: %q", got)
		}
	})
}
