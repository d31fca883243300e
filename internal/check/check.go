// Package check runs the named integrity and compliance checks over the recorded data (R9.2, R11.1): each reads
// the projections in bounded memory — streamed in person order or aggregated by the database — and reports
// findings, each naming the person (by key, never by ID number), the rows and what is wrong, with a stable key
// so that the same fault found again is recognised. A Runner files the findings as work items (internal/workitem)
// and records each run; a Scheduler runs the checks inside serve.
package check

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Severity of a finding.
const (
	High   = "high"   // a person's rights are likely wrong (money, years, benefits)
	Medium = "medium" // the record is likely incomplete or duplicated
	Low    = "low"    // worth a look
)

// Finding is one fault found.
type Finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	// Key names the fault within its check by what it is about (rows, persons, months), never by its wording:
	// the same fault found by a later run has the same key.
	Key      string        `json:"key"`
	Person   string        `json:"person,omitempty"`
	Employer string        `json:"employer,omitempty"`
	Period   record.Period `json:"period,omitempty"` // the month at fault, when one is
	Seq      int64         `json:"seq,omitempty"`    // the event whose row is at fault, when one is
	Detail   string        `json:"detail"`
}

// Check is one named check.
type Check struct {
	Name        string
	Severity    string
	Description string // Chinese, then English
	run         func(ctx context.Context, c *Checker, emit func(Finding)) error
}

// Checker runs checks on a store.
type Checker struct {
	st *store.Store

	// The state of the check running now: rows read, and the first error emit met.
	rows     int64
	emitErr  error
	progress func(rows int64)
}

// New returns a checker of a store.
func New(st *store.Store) *Checker { return &Checker{st: st} }

// Checks lists the checks in the order they run.
var Checks = []Check{
	{"missing_months", Medium, "缺缴月份：参保期间内某险种的缴费记录中断 — a month missing between a person's first and last contribution of an insurance type", missingMonths},
	{"duplicate_months", High, "重复缴费：同一人同一险种同一月份同一单位有多条缴费 — the same person, insurance type, month and employer paid more than once", duplicateMonths},
	{"base_out_of_range", High, "基数越限：缴费基数不在当期上下限之间 — a contribution base outside the floor and ceiling in force for its month", baseOutOfRange},
	{"duplicate_identities", Medium, "疑似重复登记：姓名、性别、出生日期相同的不同身份号码 — persons with the same name, sex and birth date under different ID numbers", duplicateIdentities},
	{"overlapping_enrolments", Medium, "参保关系重叠：同一险种的参保关系时间重叠 — two enrolments of one insurance type that overlap in time", overlappingEnrolments},
	{"after_death", High, "死亡后缴费或领取待遇：死亡月份之后的缴费或待遇 — contributions or benefits for months after a person's death", afterDeath},
	{"contributions_after_retirement", Medium, "退休后缴费：退休资格生效后的养老缴费 — pension contributions for months after retirement eligibility began", contributionsAfterRetirement},
	{"benefits_without_eligibility", High, "无资格领取待遇：待遇发放月份没有相应的待遇资格 — a benefit paid for a month without eligibility of that kind", benefitsWithoutEligibility},
	{"materials", High, "原始材料缺失或被改动：材料不存在或与其SHA-256不符 — an original material (or a confidentiality agreement) that is missing or no longer matches its SHA-256", materials},
	{"journal_projections", High, "投影与日志不一致：重放日志得到的数据与现有数据不符，或日志、检查点被改动 — projections that disagree with the journal, or a journal or checkpoint changed (the checks of sirec verify)", journalProjections},
}

// Names returns the names of the checks.
func Names() []string {
	var n []string
	for _, c := range Checks {
		n = append(n, c.Name)
	}
	return n
}

// Status is what progress is told: the check running ("" once all are done), how many checks have finished of
// how many, the rows the running check has read so far, and the findings so far.
type Status struct {
	Check    string
	Done     int
	Total    int
	Rows     int64
	Findings int
}

// Progress is told how a run goes: when each check starts, every progressRows rows it reads, and at the end.
type Progress func(Status)

// progressRows is how often, in rows read, a running check reports progress.
const progressRows = 50000

// Stats sums up a run.
type Stats struct {
	Rows     int64 // rows read by every check
	Findings int
}

// Run runs the named checks (all when names is empty) and returns the findings in check order. It holds every
// finding in memory; Stream hands them on one by one.
func (c *Checker) Run(ctx context.Context, names []string, progress Progress) ([]Finding, error) {
	var out []Finding
	_, err := c.Stream(ctx, names, progress, func(f Finding) error {
		out = append(out, f)
		return nil
	})
	return out, err
}

