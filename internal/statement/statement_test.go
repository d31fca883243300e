package statement_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sirec/internal/demo"
	"sirec/internal/pdf"
	"sirec/internal/pdf/pdftest"
	"sirec/internal/record"
	"sirec/internal/statement"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

const (
	seed    = 7
	persons = 8
)

func setup(t *testing.T, env *storetest.Env) (*store.Store, *statement.Service) {
	t.Helper()
	st := env.Store()
	if _, err := demo.Generate(context.Background(), st, demo.Options{Persons: persons, Seed: seed, FromYear: 2023, Years: 2}); err != nil {
		t.Fatal(err)
	}
	svc := statement.New(st, &pdf.FontSource{})
	svc.Now = func() time.Time { return time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC) }
	svc.Location = time.UTC
	return st, svc
}

// TestStatementFiguresAndPDF checks a statement against the person's record as the console shows it, and its
// printed text as pdftotext reads it.
func TestStatementFiguresAndPDF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st, svc := setup(t, env)
		// A person who contributed to pension in 2024.
		var key string
		var v *store.PersonView
		for i := 0; i < persons && key == ""; i++ {
			k, err := st.FindPerson(ctx, demo.IDNumber(seed, i))
			if err != nil {
				t.Fatal(err)
			}
			if v, err = st.PersonRecord(ctx, k); err != nil {
				t.Fatal(err)
			}
			for _, c := range v.Contributions {
				if c.Type == record.Pension && c.Period.Year() == 2024 && c.Status == record.StatusPaid {
					key = k
				}
			}
		}
		s, err := svc.Preview(ctx, key, 2024)
		if err != nil {
			t.Fatal(err)
		}
		// The year's contributions, per type, are the record's months of 2024 and their sums.
		var want record.Fen
		months := 0
		for _, c := range v.Contributions {
			if c.Type == record.Pension && c.Period.Year() == 2024 {
				want += c.IndividualAmt
				months++
			}
		}
		var pension *statement.TypeYear
		for i := range s.Contributions {
			if s.Contributions[i].Type == record.Pension {
				pension = &s.Contributions[i]
			}
		}
		if pension == nil || pension.Individual != want || len(pension.Months) != months || months == 0 {
			t.Fatalf("pension 2024: %+v, want individual %s over %d months", pension, want, months)
		}
		// The account's year is the record's, and contribution years count to the end of the year only.
		var closing record.Fen
		for _, y := range v.Derived.AccountYears {
			if y.Year == 2024 {
				closing = y.Closing
			}
		}
		if s.Account == nil || s.Account.Closing != closing || closing == 0 {
			t.Fatalf("account 2024: %+v, want closing %s", s.Account, closing)
		}
		s23, err := svc.Preview(ctx, key, 2023)
		if err != nil {
			t.Fatal(err)
		}
		if len(s23.Years) == 0 || len(s.Years) == 0 || s23.Years[0].Total >= s.Years[0].Total {
			t.Errorf("contribution months to end 2023 %+v, to end 2024 %+v", s23.Years, s.Years)
		}
		if s23.Account == nil || s23.Account.Closing != s.Account.Opening {
			t.Errorf("2023 closing %+v is not 2024 opening %s", s23.Account, s.Account.Opening)
		}
		// A year not yet over has no statement.
		if _, err := svc.Preview(ctx, key, 2026); record.ErrorCode(err) != record.EInvalid {
			t.Errorf("statement of the current year: %v", err)
		}

		doc, err := statement.Render(pdftest.Fonts(t), s, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		text := pdftest.Text(t, doc)
		wants := append([]string{"社会保险个人权益记录单（2024年度）", v.Name, v.IDMasked, "养老保险", "实缴",
			"合计" + pension.Base.String() + pension.Employer.String() + pension.Individual.String(),
			"年末余额：" + closing.String() + "元", "年初余额：" + s.Account.Opening.String() + "元",
			"记账利率：" + s.Account.Rate}, statement.Sections...)
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("printed statement lacks %q:\n%s", w, text)
			}
		}
	})
}

func TestYearlyRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st, svc := setup(t, env)
		pdftest.Fonts(t)
		out := t.TempDir()
		var calls int
		var last int64
		run, err := svc.Run(ctx, statement.RunOptions{Year: 2024, OutDir: out, Workers: 2, Actor: "operator",
			Progress: func(done, total int64) { calls++; last = done }})
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != statement.RunDone || run.Persons != persons || run.Issued != persons || run.Done != persons || calls == 0 || last != persons {
			t.Fatalf("run: %+v, progress calls %d last %d", run, calls, last)
		}
		files, _ := filepath.Glob(filepath.Join(out, "2024", "*.pdf"))
		if len(files) != persons {
			t.Errorf("%d PDF files, want %d", len(files), persons)
		}
		f, err := os.Open(filepath.Join(out, "2024", "index.csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := csv.NewReader(f).ReadAll()
		f.Close()
		if len(rows) != persons+1 || rows[0][0] != "person" {
			t.Errorf("index.csv: %d rows", len(rows))
		}
		text := pdftest.Text(t, mustRead(t, files[0]))
		if !strings.Contains(text, "2024年度") || !strings.Contains(text, statement.Sections[2]) {
			t.Errorf("written statement:\n%s", text)
		}

		// Running the year again issues nothing new; a reissue gives everyone a second version.
		again, err := svc.Run(ctx, statement.RunOptions{Year: 2024, Actor: "operator"})
		if err != nil || again.Issued != 0 || again.Done != persons {
			t.Fatalf("second run: %+v %v", again, err)
		}
		re, err := svc.Run(ctx, statement.RunOptions{Year: 2024, Reissue: true, Actor: "operator"})
		if err != nil || re.Issued != persons {
			t.Fatalf("reissue: %+v %v", re, err)
		}
		// A print run: three statements to a file, each starting on a page of its own, listed in index.csv.
		batch := t.TempDir()
		pr, err := svc.Run(ctx, statement.RunOptions{Year: 2024, Reissue: true, OutDir: batch, PerFile: 3, Actor: "operator"})
		if err != nil || pr.Issued != persons {
			t.Fatalf("print run: %+v %v", pr, err)
		}
		files, _ = filepath.Glob(filepath.Join(batch, "2024", "*.pdf"))
		if len(files) != (persons+2)/3 {
			t.Errorf("%d files of three statements, want %d", len(files), (persons+2)/3)
		}
		f, err = os.Open(filepath.Join(batch, "2024", "index.csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows, _ = csv.NewReader(f).ReadAll()
		f.Close()
		if len(rows) != persons+1 || rows[1][3] != "1" || rows[2][2] != rows[1][2] || rows[2][3] == "1" {
			t.Errorf("index.csv of the print run: %v", rows[:3])
		}
		if text := pdftest.Text(t, mustRead(t, filepath.Join(batch, "2024", rows[1][2]))); strings.Count(text, "社会保险个人权益记录单（2024年度）") != 3 {
			t.Errorf("a file of three statements:\n%s", text)
		}

		key, _ := st.FindPerson(ctx, demo.IDNumber(seed, 1))
		list, err := svc.List(ctx, key)
		if err != nil || len(list) != 3 || list[0].Version != 3 || list[2].Version != 1 {
			t.Fatalf("statements of a person: %+v %v", list, err)
		}
		s, issued, err := svc.Get(ctx, key, 2024, 0)
		if err != nil || issued.Version != 3 || s.Year != 2024 || s.Person != key {
			t.Fatalf("latest statement: %+v %+v %v", issued, s, err)
		}
		if _, _, err := svc.Get(ctx, key, 2023, 0); record.ErrorCode(err) != record.ENotFound {
			t.Errorf("a year never issued: %v", err)
		}
		// The kept statement is checked against its hash.
		env.Raw("UPDATE statements SET sha256 = 'x' WHERE version = 1 AND person = '" + key + "'")
		if _, _, err := svc.Get(ctx, key, 2024, 1); err == nil || !strings.Contains(err.Error(), "does not match its hash") {
			t.Errorf("changed statement: %v", err)
		}
		runs, total, err := svc.Runs(ctx, 0, 10)
		if err != nil || total != 4 || runs[0].ID != pr.ID {
			t.Errorf("runs: %d %+v %v", total, runs, err)
		}

		// A run in progress holds the year; one without progress for long is taken as interrupted.
		now := svc.Now().UnixMilli()
		env.Raw("INSERT INTO statement_runs (id, year, status, started_at, finished_at, started_by, persons, done, issued, out_dir, error) VALUES (99, 2023, 'running', " +
			itoa(now) + ", " + itoa(now) + ", 'other', 8, 3, 3, '', '')")
		if _, err := svc.Run(ctx, statement.RunOptions{Year: 2023}); record.ErrorCode(err) != record.EConflict {
			t.Errorf("second run of a year in progress: %v", err)
		}
		env.Raw("UPDATE statement_runs SET finished_at = " + itoa(now-int64(10*time.Minute/time.Millisecond)) + " WHERE id = 99")
		if r, err := svc.Run(ctx, statement.RunOptions{Year: 2023}); err != nil || r.Issued != persons {
			t.Errorf("run after a stale one: %+v %v", r, err)
		}
		runs, _, _ = svc.Runs(ctx, 0, 10)
		for _, r := range runs {
			if r.ID == 99 && r.Status != statement.RunInterrupted {
				t.Errorf("stale run: %+v", r)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
