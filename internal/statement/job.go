package statement

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"sirec/internal/pdf"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Run states.
const (
	RunRunning     = "running"
	RunDone        = "done"
	RunFailed      = "failed"
	RunInterrupted = "interrupted" // its process ended without finishing it; a new run of the year goes on from where it stopped
)

// RunOptions say what a statement run does.
type RunOptions struct {
	Year    int
	OutDir  string // when set, the statements are also printed to PDF files under OutDir/<year>/, with index.csv
	PerFile int    // statements per PDF file: 1 (the default) for one file a person; more for print runs
	Workers int    // statements made in parallel; 0 means GOMAXPROCS
	Reissue bool   // issue a new version to persons who have a statement of the year already
	Actor   string // who started the run
	// Progress, when set, is told how many persons are done, of how many, after each batch.
	Progress func(done, total int64)
}

// RunInfo is a run of the yearly job as kept in statement_runs.
type RunInfo struct {
	ID         int64     `json:"id"`
	Year       int       `json:"year"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"` // while running: the last progress
	StartedBy  string    `json:"started_by"`
	Persons    int64     `json:"persons"` // persons the year's statements are for
	Done       int64     `json:"done"`    // persons done: issued now, or holding a statement already
	Issued     int64     `json:"issued"`  // statements issued by this run
	OutDir     string    `json:"out_dir,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// staleAfter is how long a running run may go without progress before it counts as interrupted.
const staleAfter = 5 * time.Minute

// batchSize is how many statements are kept per transaction; pageSize how many persons are read per query.
const (
	batchSize = 200
	pageSize  = 500
)

// Run issues the statements of a year to every person registered by its end (and alive at its start) who has
// none yet (or to everyone, with Reissue), as one job: persons are read page by page and statements made on
// Workers goroutines, kept in batches, with the run's progress kept in statement_runs and told to Progress.
// Memory is bounded by the pages and batches, not by the number of persons. A run that stops part-way is
// continued by running the year again.
func (s *Service) Run(ctx context.Context, o RunOptions) (RunInfo, error) {
	run, fonts, err := s.begin(ctx, o)
	if err != nil {
		return run, err
	}
	return s.execute(ctx, run, fonts, o)
}

// Start begins a run and carries it out in the background; it returns once the run is recorded.
func (s *Service) Start(ctx context.Context, o RunOptions) (RunInfo, error) {
	run, fonts, err := s.begin(ctx, o)
	if err != nil {
		return run, err
	}
	go s.execute(context.WithoutCancel(ctx), run, fonts, o)
	return run, nil
}

func (s *Service) begin(ctx context.Context, o RunOptions) (RunInfo, *pdf.Fonts, error) {
	if err := s.checkYear(o.Year); err != nil {
		return RunInfo{}, nil, err
	}
	if o.Workers < 0 || o.Workers > 64 {
		return RunInfo{}, nil, record.Invalid("workers", "workers_range", "workers must be 0 (one per CPU) to 64")
	}
	if o.PerFile < 0 || o.PerFile > 1000 {
		return RunInfo{}, nil, record.Invalid("per_file", "per_file_range", "statements per file must be 1 to 1000")
	}
	var fonts *pdf.Fonts
	if o.OutDir != "" {
		var err error
		if fonts, err = s.fonts.Fonts(); err != nil {
			return RunInfo{}, nil, err
		}
		if err := os.MkdirAll(filepath.Join(o.OutDir, strconv.Itoa(o.Year)), 0o750); err != nil {
			return RunInfo{}, nil, record.Invalid("out", "out_dir", "cannot create the output folder: %v", err)
		}
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return RunInfo{}, nil, err
	}
	defer tx.Rollback(ctx)
	var other int64
	var started string
	err = tx.QueryRow(ctx, "SELECT id, started_by FROM statement_runs WHERE year = $1 AND status = $2 AND finished_at > $3 ORDER BY id LIMIT 1",
		o.Year, RunRunning, now.Add(-staleAfter).UnixMilli()).Scan(&other, &started)
	if err == nil {
		return RunInfo{}, nil, record.Errorf(record.EConflict, "run %d of the %d statements, started by %s, is in progress", other, o.Year, started)
	}
	if !errors.Is(err, store.ErrNoRows) {
		return RunInfo{}, nil, err
	}
	if _, err := tx.Exec(ctx, "UPDATE statement_runs SET status = $1, error = $2 WHERE year = $3 AND status = $4",
		RunInterrupted, "no progress for "+staleAfter.String()+"; its process ended", o.Year, RunRunning); err != nil {
		return RunInfo{}, nil, err
	}
	run := RunInfo{Year: o.Year, Status: RunRunning, StartedAt: now, FinishedAt: now, StartedBy: o.Actor, OutDir: o.OutDir}
	yearEnd, yearStart := fmt.Sprintf("%04d-12-31", o.Year), fmt.Sprintf("%04d-01-01", o.Year)
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM persons WHERE registered_on <= $1 AND (death_date = '' OR death_date >= $2)", yearEnd, yearStart).Scan(&run.Persons); err != nil {
		return RunInfo{}, nil, err
	}
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM statement_runs").Scan(&run.ID); err != nil {
		return RunInfo{}, nil, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO statement_runs (id, year, status, started_at, finished_at, started_by, persons, done, issued, out_dir, error)
		VALUES ($1, $2, $3, $4, $4, $5, $6, 0, 0, $7, '')`, run.ID, run.Year, run.Status, now.UnixMilli(), run.StartedBy, run.Persons, run.OutDir); err != nil {
		return RunInfo{}, nil, err
	}
	return run, fonts, tx.Commit(ctx)
}