// Select returns the checks named (all when names is empty), in their order, or an error naming an unknown one.
func Select(names []string) ([]Check, error) {
	for _, n := range names {
		if !contains(Names(), n) {
			return nil, record.Invalid("check", "check_name", "no check is named %q; the checks are %v", n, Names())
		}
	}
	var todo []Check
	for _, ch := range Checks {
		if len(names) == 0 || contains(names, ch.Name) {
			todo = append(todo, ch)
		}
	}
	return todo, nil
}

// Stream runs the named checks (all when names is empty) and hands each finding to emit as it is found, in check
// order; memory does not grow with the data or the number of findings. An error from emit stops the run.
func (c *Checker) Stream(ctx context.Context, names []string, progress Progress, emit func(Finding) error) (Stats, error) {
	todo, err := Select(names)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	for i, ch := range todo {
		status := func(rows int64) Status {
			return Status{Check: ch.Name, Done: i, Total: len(todo), Rows: rows, Findings: st.Findings}
		}
		if progress != nil {
			progress(status(0))
		}
		c.rows, c.emitErr = 0, nil
		c.progress = func(rows int64) {
			if progress != nil {
				progress(status(rows))
			}
		}
		each := func(f Finding) {
			if c.emitErr != nil {
				return
			}
			f.Check, f.Severity = ch.Name, ch.Severity
			if f.Key == "" {
				f.Key = f.Detail
			}
			st.Findings++
			c.emitErr = emit(f)
		}
		err := ch.run(ctx, c, each)
		st.Rows += c.rows
		if err == nil {
			err = c.emitErr
		}
		if err != nil {
			return st, fmt.Errorf("check %s: %w", ch.Name, err)
		}
	}
	if progress != nil {
		progress(Status{Done: len(todo), Total: len(todo), Findings: st.Findings})
	}
	return st, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// query streams rows of q to fn in a read transaction.
func (c *Checker) query(ctx context.Context, q string, fn func(store.Rows) error, args ...any) error {
	tx, err := c.st.Driver().Begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
		if c.emitErr != nil {
			return c.emitErr
		}
		c.rows++
		if c.rows%progressRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if c.progress != nil {
				c.progress(c.rows)
			}
		}
	}
	return rows.Err()
}

func key(parts ...any) string {
	b := make([]byte, 0, 64)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '|')
		}
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case record.Period:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			b = fmt.Append(b, v)
		}
	}
	return string(b)
}

// missingMonths streams contributions in (person, type, period) order and reports every gap.
func missingMonths(ctx context.Context, c *Checker, emit func(Finding)) error {
	var person, typ string
	var last record.Period
	return c.query(ctx, "SELECT person, type, period FROM contributions ORDER BY person, type, period", func(r store.Rows) error {
		var p, t string
		var period int64
		if err := r.Scan(&p, &t, &period); err != nil {
			return err
		}
		cur := record.Period(period)
		if p == person && t == typ && cur.Index()-last.Index() > 1 {
			from, to := last.AddMonths(1), cur.AddMonths(-1)
			emit(Finding{Key: key(p, t, from, to), Person: p, Period: from, Detail: fmt.Sprintf("%s: no contribution for %s to %s", t, from, to)})
		}
		person, typ, last = p, t, cur
		return nil
	})
}

func duplicateMonths(ctx context.Context, c *Checker, emit func(Finding)) error {
	return c.query(ctx, `SELECT person, type, period, employer, COUNT(*), MIN(seq), MAX(seq) FROM contributions
		GROUP BY person, type, period, employer HAVING COUNT(*) > 1 ORDER BY person, type, period`, func(r store.Rows) error {
		var p, t, e string
		var period, n, lo, hi int64
		if err := r.Scan(&p, &t, &period, &e, &n, &lo, &hi); err != nil {
			return err
		}
		emit(Finding{Key: key(p, t, period, e), Person: p, Employer: e, Period: record.Period(period), Seq: hi,
			Detail: fmt.Sprintf("%s %d paid %d times (events %d to %d)", t, period, n, lo, hi)})
		return nil
	})
}

