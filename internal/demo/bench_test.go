package demo

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"sirec/internal/bench"
	"sirec/internal/record"
	"sirec/internal/store"
)

// counter takes facts and only counts them, so that the generator is measured alone.
type counter struct{ facts, batches int64 }

func (c *counter) Record(_ context.Context, _ string, facts []record.Fact) (store.Receipt, error) {
	c.facts += int64(len(facts))
	c.batches++
	return store.Receipt{Count: int64(len(facts))}, nil
}

// BenchmarkGenerate makes the whole dataset of SIREC_BENCH_DEMO_PERSONS persons (default 10,000) ×
// SIREC_BENCH_DEMO_YEARS years (default 10) of monthly pension, medical and unemployment contributions, into a
// counter instead of a store: the generator's own rate and memory, which `sirec demo` adds to the store's. It
// reports facts per second and the live heap's peak, which must not grow with the number of persons.
func BenchmarkGenerate(b *testing.B) {
	persons, years := envInt("SIREC_BENCH_DEMO_PERSONS", 10_000), envInt("SIREC_BENCH_DEMO_YEARS", 10)
	for n := 0; n < b.N; n++ {
		var c counter
		stop := bench.SampleHeap()
		start := time.Now()
		sum, err := Generate(context.Background(), &c, Options{Persons: persons, Years: years, FromYear: 2026 - years, Seed: 1})
		took := time.Since(start)
		peak := stop()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Events != c.facts || sum.Contributions < int64(persons) {
			b.Fatalf("summary %+v, counted %d facts", sum, c.facts)
		}
		b.ReportMetric(float64(c.facts)/took.Seconds(), "facts/s")
		b.ReportMetric(float64(c.facts), "facts")
		b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MiB")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
