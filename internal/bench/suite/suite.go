// Package suite runs the benchmark suite of `sirec bench`: datasets of each size on each engine, and every
// measure of package bench on them.
package suite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"sirec/internal/api"
	"sirec/internal/auth"
	"sirec/internal/bench"
	"sirec/internal/demo"
	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/postgres"
	"sirec/internal/store/sqlite"
	"sirec/internal/web"
)

// Config says what the suite measures.
type Config struct {
	Engines  []string // "sqlite", "postgres"
	Postgres string   // a PostgreSQL server DSN whose user may CREATE DATABASE; needed for "postgres"
	Sizes    []int    // dataset sizes, in insured persons
	FromYear int      // first year of the datasets' monthly contributions
	Years    int      // years of monthly contributions per person
	Seed     uint64
	// BatchRows is the size of the posted monthly batch (default 100,000).
	BatchRows int
	// Clients are the concurrencies of the read load (default 1, 16, 64); ReadFor is how long each runs.
	Clients []int
	ReadFor time.Duration
	Dir     string // scratch folder for SQLite files and keys; removed afterwards unless Keep
	Keep    bool
	// Profile, when set, is a folder that gets a CPU profile of each timed phase:
	// <engine>-<persons>-<phase>.pprof, for `go tool pprof`.
	Profile string
	// NoReplay leaves out the full verify (replay of every event into shadow tables), which runs at about
	// rebuild speed and so doubles that part of a large run.
	NoReplay bool
	// NoRebuild leaves out the rebuild of the projections (the longest phase of a large run: it reads and
	// re-derives the whole journal).
	NoRebuild bool
	// Log is told what is being done; Progress how far a long step has come.
	Log      io.Writer
	Progress func(stage string, done, total int)
}