func baseOutOfRange(ctx context.Context, c *Checker, emit func(Finding)) error {
	book := c.st.Book()
	region := c.st.Region()
	return c.query(ctx, "SELECT seq, person, type, period, base FROM contributions ORDER BY seq", func(r store.Rows) error {
		var seq, period, base int64
		var p, t string
		if err := r.Scan(&seq, &p, &t, &period, &base); err != nil {
			return err
		}
		set := book.At(region, record.Period(period))
		if record.Fen(base) < set.Floor() || record.Fen(base) > set.Ceiling() {
			emit(Finding{Key: key(seq), Person: p, Period: record.Period(period), Seq: seq,
				Detail: fmt.Sprintf("%s %d: base %s outside %s–%s", t, period, record.Fen(base), set.Floor(), set.Ceiling())})
		}
		return nil
	})
}

func duplicateIdentities(ctx context.Context, c *Checker, emit func(Finding)) error {
	return c.query(ctx, `SELECT p.person, p.name, p.birth, q.person FROM persons p JOIN persons q
		ON q.name = p.name AND q.sex = p.sex AND q.birth = p.birth AND q.person > p.person ORDER BY p.person, q.person`, func(r store.Rows) error {
		var a, name, birth, b string
		if err := r.Scan(&a, &name, &birth, &b); err != nil {
			return err
		}
		emit(Finding{Key: key(a, b), Person: a, Detail: fmt.Sprintf("same name, sex and birth date (%s) as person %s", birth, b)})
		return nil
	})
}

func overlappingEnrolments(ctx context.Context, c *Checker, emit func(Finding)) error {
	return c.query(ctx, `SELECT a.person, a.type, a.seq, b.seq, a.start_date, a.end_date, b.start_date, b.end_date FROM enrolments a JOIN enrolments b
		ON b.person = a.person AND b.type = a.type AND b.seq > a.seq
		AND (a.end_date = '' OR b.start_date <= a.end_date) AND (b.end_date = '' OR a.start_date <= b.end_date)
		ORDER BY a.person, a.seq`, func(r store.Rows) error {
		var p, t, s1, e1, s2, e2 string
		var a, b int64
		if err := r.Scan(&p, &t, &a, &b, &s1, &e1, &s2, &e2); err != nil {
			return err
		}
		emit(Finding{Key: key(a, b), Person: p, Seq: b, Detail: fmt.Sprintf("%s enrolments %d (%s–%s) and %d (%s–%s) overlap", t, a, s1, open(e1), b, s2, open(e2))})
		return nil
	})
}

func open(d string) string {
	if d == "" {
		return "…"
	}
	return d
}

// periodOf returns the YYYYMM of a YYYY-MM-DD date.
func periodOf(date string) record.Period {
	t, err := time.Parse("2006-01-02", date)
	if err != nil {
		return 0
	}
	return record.MakePeriod(t.Year(), int(t.Month()))
}

