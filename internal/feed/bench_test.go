package feed_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sirec/internal/feed"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// BenchmarkReconcileTax imports a tax bureau file of persons × 10 months of pension contributions and
// reconciles it with the records of those persons (the same months recorded through the normal append path),
// with one row in 500 planted to differ. It reports rows/s of the import (both passes: check, then store) and of
// the reconciliation, and the peak memory of each: the Go heap's peak, sampled every 5 ms, and the process's
// peak resident memory over the span (VmHWM, which counts SQLite's page cache too).
//
// The default is 10,000 persons (a 100,000-row file); SIREC_BENCH_PERSONS=100000 runs the full size the
// requirement names — a 1,000,000-row file against 100,000 persons (setting up those records takes minutes):
//
//	SIREC_BENCH_PERSONS=100000 go test ./internal/feed/ -run '^$' -bench ReconcileTax -benchtime 1x
func BenchmarkReconcileTax(b *testing.B) {
	persons := 10000
	if v := os.Getenv("SIREC_BENCH_PERSONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			b.Fatalf("SIREC_BENCH_PERSONS=%q: give a number of persons, at least 10", v)
		}
		persons = n
	}
	const months = 10
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			env := storetest.New(b, engine)
			st := env.Store()
			ctx := context.Background()
			setupRecords(b, st, persons, months)
			dir := b.TempDir()
			svc := feed.New(st, nil)
			var importNs, reconcileNs, importHeap, reconcileHeap, importRSS, reconcileRSS float64
			var diffs int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				path := filepath.Join(dir, fmt.Sprintf("tax-%d.csv", i))
				planted := writeTaxFile(b, st, path, i)
				file, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				m := startMemory()
				start := time.Now()
				f, err := svc.Import(ctx, file, feed.ImportOptions{Kind: feed.KindTax, Name: filepath.Base(path), Actor: "bench"})
				importNs += float64(time.Since(start))
				heap, rss := m.stop()
				importHeap, importRSS = max(importHeap, heap), max(importRSS, rss)
				file.Close()
				if err != nil {
					b.Fatal(err)
				}
				m = startMemory()
				start = time.Now()
				run, err := svc.Reconcile(ctx, f.ID, "bench", nil)
				reconcileNs += float64(time.Since(start))
				heap, rss = m.stop()
				reconcileHeap, reconcileRSS = max(reconcileHeap, heap), max(reconcileRSS, rss)
				if err != nil {
					b.Fatal(err)
				}
				if run.Differences != planted {
					b.Fatalf("found %d differences, planted %d: %v", run.Differences, planted, run.Counts)
				}
				diffs = run.Differences
			}
			rows := float64(persons * months * b.N)
			b.ReportMetric(rows/(importNs/1e9), "import-rows/s")
			b.ReportMetric(rows/(reconcileNs/1e9), "reconcile-rows/s")
			b.ReportMetric(importHeap, "import-heap-MiB")
			b.ReportMetric(reconcileHeap, "reconcile-heap-MiB")
			b.ReportMetric(importRSS, "import-rss-growth-MiB")
			b.ReportMetric(reconcileRSS, "reconcile-rss-growth-MiB")
			b.ReportMetric(float64(diffs), "differences")
		})
	}
}

// setupRecords registers persons and records months of pension contributions for each, through Record in
// batches, so that setting up holds one batch at a time.
func setupRecords(b *testing.B, st *store.Store, persons, months int) {
	b.Helper()
	ctx := context.Background()
	if _, err := st.Record(ctx, "bench", []record.Fact{employer(1, "基准单位")}); err != nil {
		b.Fatal(err)
	}
	const batch = 50000
	for lo := 0; lo < persons; lo += batch {
		var facts []record.Fact
		for i := lo; i < min(persons, lo+batch); i++ {
			facts = append(facts, &record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: benchID(i)}, Name: "基准", Region: "110105", RegisteredOn: "2015-01-01"})
		}
		if _, err := st.Record(ctx, "bench", facts); err != nil {
			b.Fatal(err)
		}
	}
	for m := 1; m <= months; m++ {
		for lo := 0; lo < persons; lo += batch {
			var facts []record.Fact
			for i := lo; i < min(persons, lo+batch); i++ {
				facts = append(facts, &record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: benchID(i)}, Employer: creditCode(1),
					Period: record.MakePeriod(2024, m), Type: record.Pension, Status: record.StatusPaid, Wage: int64(400000 + i%1000*100)})
			}
			if _, err := st.Record(ctx, "bench", facts); err != nil {
				b.Fatal(err)
			}
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
}

// benchID is the ID number of benchmark person i (up to 100,000,000 distinct).
func benchID(i int) string {
	body := fmt.Sprintf("1101%02d19%02d%02d%02d%03d", i/1000000%100, 60+i/100000%10, 1+i/10000%10, 10+i/1000%10, i%1000)
	return body + string(record.IDCheckChar(body))
}

// writeTaxFile writes the tax bureau's file of every recorded contribution — one row in 500 with a different
// base, as planted differences — streaming the record, and returns how many differences it planted. Files of
// different iterations differ (a blank line each), so none is refused as imported before.
func writeTaxFile(b *testing.B, st *store.Store, path string, iteration int) int64 {
	b.Helper()
	ctx := context.Background()
	out, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintln(w, "id_number,period,type,base,employer_paid,individual_paid")
	fmt.Fprint(w, strings.Repeat("\n", iteration))
	tx, err := st.Driver().Begin(ctx, false)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT p.id_sealed, c.period, c.type, c.base, c.employer_amount, c.individual_amount
		FROM contributions c JOIN persons p ON p.person = c.person ORDER BY p.person, c.period`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var n, planted int64
	var lastSealed, lastID string
	for rows.Next() {
		var sealed []byte
		var period, base, emp, ind int64
		var typ string
		if err := rows.Scan(&sealed, &period, &typ, &base, &emp, &ind); err != nil {
			b.Fatal(err)
		}
		if string(sealed) != lastSealed {
			id, err := st.Keys().OpenID(sealed)
			if err != nil {
				b.Fatal(err)
			}
			lastSealed, lastID = string(sealed), id
		}
		n++
		if n%500 == 0 {
			base += 100
			planted++
		}
		fmt.Fprintf(w, "%s,%d,%s,%s,%s,%s\n", lastID, period, typ, record.Fen(base), record.Fen(emp), record.Fen(ind))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return planted
}

// memory samples the peak Go heap over a span, and reads the process's peak resident memory over it and the
// resident memory it started from (the page caches the setup left, the test binary).
type memory struct {
	stopped chan struct{}
	wg      sync.WaitGroup
	peak    atomic.Uint64
	kernel  bool
	base    float64
}

func startMemory() *memory {
	runtime.GC()
	debug.FreeOSMemory()
	m := &memory{stopped: make(chan struct{})}
	m.kernel = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	m.base = statusMiB("VmRSS")
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > m.peak.Load() {
				m.peak.Store(ms.HeapAlloc)
			}
			select {
			case <-m.stopped:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// stop ends the span and returns the peak Go heap, and the peak resident memory over the span less the resident
// memory it started from (0 where the kernel's figures cannot be read), in MiB.
func (m *memory) stop() (heap, rss float64) {
	close(m.stopped)
	m.wg.Wait()
	if m.kernel {
		rss = statusMiB("VmHWM") - m.base
	}
	return float64(m.peak.Load()) / (1 << 20), rss
}

// statusMiB reads a "Name:   123 kB" line of /proc/self/status, in MiB (0 when it cannot).
func statusMiB(name string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
