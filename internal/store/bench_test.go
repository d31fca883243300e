package store_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// BenchmarkPostMonthlyBatch posts one batch of 100,000 contribution rows (10,000 persons × 10 months) through
// the full append path — validation, ID lookup, canonical encoding, Merkle leaves, projections through the
// rules, signed checkpoint — and, in the same run on the same engine, a plain bulk insert of the same rows
// with no journal and no rules (COPY on PostgreSQL, multi-row INSERTs on SQLite). It reports rows/s of both
// and their ratio.
func BenchmarkPostMonthlyBatch(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			const persons, months = 10000, 10
			env := storetest.New(b, engine)
			s := env.Store()
			ctx := context.Background()
			ids := make([]string, persons)
			facts := []record.Fact{&record.EmployerRegistered{CreditCode: employerA, IndustryClass: 1, Name: "基准单位", Region: "350100", RegisteredOn: "2001-01-01"}}
			for i := range ids {
				body := fmt.Sprintf("110105%04d%02d%02d%03d", 1960+i%40, 1+i/1000%12, 1+i%28, i%1000)
				ids[i] = body + string(record.IDCheckChar(body))
				facts = append(facts, &record.PersonRegistered{PersonRef: ref(ids[i]), Name: "基准", Region: "110105", RegisteredOn: "2015-01-01"})
			}
			if _, err := s.Record(ctx, "bench:setup", facts); err != nil {
				b.Fatal(err)
			}
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
				b.StartTimer()
				start := nowNano()
				if _, err := s.Record(ctx, "bench:batch", f); err != nil {
					b.Fatal(err)
				}
				postNs += float64(nowNano() - start)
				b.StopTimer()
				plainNs += plainInsert(b, s.Driver(), f, n)
			}
			rows := float64(persons * months * b.N)
			b.ReportMetric(rows/(postNs/1e9), "rows/s")
			b.ReportMetric(rows/(plainNs/1e9), "plain-rows/s")
			b.ReportMetric(plainNs/postNs, "ratio")
		})
	}
}

// plainInsert writes the same rows into a table shaped like a contribution with its hash, in one transaction.
func plainInsert(b *testing.B, d store.Driver, facts []record.Fact, n int) float64 {
	ctx := context.Background()
	tx, err := d.Begin(ctx, true)
	if err != nil {
		b.Fatal(err)
	}
	table := fmt.Sprintf("bench_plain_%d", n)
	blob := d.Types()["BLOB"]
	if _, err := tx.Exec(ctx, "CREATE TABLE "+table+" (seq BIGINT PRIMARY KEY, person TEXT, type TEXT, period INTEGER, employer TEXT, status TEXT, wage BIGINT, hash "+blob+")"); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, len(facts))
	for i, f := range facts {
		c := f.(*record.ContributionPosted)
		h := sha256.Sum256([]byte(c.IDNumber))
		rows[i] = []any{int64(i), c.IDNumber, c.Type, int(c.Period), c.Employer, c.Status, c.Wage, h[:]}
	}
	start := nowNano()
	tx, err = d.Begin(ctx, true)
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.CopyRows(ctx, table, []string{"seq", "person", "type", "period", "employer", "status", "wage", "hash"}, rows); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(nowNano() - start)
}

func nowNano() int64 { return time.Now().UnixNano() }