func afterDeath(ctx context.Context, c *Checker, emit func(Finding)) error {
	for _, q := range []struct{ what, sql string }{
		{"contribution", "SELECT c.seq, c.person, c.period, p.death_date FROM contributions c JOIN persons p ON p.person = c.person WHERE p.status = 'deceased' ORDER BY c.seq"},
		{"benefit", "SELECT b.seq, b.person, b.period, p.death_date FROM benefit_payments b JOIN persons p ON p.person = b.person WHERE p.status = 'deceased' ORDER BY b.seq"},
	} {
		err := c.query(ctx, q.sql, func(r store.Rows) error {
			var seq, period int64
			var p, death string
			if err := r.Scan(&seq, &p, &period, &death); err != nil {
				return err
			}
			if record.Period(period) > periodOf(death) {
				emit(Finding{Key: key(q.what, seq), Person: p, Period: record.Period(period), Seq: seq, Detail: fmt.Sprintf("%s for %d after death on %s", q.what, period, death)})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func contributionsAfterRetirement(ctx context.Context, c *Checker, emit func(Finding)) error {
	return c.query(ctx, `SELECT c.seq, c.person, c.period, MIN(e.from_date) FROM contributions c JOIN eligibilities e
		ON e.person = c.person AND e.kind = 'retirement' WHERE c.type = 'pension' GROUP BY c.seq, c.person, c.period ORDER BY c.seq`, func(r store.Rows) error {
		var seq, period int64
		var p, from string
		if err := r.Scan(&seq, &p, &period, &from); err != nil {
			return err
		}
		if record.Period(period) >= periodOf(from) {
			emit(Finding{Key: key(seq), Person: p, Period: record.Period(period), Seq: seq, Detail: fmt.Sprintf("pension contribution for %d; retired from %s", period, from)})
		}
		return nil
	})
}

func benefitsWithoutEligibility(ctx context.Context, c *Checker, emit func(Finding)) error {
	// Per person, the eligibility spans of each kind; benefits streamed in person order beside them.
	type span struct{ from, to record.Period }
	spans := map[string][]span{}
	var person string
	load := func(p string) error {
		clear(spans)
		return c.query(ctx, "SELECT kind, from_date, to_date FROM eligibilities WHERE person = $1", func(r store.Rows) error {
			var kind, from, to string
			if err := r.Scan(&kind, &from, &to); err != nil {
				return err
			}
			s := span{periodOf(from), record.MakePeriod(9999, 12)}
			if to != "" {
				s.to = periodOf(to)
			}
			spans[kind] = append(spans[kind], s)
			return nil
		}, p)
	}
	// Benefits stream in person order; each person's eligibilities are loaded when the person changes, so
	// memory holds one person's eligibilities at a time.
	return c.query(ctx, "SELECT seq, person, kind, period FROM benefit_payments ORDER BY person, seq", func(r store.Rows) error {
		var seq, period int64
		var p, kind string
		if err := r.Scan(&seq, &p, &kind, &period); err != nil {
			return err
		}
		if p != person {
			if err := load(p); err != nil {
				return err
			}
			person = p
		}
		for _, s := range spans[kind] {
			if record.Period(period) >= s.from && record.Period(period) <= s.to {
				return nil
			}
		}
		emit(Finding{Key: key(seq), Person: p, Period: record.Period(period), Seq: seq, Detail: fmt.Sprintf("%s benefit for %d without %s eligibility then", kind, period, kind)})
		return nil
	})
}

func materials(ctx context.Context, c *Checker, emit func(Finding)) error {
	err := c.query(ctx, `SELECT dm.draft_id, dm.sha256, dm.name, m.sha256 FROM review_draft_materials dm
		LEFT JOIN review_materials m ON m.sha256 = dm.sha256 ORDER BY dm.draft_id, dm.sha256`, func(r store.Rows) error {
		var draft int64
		var sha, name string
		var stored *string
		if err := r.Scan(&draft, &sha, &name, &stored); err != nil {
			return err
		}
		what := fmt.Sprintf("draft %s: material %s (%s)", review.DraftID(draft), sha, name)
		return c.checkMaterial(ctx, key("draft", review.DraftID(draft), sha), what, sha, stored != nil, emit)
	})
	if err != nil {
		return err
	}
	// The confidentiality agreements of outside helpers are kept the same way (R11.2, R13).
	return c.query(ctx, `SELECT a.username, a.sha256, a.name, m.sha256 FROM auth_agreements a
		LEFT JOIN review_materials m ON m.sha256 = a.sha256 ORDER BY a.username, a.id`, func(r store.Rows) error {
		var user, sha, name string
		var stored *string
		if err := r.Scan(&user, &sha, &name, &stored); err != nil {
			return err
		}
		what := fmt.Sprintf("confidentiality agreement of user %s: %s (%s)", user, sha, name)
		return c.checkMaterial(ctx, key("agreement", user, sha), what, sha, stored != nil, emit)
	})
}

func (c *Checker) checkMaterial(ctx context.Context, k, what, sha string, stored bool, emit func(Finding)) error {
	if !stored {
		emit(Finding{Key: k, Detail: what + " is missing"})
		return nil
	}
	if _, err := c.readMaterial(ctx, sha); err != nil {
		if !errors.Is(err, review.ErrMaterialChanged) {
			return err
		}
		emit(Finding{Key: k, Detail: fmt.Sprintf("%s: %v", what, err)})
	}
	return nil
}

// journalProjections runs what sirec verify runs — signatures, leaf hashes, the tree and a replay of the whole
// journal into shadow projections — and reports the first disagreement it names.
func journalProjections(ctx context.Context, c *Checker, emit func(Finding)) error {
	_, err := store.Verify(ctx, c.st.Driver(), c.st.Keys().Verifier, store.DefaultRules(), func(done, total int64) {
		c.rows = done
		if c.progress != nil {
			c.progress(done)
		}
	})
	if errors.Is(err, store.ErrTampered) {
		emit(Finding{Key: err.Error(), Detail: err.Error()})
		return nil
	}
	return err
}

// readMaterial reads a material and checks its hash, through the same code the review service uses.
func (c *Checker) readMaterial(ctx context.Context, sha string) ([]byte, error) {
	return review.New(c.st).ReadMaterial(ctx, sha)
}