func (c *Config) defaults() {
	if c.FromYear == 0 {
		c.FromYear = 2016
	}
	if c.Years == 0 {
		c.Years = 1
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.BatchRows == 0 {
		c.BatchRows = 100_000
	}
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 16, 64}
	}
	if c.ReadFor == 0 {
		c.ReadFor = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Figure is one measurement, next to its baseline where it has one.
type Figure struct {
	Engine   string
	Persons  int
	Events   int64 // journal size when measured
	Measure  string
	Value    float64
	Unit     string
	Baseline float64 // 0: none
	Ratio    float64 // Value/Baseline for rates; 0: none
	Goal     string
	Met      string // "yes", "no", "" (no goal)
	PeakMiB  float64
	Note     string
}

// Run runs the suite and returns its figures, in the order measured.
func Run(ctx context.Context, c Config) ([]Figure, error) {
	c.defaults()
	var out []Figure
	for _, size := range c.Sizes {
		for _, engine := range c.Engines {
			figs, err := runOne(ctx, c, engine, size)
			out = append(out, figs...)
			if err != nil {
				return out, fmt.Errorf("%s, %d persons: %w", engine, size, err)
			}
		}
	}
	return out, nil
}

// scratch is one engine's fresh database for one size.
type scratch struct {
	dsn   string
	drop  func() error
	keys  string
	store *store.Store
}

func openScratch(ctx context.Context, c Config, engine string, size int) (*scratch, error) {
	dir := filepath.Join(c.Dir, fmt.Sprintf("%s-%d", engine, size))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sc := &scratch{keys: filepath.Join(dir, "keys")}
	keys, err := keyring.Create(sc.keys, "sirec.agency/110101")
	if err != nil {
		return nil, err
	}
	var d store.Driver
	switch engine {
	case "sqlite":
		path := filepath.Join(dir, "sirec.db")
		sc.dsn = "sqlite:" + path
		d, err = sqlite.Open(path)
		sc.drop = func() error { return os.RemoveAll(dir) }
	case "postgres":
		if c.Postgres == "" {
			return nil, fmt.Errorf("postgres: no server DSN (--pg or SIREC_BENCH_PG)")
		}
		name := fmt.Sprintf("sirec_bench_%d_%d", size, os.Getpid())
		dsn, derr := createDatabase(ctx, c.Postgres, name)
		if derr != nil {
			return nil, derr
		}
		sc.dsn = dsn
		sc.drop = func() error {
			if err := dropDatabase(context.Background(), c.Postgres, name); err != nil {
				return err
			}
			return os.RemoveAll(dir)
		}
		d, err = postgres.Open(ctx, dsn)
	default:
		return nil, fmt.Errorf("engine %q: want sqlite or postgres", engine)
	}
	if err != nil {
		return nil, err
	}
	sc.store, err = store.New(ctx, d, keys, store.Config{Region: "110101"})
	if err != nil {
		d.Close()
		return nil, err
	}
	return sc, nil
}

func (sc *scratch) close(keep bool) error {
	sc.store.Close()
	if keep {
		return nil
	}
	return sc.drop()
}

func runOne(ctx context.Context, c Config, engine string, size int) (figs []Figure, err error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(c.Log, "bench: %s %d persons: %s\n", engine, size, fmt.Sprintf(format, args...))
	}
	sc, err := openScratch(ctx, c, engine, size)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := sc.close(c.Keep); err == nil {
			err = cerr
		}
	}()
	s := sc.store
	fig := func(measure string, value float64, unit string) Figure {
		return Figure{Engine: engine, Persons: size, Measure: measure, Value: value, Unit: unit}
	}
	var peak bench.Peak

	// 1. The dataset, through the normal append path.
	logf("recording the dataset (%d years of monthly contributions from %d)", c.Years, c.FromYear)
	peak.Reset()
	stop := c.profile(engine, size, "dataset")
	start := time.Now()
	sum, err := demo.Generate(ctx, s, demo.Options{Persons: size, Seed: c.Seed, FromYear: c.FromYear, Years: c.Years, Progress: c.Progress})
	stop()
	if err != nil {
		return figs, err
	}
	took := time.Since(start)
	f := fig("record the dataset (demo through Record)", float64(sum.Events)/took.Seconds(), "events/s")
	f.Events = sum.Events
	f.PeakMiB, _ = peak.MiB()
	f.Note = fmt.Sprintf("%d events, %d contribution months in %s", sum.Events, sum.Contributions, took.Round(time.Second))
	figs = append(figs, f)

	// 2. Posting a monthly batch, next to a plain bulk insert of the same rows.
	logf("posting a monthly batch of %d rows", c.BatchRows)
	batch, err := monthlyBatch(c, size)
	if err != nil {
		return figs, err
	}
	if err := recordEmployer(ctx, s); err != nil {
		return figs, err
	}
	if err := bench.Quiesce(ctx, s.Driver()); err != nil {
		return figs, err
	}
	runtime.GC()
	peak.Reset()
	stop = c.profile(engine, size, "post")
	start = time.Now()
	rc, err := s.Record(ctx, "bench:monthly-batch", batch)
	stop()
	if err != nil {
		return figs, err
	}
	postTook := time.Since(start)
	postPeak, _ := peak.MiB()
	// The baseline gets a table as large as the projection was before the batch (the batch's own rows excluded:
	// they are inserted again, keyed from the same seqs, in the timed part).
	if err := bench.FillPlainLike(ctx, s.Driver()); err != nil {
		return figs, err
	}
	if err := deleteFrom(ctx, s.Driver(), rc.First); err != nil {
		return figs, err
	}
	plain := bench.PlainRows(batch, rc.First)
	if err := bench.Quiesce(ctx, s.Driver()); err != nil {
		return figs, err
	}
	runtime.GC()
	plainTook, err := bench.PlainInsert(ctx, s.Driver(), plain)
	if err != nil {
		return figs, err
	}
	if err := bench.DropPlainTable(ctx, s.Driver()); err != nil {
		return figs, err
	}
	n := float64(len(batch))
	f = fig("post a monthly batch", n/postTook.Seconds(), "rows/s")
	f.Events = sum.Events + int64(len(batch))
	f.Baseline = n / plainTook.Seconds()
	f.Ratio = f.Value / f.Baseline
	f.Goal = "≥ 50,000 rows/s and ≥ 0.5 × plain"
	f.Met = yesNo(f.Value >= 50_000 && f.Ratio >= 0.5)
	f.PeakMiB = postPeak
	f.Note = fmt.Sprintf("%d rows; plain: one transaction of CopyRows into a table shaped like the projection and as large", len(batch))
	figs = append(figs, f)

	// 3. Reading one person's whole record over HTTP under concurrent load.
	events := sum.Events + int64(len(batch)) + 1
	if err := bench.Quiesce(ctx, s.Driver()); err != nil {
		return figs, err
	}
	readFigs, err := readLoad(ctx, c, s, engine, size, events, logf)
	figs = append(figs, readFigs...)
	if err != nil {
		return figs, err
	}

	// 4. Verify, next to a plain read of the same rows: the journal alone, then journal and projections.
	v, err := keyring.LoadVerifier(sc.keys)
	if err != nil {
		return figs, err
	}
	if err := bench.Quiesce(ctx, s.Driver()); err != nil {
		return figs, err
	}
	read, readTook, err := bench.PlainRead(ctx, s.Driver())
	if err != nil {
		return figs, err
	}
	var rep store.VerifyReport
	modes := []bool{false, true}
	if c.NoReplay {
		modes = modes[:1]
	}
	for _, full := range modes {
		logf("verifying the journal (projections too: %v)", full)
		runtime.GC()
		peak.Reset()
		stop := c.profile(engine, size, map[bool]string{false: "verify-journal", true: "verify-full"}[full])
		start = time.Now()
		if full {
			rep, err = store.Verify(ctx, s.Driver(), v, store.DefaultRules(), nil)
		} else {
			rep, err = store.VerifyJournal(ctx, s.Driver(), v, nil)
		}
		stop()
		if err != nil {
			return figs, err
		}
		took := time.Since(start)
		f = fig("verify the journal: leaf hashes, tree, signed checkpoints", float64(rep.Events)/took.Seconds(), "events/s")
		f.Goal = "≥ 0.5 × plain read"
		f.Note = fmt.Sprintf("plain: SELECT of the same %d rows", read)
		if full {
			f.Measure = "verify journal and projections (replay and compare)"
			f.Goal = ""
			f.Note = "the journal check, then a replay of every event through the rules into shadow tables compared row by row"
		}
		f.Events = rep.Events
		f.Baseline = float64(read) / readTook.Seconds()
		f.Ratio = f.Value / f.Baseline
		if f.Goal != "" {
			f.Met = yesNo(f.Ratio >= 0.5)
		}
		f.PeakMiB, _ = peak.MiB()
		figs = append(figs, f)
	}

	// 5. Rebuilding the projections.
	if c.NoRebuild {
		return figs, nil
	}
	logf("rebuilding the projections")
	runtime.GC()
	peak.Reset()
	stop = c.profile(engine, size, "rebuild")
	start = time.Now()
	err = s.Rebuild(ctx, nil)
	stop()
	if err != nil {
		return figs, err
	}
	rebuildTook := time.Since(start)
	f = fig("rebuild the projections", float64(rep.Events)/rebuildTook.Seconds(), "events/s")
	f.Events = rep.Events
	f.PeakMiB, _ = peak.MiB()
	f.Note = fmt.Sprintf("%s for %d events", rebuildTook.Round(time.Millisecond), rep.Events)
	figs = append(figs, f)
	return figs, nil
}

