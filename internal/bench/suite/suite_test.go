package suite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSuiteOnBothEngines runs the whole suite at a tiny size on each engine and checks that every figure is
// there and consistent: the suite must measure what it says, not only run.
func TestSuiteOnBothEngines(t *testing.T) {
	engines := []string{"sqlite"}
	pg := os.Getenv("SIREC_TEST_PG")
	if pg != "" {
		engines = append(engines, "postgres")
	} else if os.Getenv("CI") == "true" {
		t.Fatal("SIREC_TEST_PG is not set: PostgreSQL is required in CI")
	}
	var log bytes.Buffer
	figs, err := Run(context.Background(), Config{Engines: engines, Postgres: pg, Sizes: []int{120}, Years: 1, FromYear: 2024,
		BatchRows: 500, Clients: []int{1, 4}, ReadFor: 300 * time.Millisecond, Dir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	want := []string{"record the dataset", "post a monthly batch", "read one person's record over HTTP, 1 clients",
		"read one person's record over HTTP, 4 clients", "verify the journal", "verify journal and projections", "rebuild the projections"}
	if len(figs) != len(want)*len(engines) {
		t.Fatalf("%d figures, want %d: %+v", len(figs), len(want)*len(engines), figs)
	}
	for i, f := range figs {
		if !strings.HasPrefix(f.Measure, want[i%len(want)]) || f.Engine != engines[i/len(want)] {
			t.Errorf("figure %d is %s %q, want %s %q", i, f.Engine, f.Measure, engines[i/len(want)], want[i%len(want)])
		}
		if f.Value <= 0 || f.PeakMiB <= 0 || f.Events <= 0 {
			t.Errorf("%s %s: value %v, peak %v MiB, events %d", f.Engine, f.Measure, f.Value, f.PeakMiB, f.Events)
		}
		switch {
		case strings.HasPrefix(f.Measure, "post"), strings.HasPrefix(f.Measure, "verify"):
			if f.Baseline <= 0 || f.Ratio <= 0 || (f.Goal != "") != (f.Met != "") {
				t.Errorf("%s %s: baseline %v ratio %v met %q", f.Engine, f.Measure, f.Baseline, f.Ratio, f.Met)
			}
		case strings.HasPrefix(f.Measure, "read"):
			if !strings.Contains(f.Note, "p99") {
				t.Errorf("%s %s: no latencies in %q", f.Engine, f.Measure, f.Note)
			}
		}
	}
	// The verify figure covers the dataset, the employer and the batch.
	for i := 0; i < len(figs); i += len(want) {
		if v, d := figs[i+5].Events, figs[i].Events+1+500; v != d || figs[i+4].Events != d {
			t.Errorf("%s: verified %d events, want %d", figs[i].Engine, v, d)
		}
	}
	if pg != "" {
		settings, err := PostgresSettings(context.Background(), pg)
		if err != nil || !strings.Contains(settings, "shared_buffers ") || !strings.Contains(settings, "synchronous_commit ") {
			t.Errorf("PostgreSQL settings: %q %v", settings, err)
		}
	}
	var md bytes.Buffer
	if err := Markdown(&md, figs); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + md.String())
	if n := strings.Count(md.String(), "\n"); n != len(figs)+2 {
		t.Errorf("table has %d lines, want %d:\n%s", n, len(figs)+2, md.String())
	}
}

// TestProfilesAndNoReplay: with Profile set, every timed phase leaves a CPU profile; with NoReplay, the full
// verify is left out and the rest measured as usual; with NoRebuild too, the rebuild.
func TestProfilesAndNoReplay(t *testing.T) {
	dir := t.TempDir()
	figs, err := Run(context.Background(), Config{Engines: []string{"sqlite"}, Sizes: []int{60}, Years: 1, FromYear: 2024,
		BatchRows: 100, Clients: []int{2}, ReadFor: 200 * time.Millisecond, Dir: t.TempDir(), Profile: dir, NoReplay: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		if strings.HasPrefix(f.Measure, "verify journal and projections") {
			t.Errorf("NoReplay, yet measured %q", f.Measure)
		}
	}
	if len(figs) != 5 {
		t.Errorf("%d figures, want 5 (dataset, post, read, verify, rebuild)", len(figs))
	}
	for _, phase := range []string{"dataset", "post", "read-2", "verify-journal", "rebuild"} {
		st, err := os.Stat(filepath.Join(dir, "sqlite-60-"+phase+".pprof"))
		if err != nil || st.Size() == 0 {
			t.Errorf("profile of %s: %v", phase, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sqlite-60-verify-full.pprof")); err == nil {
		t.Error("a profile of the full verify, which NoReplay leaves out")
	}
	figs, err = Run(context.Background(), Config{Engines: []string{"sqlite"}, Sizes: []int{40}, Years: 1, FromYear: 2024,
		BatchRows: 50, Clients: []int{2}, ReadFor: 100 * time.Millisecond, Dir: t.TempDir(), NoReplay: true, NoRebuild: true})
	if err != nil || len(figs) != 4 || !strings.HasPrefix(figs[3].Measure, "verify the journal") {
		t.Fatalf("NoRebuild: %d figures, %v", len(figs), err)
	}
}
