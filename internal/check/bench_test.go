package check_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/bench"
	"sirec/internal/check"
	"sirec/internal/record"
	"sirec/internal/store/storetest"
	"sirec/internal/workitem"
)

// BenchmarkChecksMillionRows runs every data check over a journal of 1,000,000 contribution rows (20,000 persons
// × 50 months; 100,000 rows at the smaller size, to compare) through the Runner that serve and sirec check data
// use — streaming each check's rows and filing the findings (a month left out for one person in a thousand) as
// work items — and reports the peak heap while it runs. A bounded algorithm shows about the same peak at both
// sizes; one that loaded a table would grow tenfold. Data generation is outside the timed part.
//
// go test ./internal/check/ -run '^$' -bench ChecksMillionRows -benchtime 1x -timeout 60m
//
// SIREC_BENCH_ENGINES=sqlite,postgres chooses the engines (default sqlite; postgres needs SIREC_TEST_PG).
func BenchmarkChecksMillionRows(b *testing.B) {
	engines := []string{"sqlite"}
	if v := os.Getenv("SIREC_BENCH_ENGINES"); v == "sqlite,postgres" || v == "postgres" {
		engines = map[string][]string{"postgres": {"postgres"}, "sqlite,postgres": {"sqlite", "postgres"}}[v]
	}
	for _, engine := range engines {
		for _, size := range []struct {
			name    string
			persons int
		}{{"rows=100k", 2000}, {"rows=1M", 20000}} {
			b.Run(engine+"/"+size.name, func(b *testing.B) {
				benchChecks(b, engine, size.persons, 50)
			})
		}
	}
}

const benchEmployer = "91350100M000100Y43"

func benchID(i int) string {
	body := fmt.Sprintf("110105%04d%02d%02d%03d", 1960+i%40, 1+i/1000%12, 1+i%28, i%1000)
	return body + string(record.IDCheckChar(body))
}

func benchChecks(b *testing.B, engine string, persons, months int) {
	ctx := context.Background()
	env := storetest.New(b, engine)
	s := env.Store()
	facts := []record.Fact{&record.EmployerRegistered{CreditCode: benchEmployer, IndustryClass: 1, Name: "基准单位", Region: "110105", RegisteredOn: "2001-01-01"}}
	for i := range persons {
		facts = append(facts, &record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: benchID(i)}, Name: fmt.Sprintf("基准%d", i),
			Region: "110105", RegisteredOn: "2015-01-01"})
	}
	if _, err := s.Record(ctx, "bench:setup", facts); err != nil {
		b.Fatal(err)
	}
	// Months in batches of 100,000 rows at most; person i·1000 misses the 25th month: a gap the checks find.
	rows := 0
	batch := make([]record.Fact, 0, 100000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if _, err := s.Record(ctx, "bench:batch", batch); err != nil {
			b.Fatal(err)
		}
		rows += len(batch)
		batch = batch[:0]
	}
	for m := range months {
		p := record.MakePeriod(2020, 1).AddMonths(m)
		for i := range persons {
			if i%1000 == 0 && m == 24 {
				continue
			}
			batch = append(batch, &record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: benchID(i)}, Employer: benchEmployer, Period: p,
				Type: record.Pension, Status: record.StatusPaid, Wage: int64(500000 + i%1000*100)})
			if len(batch) == cap(batch) {
				flush()
			}
		}
	}
	flush()
	gaps := (persons + 999) / 1000
	cfg := auth.DefaultConfig()
	cfg.Argon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	r := &check.Runner{Store: s, Items: workitem.New(s, auth.New(s.Driver(), cfg))}

	var peak, base uint64
	var secs float64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		runtime.GC()
		base = bench.HeapBytes()
		stop := bench.SampleHeap()
		b.StartTimer()
		start := time.Now()
		run, err := r.Run(ctx, check.Trigger{Kind: check.TriggerCLI, By: "bench"}, nil, nil)
		secs += time.Since(start).Seconds()
		b.StopTimer()
		peak = stop()
		if err != nil {
			b.Fatal(err)
		}
		// Every gap is found and filed once, on the first run; later runs find them open already.
		if run.Findings != int64(gaps) || run.New+run.Seen != int64(gaps) {
			b.Fatalf("run %+v; want %d findings", run, gaps)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(rows), "contribution-rows")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peak-min(base, peak))/(1<<20), "peak-heap-above-idle-MiB")
	b.ReportMetric(float64(rows)*float64(b.N)/secs, "rows/s")
}