// profile starts a CPU profile of one phase when c.Profile is set; the returned func stops it. A profile that
// cannot be started (another one running, a folder not writable) is reported and the phase runs unprofiled.
func (c Config) profile(engine string, size int, phase string) func() {
	if c.Profile == "" {
		return func() {}
	}
	path := filepath.Join(c.Profile, fmt.Sprintf("%s-%d-%s.pprof", engine, size, phase))
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(c.Log, "bench: no profile of %s: %v\n", phase, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		fmt.Fprintf(c.Log, "bench: no profile of %s: %v\n", phase, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// benchEmployer is the employer of the posted batch (a valid GB 32100 code).
const benchEmployer = "91350100M000100Y43"

func recordEmployer(ctx context.Context, s *store.Store) error {
	_, err := s.Record(ctx, "bench:employer", []record.Fact{&record.EmployerRegistered{CreditCode: benchEmployer, IndustryClass: 1,
		Name: "基准测试单位", Region: "110101", RegisteredOn: "2001-01-01"}})
	return err
}

// monthlyBatch is BatchRows pension rows for the dataset's persons, in the months after the dataset: one
// month for every person while rows last, then the next month.
func monthlyBatch(c Config, persons int) ([]record.Fact, error) {
	ids := demo.IDNumbers(c.Seed, min(persons, c.BatchRows))
	out := make([]record.Fact, 0, c.BatchRows)
	for m := 0; len(out) < c.BatchRows; m++ {
		y, mo := c.FromYear+c.Years+m/12, 1+m%12
		if y > 2026 {
			return nil, fmt.Errorf("batch of %d rows does not fit before 2027 with %d persons", c.BatchRows, persons)
		}
		for i := 0; i < len(ids) && len(out) < c.BatchRows; i++ {
			out = append(out, &record.ContributionPosted{PersonRef: record.PersonRef{IDNumber: ids[i]}, Employer: benchEmployer,
				Period: record.MakePeriod(y, mo), Type: record.Pension, Status: record.StatusPaid, Wage: int64(500000 + i%7*37100)})
		}
	}
	return out, nil
}

// readLoad serves the API on 127.0.0.1 and reads random persons' whole records through it, as a query user
// with an API token, at each concurrency. Every read is registered in the query log (Q7), as in service.
func readLoad(ctx context.Context, c Config, s *store.Store, engine string, size int, events int64, logf func(string, ...any)) ([]Figure, error) {
	users := auth.New(s.Driver(), auth.DefaultConfig())
	now := time.Now()
	if _, err := users.AddUser(ctx, auth.NewUser{Username: "bench-reader", DisplayName: "基准查询", Password: "Query-Load-2026-long",
		Posts: []auth.Post{auth.PostQuery}}, "bench", now); err != nil {
		return nil, err
	}
	token, _, err := users.CreateToken(ctx, auth.TokenSpec{Username: "bench-reader", Name: "bench", Scopes: []auth.Scope{auth.ScopePersonsRead},
		ExpiresAt: now.Add(24 * time.Hour)}, "bench", now)
	if err != nil {
		return nil, err
	}
	keys, err := s.PersonKeys(ctx, 0, min(size, 20000))
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no persons to read")
	}
	rand.New(rand.NewPCG(c.Seed, 7)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	srv := &api.Server{Store: s, Auth: users, Review: review.New(s), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		QueryLog: web.StaffQueryLog(s.Driver())}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String() + "/api/v1/persons/"
	var figs []Figure
	var peak bench.Peak
	for _, clients := range c.Clients {
		logf("reading records over HTTP with %d clients for %s", clients, c.ReadFor)
		runtime.GC()
		peak.Reset()
		stop := c.profile(engine, size, fmt.Sprintf("read-%d", clients))
		res, err := bench.Load{Clients: clients, Duration: c.ReadFor, Warmup: time.Second, Request: func(cl, i int) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, base+url.PathEscape(keys[(cl*7919+i)%len(keys)]), nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("X-Purpose", "benchmark")
			return req, nil
		}}.Run(ctx)
		stop()
		if err != nil {
			return figs, err
		}
		if res.Errors > 0 {
			return figs, fmt.Errorf("read load with %d clients: %d errors, first: %s", clients, res.Errors, res.FirstError)
		}
		f := Figure{Engine: engine, Persons: size, Events: events, Measure: fmt.Sprintf("read one person's record over HTTP, %d clients", clients),
			Value: res.PerSecond(), Unit: "requests/s"}
		f.PeakMiB, _ = peak.MiB()
		f.Note = fmt.Sprintf("p50 %s · p99 %s · max %s", ms(res.P50), ms(res.P99), ms(res.Max))
		if clients == 16 {
			f.Goal = "p99 ≤ 10 ms at 1,000,000 persons"
			if size >= 1_000_000 {
				f.Met = yesNo(res.P99 <= 10*time.Millisecond)
			}
		}
		figs = append(figs, f)
	}
	return figs, nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// createDatabase creates database name on the server of dsn and returns the DSN of the new database.
func createDatabase(ctx context.Context, dsn, name string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("postgres DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// PostgresSettings describes the PostgreSQL server at dsn by the settings that move the figures: version,
// shared_buffers, durability (fsync, synchronous_commit) and WAL size. A report names them, since the same
// code runs at very different speeds on differently configured servers.
func PostgresSettings(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var parts []string
	for _, name := range []string{"server_version", "shared_buffers", "fsync", "synchronous_commit", "full_page_writes", "max_wal_size"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return "", err
		}
		parts = append(parts, name+" "+v)
	}
	return "PostgreSQL: " + strings.Join(parts, ", "), nil
}

func dropDatabase(ctx context.Context, dsn, name string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Markdown writes the figures as a table.
func Markdown(w io.Writer, figs []Figure) error {
	var b strings.Builder
	b.WriteString("| engine | persons | events | measure | value | baseline | ratio | goal | met | peak RSS | notes |\n")
	b.WriteString("|---|---:|---:|---|---:|---:|---:|---|---|---:|---|\n")
	for _, f := range figs {
		base, ratio := "", ""
		if f.Baseline > 0 {
			base = fmt.Sprintf("%s %s", num(f.Baseline), f.Unit)
			ratio = fmt.Sprintf("%.2f", f.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s %s | %s | %s | %s | %s | %.0f MiB | %s |\n", f.Engine, num(float64(f.Persons)), num(float64(f.Events)),
			f.Measure, num(f.Value), f.Unit, base, ratio, f.Goal, f.Met, f.PeakMiB, f.Note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats a figure with thousands separators and no decimals (two below 100).
func num(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// deleteFrom removes from the baseline table the rows from seq on.
func deleteFrom(ctx context.Context, d store.Driver, seq int64) error {
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "DELETE FROM "+bench.PlainTable+" WHERE seq >= $1", seq); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
