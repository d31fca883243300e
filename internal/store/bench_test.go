package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// with no journal and no rules (see plainInsert). It reports rows/s of both and their ratio.
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

// plainInsert is the baseline: a plain bulk insert of the same rows on the same engine, with no journal and no
// rules, into a table shaped like the contributions projection — the same columns and types, keyed by seq, with
// the person index an application needs to read a person's rows — in one transaction, through the engine's
// bulk path, Tx.CopyRows (COPY on PostgreSQL, a prepared INSERT on the driver's connection on SQLite). The
// table grows from batch to batch like the projection. Its rows are built before the clock starts; the
// figures are plain numbers, not derived. Nothing else is added to make it slow.
func plainInsert(b *testing.B, d store.Driver, facts []record.Fact, n int) float64 {
	ctx := context.Background()
	const table = "bench_plain"
	if n == 0 {
		// One table for every iteration: it grows batch by batch as the projection does.
		tx, err := d.Begin(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		seq := d.Types()["SEQ"]
		for _, q := range []string{
			"CREATE TABLE " + table + ` (seq ` + seq + ` PRIMARY KEY, person TEXT NOT NULL, region TEXT NOT NULL, type TEXT NOT NULL,
				period INTEGER NOT NULL, employer TEXT NOT NULL, status TEXT NOT NULL, wage BIGINT NOT NULL, base BIGINT NOT NULL,
				employer_amount BIGINT NOT NULL, individual_amount BIGINT NOT NULL, account_credit BIGINT NOT NULL,
				late_days INTEGER NOT NULL, late_fee BIGINT NOT NULL)`,
			"CREATE INDEX " + table + "_person ON " + table + " " + store.ContributionsPersonIndex,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	persons := map[string]string{}
	rows := make([][]any, len(facts))
	for i, f := range facts {
		c := f.(*record.ContributionPosted)
		p, ok := persons[c.IDNumber]
		if !ok {
			h := sha256.Sum256([]byte(c.IDNumber))
			p = hex.EncodeToString(h[:16])
			persons[c.IDNumber] = p
		}
		rows[i] = []any{int64(n*len(facts) + i), p, "110105", c.Type, int64(c.Period), c.Employer, c.Status, c.Wage, c.Wage, c.Wage * 16 / 100, c.Wage * 8 / 100, c.Wage * 8 / 100, int64(0), int64(0)}
	}
	cols := []string{"seq", "person", "region", "type", "period", "employer", "status", "wage", "base", "employer_amount", "individual_amount", "account_credit", "late_days", "late_fee"}
	start := nowNano()
	tx, err := d.Begin(ctx, true)
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.CopyRows(ctx, table, cols, rows); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(nowNano() - start)
}

func nowNano() int64 { return time.Now().UnixNano() }