// member is one person's statement to make; a job is the statements printed to one file (one statement when
// nothing is printed, or one a file); made is a statement's result.
type member struct {
	person  string
	version int
}

type job []member

type made struct {
	person  string
	version int
	st      *Statement
	data    []byte
	sum     string
	file    string // the PDF written, relative to the year's folder
	page    int    // the page of that file the statement starts on
	fileSum string
}

func (s *Service) execute(ctx context.Context, run RunInfo, fonts *pdf.Fonts, o RunOptions) (RunInfo, error) {
	err := s.pipeline(ctx, &run, fonts, o)
	run.FinishedAt = s.Now().UTC().Truncate(time.Millisecond)
	run.Status = RunDone
	if err != nil {
		run.Status, run.Error = RunFailed, err.Error()
	}
	// The run's outcome is kept even when ctx was cancelled.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if uerr := s.progress(fctx, run); uerr != nil && err == nil {
		err = uerr
	}
	return run, err
}

func (s *Service) progress(ctx context.Context, run RunInfo) error {
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE statement_runs SET status = $1, finished_at = $2, done = $3, issued = $4, error = $5 WHERE id = $6",
		run.Status, run.FinishedAt.UnixMilli(), run.Done, run.Issued, run.Error, run.ID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func (s *Service) pipeline(ctx context.Context, run *RunInfo, fonts *pdf.Fonts, o RunOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan job, 2*workers)
	results := make(chan made, 2*workers)
	skipped := make(chan int64, 16)

	// The producer reads the persons page by page, in key order.
	go func() {
		defer close(jobs)
		defer close(skipped)
		if err := s.produce(ctx, o, jobs, skipped); err != nil {
			cancel(err)
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ms, err := s.make(ctx, j, run, fonts, o)
				if err != nil {
					cancel(err)
					return
				}
				for _, m := range ms {
					select {
					case results <- m:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	var index *csv.Writer
	if o.OutDir != "" {
		path := filepath.Join(o.OutDir, strconv.Itoa(o.Year), "index.csv")
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		index = csv.NewWriter(f)
		if statErr != nil {
			index.Write([]string{"person", "version", "file", "page", "file_sha256", "issued_at", "run"})
		}
		defer index.Flush()
	}
	batch := make([]made, 0, batchSize)
	flush := func() error {
		if err := s.keep(ctx, run, batch); err != nil {
			return err
		}
		run.Done += int64(len(batch))
		run.Issued += int64(len(batch))
		if index != nil {
			for _, m := range batch {
				index.Write([]string{m.person, strconv.Itoa(m.version), m.file, strconv.Itoa(m.page), m.fileSum, m.st.IssuedAt.Format(time.RFC3339), strconv.FormatInt(run.ID, 10)})
			}
			index.Flush()
			if err := index.Error(); err != nil {
				return err
			}
		}
		batch = batch[:0]
		if o.Progress != nil {
			o.Progress(run.Done, run.Persons)
		}
		return nil
	}
	for results != nil || skipped != nil {
		select {
		case m, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			batch = append(batch, m)
			if len(batch) == batchSize {
				if err := flush(); err != nil {
					cancel(err)
					return err
				}
			}
		case n, ok := <-skipped:
			if !ok {
				skipped = nil
				continue
			}
			run.Done += n
		}
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	if o.Progress != nil {
		o.Progress(run.Done, run.Persons)
	}
	return nil
}

// produce sends the persons of the year to jobs, page by page, and the number of persons skipped (who hold a
// statement of the year already) to skipped.
func (s *Service) produce(ctx context.Context, o RunOptions, jobs chan<- job, skipped chan<- int64) error {
	yearEnd, yearStart := fmt.Sprintf("%04d-12-31", o.Year), fmt.Sprintf("%04d-01-01", o.Year)
	per := max(o.PerFile, 1)
	if o.OutDir == "" {
		per = 1
	}
	var group job
	send := func() bool {
		if len(group) == 0 {
			return true
		}
		select {
		case jobs <- group:
			group = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	after := ""
	for {
		keys, have, err := s.page(ctx, o.Year, yearEnd, yearStart, after)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			send()
			return nil
		}
		var skip int64
		for _, p := range keys {
			v, ok := have[p]
			if ok && !o.Reissue {
				skip++
				continue
			}
			group = append(group, member{person: p, version: v + 1})
			if len(group) == per && !send() {
				return nil
			}
		}
		if skip > 0 {
			select {
			case skipped <- skip:
			case <-ctx.Done():
				return nil
			}
		}
		after = keys[len(keys)-1]
	}
}

// page reads the next page of persons after key after, and the latest statement version each holds for year.
func (s *Service) page(ctx context.Context, year int, yearEnd, yearStart, after string) ([]string, map[string]int, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT person FROM persons WHERE registered_on <= $1 AND (death_date = '' OR death_date >= $2) AND person > $3 ORDER BY person LIMIT $4",
		yearEnd, yearStart, after, pageSize)
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, nil, err
		}
		keys = append(keys, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(keys) == 0 {
		return keys, nil, err
	}
	have := map[string]int{}
	rows, err = tx.Query(ctx, "SELECT person, MAX(version) FROM statements WHERE year = $1 AND person >= $2 AND person <= $3 GROUP BY person",
		year, keys[0], keys[len(keys)-1])
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var v int
		if err := rows.Scan(&p, &v); err != nil {
			return nil, nil, err
		}
		have[p] = v
	}
	return keys, have, rows.Err()
}

// make builds a job's statements and, with an out folder, prints them: one file a person, or all of the job in
// one file.
func (s *Service) make(ctx context.Context, j job, run *RunInfo, fonts *pdf.Fonts, o RunOptions) ([]made, error) {
	out := make([]made, 0, len(j))
	sts := make([]*Statement, 0, len(j))
	for _, mb := range j {
		st, err := s.build(ctx, mb.person, o.Year, s.Now())
		if err != nil {
			return nil, err
		}
		data, sum, err := encode(st)
		if err != nil {
			return nil, err
		}
		out = append(out, made{person: mb.person, version: mb.version, st: st, data: data, sum: sum})
		sts = append(sts, st)
	}
	if fonts == nil {
		return out, nil
	}
	dir := filepath.Join(o.OutDir, strconv.Itoa(o.Year))
	write := func(name string, doc []byte) (string, error) {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, doc, 0o640); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return "", err
		}
		fs := sha256.Sum256(doc)
		return hex.EncodeToString(fs[:]), nil
	}
	if max(o.PerFile, 1) == 1 {
		for i := range out {
			m := &out[i]
			doc, err := Render(fonts, m.st, s.Location)
			if err != nil {
				return nil, fmt.Errorf("statement of %s: %w", m.person, err)
			}
			m.file, m.page = m.person+".pdf", 1
			if m.version > 1 {
				m.file = fmt.Sprintf("%s-v%d.pdf", m.person, m.version)
			}
			if m.fileSum, err = write(m.file, doc); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	doc, starts, err := Batch(fonts, sts, s.Location)
	if err != nil {
		return nil, fmt.Errorf("statements from %s: %w", j[0].person, err)
	}
	name := fmt.Sprintf("run%d-%s.pdf", run.ID, j[0].person)
	sum, err := write(name, doc)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].file, out[i].page, out[i].fileSum = name, starts[i], sum
	}
	return out, nil
}

// keep writes a batch of statements and the run's progress in one transaction.
func (s *Service) keep(ctx context.Context, run *RunInfo, batch []made) error {
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, m := range batch {
		if _, err := tx.Exec(ctx, "INSERT INTO statements (year, person, version, run, issued_at, checkpoint_size, data, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			m.st.Year, m.person, m.version, run.ID, m.st.IssuedAt.UnixMilli(), int64(m.st.Checkpoint), m.data, m.sum); err != nil {
			return fmt.Errorf("keep statement of %s: %w", m.person, err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE statement_runs SET finished_at = $1, done = $2, issued = $3 WHERE id = $4",
		s.Now().UnixMilli(), run.Done+int64(len(batch)), run.Issued+int64(len(batch)), run.ID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Runs lists the runs, newest first, at most limit (1–500) after offset, and how many there are.
func (s *Service) Runs(ctx context.Context, offset, limit int) ([]RunInfo, int, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "page_limit", "offset from 0 and limit 1 to 500")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM statement_runs").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT id, year, status, started_at, finished_at, started_by, persons, done, issued, out_dir, error FROM statement_runs ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []RunInfo{}
	for rows.Next() {
		var r RunInfo
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Year, &r.Status, &started, &finished, &r.StartedBy, &r.Persons, &r.Done, &r.Issued, &r.OutDir, &r.Error); err != nil {
			return nil, 0, err
		}
		r.StartedAt, r.FinishedAt = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC()
		out = append(out, r)
	}
	return out, total, rows.Err()
}
