package statement_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sirec/internal/demo"
	"sirec/internal/pdf"
	"sirec/internal/pdf/pdftest"
	"sirec/internal/statement"
	"sirec/internal/store/storetest"
)

// BenchmarkStatements issues the yearly statements of every person of a demo dataset as the yearly job does
// (statement.Service.Run): each person's record read and derived, the statement kept ("data"), and printed — to
// a PDF file a person ("pdf"), or 200 to a file for a print run ("pdf-200-per-file"). It reports persons per second and the peak heap while the job runs, which stays bounded
// by the job's pages and batches whatever the number of persons.
//
// The number of persons is SIREC_BENCH_STATEMENTS (default 2,000; docs/BENCHMARKS.md has 100,000), the engine
// SIREC_BENCH_ENGINE (sqlite, the default, or postgres). Run with -benchtime=1x: the dataset (one year of
// pension, medical and unemployment contributions, 36 months a person) is made once per engine.
//
//	SIREC_BENCH_STATEMENTS=100000 go test ./internal/statement/ -run '^$' -bench Statements -benchtime=1x -timeout 2h
func BenchmarkStatements(b *testing.B) {
	n := 2000
	if v := os.Getenv("SIREC_BENCH_STATEMENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("SIREC_BENCH_STATEMENTS=%q is not a number of persons", v)
		}
	}
	engine := os.Getenv("SIREC_BENCH_ENGINE")
	if engine == "" {
		engine = "sqlite"
	}
	ctx := context.Background()
	env := storetest.New(b, engine)
	st := env.Store()
	start := time.Now()
	if _, err := demo.Generate(ctx, st, demo.Options{Persons: n, Seed: 42, FromYear: 2024, Years: 1, BatchSize: 50_000}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: demo dataset of %d persons made in %s", engine, n, time.Since(start).Round(time.Second))
	svc := statement.New(st, &pdf.FontSource{})
	for _, c := range []struct {
		name    string
		perFile int // 0: no PDF
	}{{"data", 0}, {"pdf", 1}, {"pdf-200-per-file", 200}} {
		withPDF := c.perFile > 0
		if withPDF {
			pdftest.Fonts(b)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out := ""
				if withPDF {
					out = b.TempDir()
				}
				peak := watchHeap()
				b.ResetTimer()
				t0 := time.Now()
				run, err := svc.Run(ctx, statement.RunOptions{Year: 2024, OutDir: out, PerFile: c.perFile, Reissue: true, Actor: "bench"})
				elapsed := time.Since(t0)
				b.StopTimer()
				heap := peak()
				if err != nil {
					b.Fatal(err)
				}
				if run.Issued != int64(n) {
					b.Fatalf("issued %d statements of %d", run.Issued, n)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "persons/s")
				b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(0, "ns/op")
				if out != "" {
					os.RemoveAll(out) // up to ~60 KB a statement
				}
			}
		})
	}
}

// watchHeap samples the live heap every 20 ms until the returned function is called, which returns the peak.
func watchHeap() func() uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}
