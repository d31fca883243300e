package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"sirec/internal/bench"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// BenchmarkPostMonthlyBatch posts one batch of 100,000 contribution rows (10,000 persons × 10 months) through
// the full append path — validation, ID lookup, canonical encoding, Merkle leaves, projections through the
// rules, signed checkpoint — and, in the same run on the same engine, a plain bulk insert of the same rows
// with no journal and no rules (see bench.PlainInsert). It reports rows/s of both and their ratio.
func BenchmarkPostMonthlyBatch(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			const persons, months = 10000, 10
			env := storetest.New(b, engine)
			s := env.Store()
			ctx := context.Background()
			ids := recordBenchPersons(b, s, persons, "2015-01-01")
			batch := func(year int) []record.Fact {
				out := make([]record.Fact, 0, persons*months)
				for m := 1; m <= months; m++ {
					for i, id := range ids {
						out = append(out, &record.ContributionPosted{PersonRef: ref(id), Employer: employerA, Period: record.MakePeriod(year, m),
							Type: record.Pension, Status: record.StatusPaid, Wage: int64(400000 + i*10)})
					}
				}
				return out
			}
			var postNs, plainNs float64
			for n := 0; n < b.N; n++ {
				f := batch(2000 + n)
				if err := bench.Quiesce(ctx, s.Driver()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := nowNano()
				if _, err := s.Record(ctx, "bench:batch", f); err != nil {
					b.Fatal(err)
				}
				postNs += float64(nowNano() - start)
				b.StopTimer()
				if err := bench.Quiesce(ctx, s.Driver()); err != nil {
					b.Fatal(err)
				}
				took, err := bench.PlainInsert(ctx, s.Driver(), bench.PlainRows(f, int64(n*len(f))))
				if err != nil {
					b.Fatal(err)
				}
				plainNs += float64(took)
			}
			rows := float64(persons * months * b.N)
			b.ReportMetric(rows/(postNs/1e9), "rows/s")
			b.ReportMetric(rows/(plainNs/1e9), "plain-rows/s")
			b.ReportMetric(plainNs/postNs, "ratio")
		})
	}
}

func nowNano() int64 { return time.Now().UnixNano() }

// BenchmarkVerify verifies a journal of 100,000 contributions (and their persons) three ways — the journal
// alone (VerifyJournal), journal and projections (Verify) — next to a plain read of the same rows
// (bench.PlainRead), and reports events/s of each and each one's ratio to the plain read.
func BenchmarkVerify(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			const persons, months = 10000, 10
			env := storetest.New(b, engine)
			s := env.Store()
			ctx := context.Background()
			recordBenchPersons(b, s, persons, "2015-01-01")
			for m := 1; m <= months; m++ {
				batch := make([]record.Fact, 0, persons)
				for i := 0; i < persons; i++ {
					batch = append(batch, &record.ContributionPosted{PersonRef: ref(benchID(i)), Employer: employerA, Period: record.MakePeriod(2020, m),
						Type: record.Pension, Status: record.StatusPaid, Wage: int64(400000 + i*10)})
				}
				if _, err := s.Record(ctx, "bench:batch", batch); err != nil {
					b.Fatal(err)
				}
			}
			var readNs, journalNs, fullNs float64
			var events int64
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				read, took, err := bench.PlainRead(ctx, s.Driver())
				if err != nil {
					b.Fatal(err)
				}
				readNs += float64(took)
				start := nowNano()
				rep, err := store.VerifyJournal(ctx, s.Driver(), env.Keys.Verifier, nil)
				if err != nil || rep.Events != read {
					b.Fatalf("verify journal: %v (%d events, read %d)", err, rep.Events, read)
				}
				journalNs += float64(nowNano() - start)
				start = nowNano()
				if _, err := store.Verify(ctx, s.Driver(), env.Keys.Verifier, store.DefaultRules(), nil); err != nil {
					b.Fatal(err)
				}
				fullNs += float64(nowNano() - start)
				events += read
			}
			b.ReportMetric(float64(events)/(journalNs/1e9), "journal-events/s")
			b.ReportMetric(float64(events)/(readNs/1e9), "plain-rows/s")
			b.ReportMetric(readNs/journalNs, "journal-ratio")
			b.ReportMetric(readNs/fullNs, "full-ratio")
		})
	}
}

// recordBenchPersons records the benchmarks' employer and persons 0 to n-1 (benchID), registered on the given
// day, and returns their ID numbers.
func recordBenchPersons(b *testing.B, s *store.Store, n int, registeredOn string) []string {
	b.Helper()
	ids := make([]string, n)
	facts := []record.Fact{&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 1, Name: "基准单位", Region: "350100", RegisteredOn: "2001-01-01"}}
	for i := range ids {
		ids[i] = benchID(i)
		facts = append(facts, &record.PersonRegistered{PersonRef: ref(ids[i]), Name: "基准", Region: "110105", RegisteredOn: registeredOn})
	}
	if _, err := s.Record(context.Background(), "bench:setup", facts); err != nil {
		b.Fatal(err)
	}
	return ids
}

func benchID(i int) string {
	body := fmt.Sprintf("110105%04d%02d%02d%03d", 1960+i%40, 1+i/1000%12, 1+i%28, i%1000)
	return body + string(record.IDCheckChar(body))
}

// BenchmarkPersonRecord reads whole records of random persons (10 years of monthly pension, medical and
// unemployment contributions each) in parallel: the store's part of a one-person read, without HTTP, the
// authentication and the query log.
func BenchmarkPersonRecord(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		// The dataset is made once per engine, not once per b.N the sub-benchmark tries.
		const persons = 2000
		env := storetest.New(b, engine)
		{
			s := env.Store()
			ctx := context.Background()
			recordBenchPersons(b, s, persons, "2010-01-01")
			for y := 2015; y < 2025; y++ {
				batch := make([]record.Fact, 0, persons*36)
				for m := 1; m <= 12; m++ {
					for _, typ := range []string{record.Pension, record.Medical, record.Unemployment} {
						for i := 0; i < persons; i++ {
							batch = append(batch, &record.ContributionPosted{PersonRef: ref(benchID(i)), Employer: employerA, Period: record.MakePeriod(y, m),
								Type: typ, Status: record.StatusPaid, Wage: int64(400000 + i*10)})
						}
					}
				}
				if _, err := s.Record(ctx, "bench:year", batch); err != nil {
					b.Fatal(err)
				}
			}
		}
		s := env.Store()
		ctx := context.Background()
		keys, err := s.PersonKeys(ctx, 0, persons)
		if err != nil {
			b.Fatal(err)
		}
		if err := bench.Quiesce(ctx, s.Driver()); err != nil {
			b.Fatal(err)
		}
		b.Run(engine, func(b *testing.B) {
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := keys[int(next.Add(7919))%len(keys)]
					v, err := s.PersonRecord(ctx, k)
					if err != nil || len(v.Contributions) != 360 {
						b.Errorf("person %s: %v", k, err)
						return
					}
				}
			})
		})
	}
}
