package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"sirec/internal/journal"
	"sirec/internal/record"
)

// Rules computes what the projections derive (R6.4). A Rules value holds the rule sets adopted so far; the
// projections feed it every ruleset.adopted event in journal order, so a replay uses the same rules as the
// original append did.
type Rules interface {
	// Contribution computes one month's figures for a contribution in region.
	Contribution(region string, p record.Period, typ string, industryClass int, wage int64, status string, lateDays int) (ContributionFigures, error)
	// Adopt parses and adds a rule set; it returns the set's region, effective period and version.
	Adopt(body []byte) (region string, from record.Period, version string, err error)
	// Fresh returns a new Rules with only the built-in defaults, for a rebuild.
	Fresh() Rules
}

// ContributionFigures are the derived values of one contribution month, in fen.
type ContributionFigures struct {
	Base, Employer, Individual, AccountCredit, LateFee int64
}

// supersedable maps the event types that a later event may correct or void to the projection table holding
// the rows they produced (keyed by seq).
var supersedable = map[string]string{
	record.TypeEnrolmentStarted:   "enrolments",
	record.TypeContributionPosted: "contributions",
	record.TypeSubsidyGranted:     "subsidies",
	record.TypeEligibilityGranted: "eligibilities",
	record.TypeBenefitPaid:        "benefit_payments",
	record.TypeDeemedRecorded:     "deemed_periods",
	record.TypeAccountTransferred: "account_transfers",
	record.TypeOtherRecorded:      "other_records",
}

// projector applies events to the projection tables in one transaction. Inserts are buffered per table and
// written in bulk; any update or delete flushes them first, so the order of effects is the journal's.
type projector struct {
	tx       Tx
	rules    Rules
	pending  map[string]*pendingRows
	order    []string
	classes  map[string]int // employer → work-injury industry class, read through
	maxBatch int
}

type pendingRows struct {
	cols []string
	rows [][]any
}

func newProjector(tx Tx, rules Rules) *projector {
	return &projector{tx: tx, rules: rules, pending: map[string]*pendingRows{}, classes: map[string]int{}, maxBatch: 10000}
}

func (s *Store) newProjector(tx Tx) *projector { return newProjector(tx, s.rules) }

func (p *projector) insert(ctx context.Context, table string, cols []string, row ...any) error {
	return p.add(ctx, table, cols, row)
}

// add buffers a row for table; the projector keeps the slice.
func (p *projector) add(ctx context.Context, table string, cols []string, row []any) error {
	pr := p.pending[table]
	if pr == nil {
		pr = &pendingRows{cols: cols}
		p.pending[table] = pr
		p.order = append(p.order, table)
	}
	pr.rows = append(pr.rows, row)
	if len(pr.rows) >= p.maxBatch {
		return p.flush(ctx)
	}
	return nil
}

func (p *projector) flush(ctx context.Context) error {
	for _, t := range p.order {
		pr := p.pending[t]
		if len(pr.rows) == 0 {
			continue
		}
		if err := p.tx.CopyRows(ctx, t, pr.cols, pr.rows); err != nil {
			return err
		}
		pr.rows = pr.rows[:0]
	}
	return nil
}

func (p *projector) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := p.flush(ctx); err != nil {
		return 0, err
	}
	return p.tx.Exec(ctx, q, args...)
}

var (
	colsPersons       = []string{"person", "id_index", "id_sealed", "name", "sex", "birth", "phone", "region", "registered_on", "status", "death_date", "seq", "updated_seq"}
	colsEmployers     = []string{"credit_code", "name", "region", "industry_class", "registered_on", "status", "seq", "updated_seq"}
	colsEnrolments    = []string{"seq", "person", "type", "employer", "start_date", "end_date", "stop_seq"}
	colsContributions = []string{"seq", "person", "region", "type", "period", "employer", "status", "wage", "base", "employer_amount", "individual_amount", "account_credit", "late_days", "late_fee"}
	colsSubsidies     = []string{"seq", "person", "type", "kind", "period", "amount"}
	colsEligibilities = []string{"seq", "person", "kind", "from_date", "to_date", "decision"}
	colsBenefits      = []string{"seq", "person", "kind", "period", "amount"}
	colsDeemed        = []string{"seq", "person", "from_period", "to_period", "basis"}
	colsTransfers     = []string{"seq", "person", "direction", "other_region", "period", "amount"}
	colsOthers        = []string{"seq", "person", "kind", "attributes"}
	colsCorrections   = []string{"seq", "superseded_seq", "type"}
	colsRuleSets      = []string{"seq", "region", "effective_from", "version", "body"}
)

// decode returns the event's payload: the fact it was just built from when the caller has it (an append), or
// the data decoded (a replay). Both give the same values: verify replays every append and compares.
func decode[T any](e *journal.Event, fact record.Fact) (*T, error) {
	if f, ok := any(fact).(*T); ok {
		return f, nil
	}
	v := new(T)
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("event %d (%s): data does not decode: %w", e.Seq, e.Type, err)
	}
	return v, nil
}

// apply applies one event; fact is the fact it was built from, or nil on replay.
func (p *projector) apply(ctx context.Context, e *journal.Event, fact record.Fact) error {
	if old, ok := e.SupersededSeq(); ok {
		if err := p.supersede(ctx, e, old); err != nil {
			return err
		}
		if e.Type == record.TypeEventVoided {
			return nil
		}
	} else if e.Type == record.TypeEventVoided {
		return fmt.Errorf("event %d: a void must name the event it withdraws", e.Seq)
	}
	switch e.Type {
	case record.TypePersonRegistered:
		f, err := decode[record.PersonRegistered](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "persons", colsPersons, e.Person, f.IDIndex, f.IDSealed, f.Name, f.Sex, f.Birth, f.Phone, f.Region, f.RegisteredOn, "active", "", e.Seq, e.Seq)
	case record.TypePersonChanged:
		f, err := decode[record.PersonChanged](e, fact)
		if err != nil {
			return err
		}
		q := "UPDATE persons SET updated_seq = $1"
		args := []any{e.Seq}
		set := func(col string, v any) {
			args = append(args, v)
			q += fmt.Sprintf(", %s = $%d", col, len(args))
		}
		if f.IDIndex != "" {
			set("id_index", f.IDIndex)
			set("id_sealed", f.IDSealed)
			if f.Birth != "" {
				set("birth", f.Birth)
				set("sex", f.Sex)
			}
		}
		if f.Name != "" {
			set("name", f.Name)
		}
		if f.Phone != "" {
			set("phone", f.Phone)
		}
		if f.Status != "" {
			set("status", f.Status)
			set("death_date", f.DeathDate)
		}
		args = append(args, e.Person)
		q += fmt.Sprintf(" WHERE person = $%d", len(args))
		if err := p.mustChange(ctx, e, q, args...); err != nil {
			return err
		}
		return p.insert(ctx, "person_changes", colsPersonChanges, personChangeRow(e, f)...)
	case record.TypeEmployerRegistered:
		f, err := decode[record.EmployerRegistered](e, fact)
		if err != nil {
			return err
		}
		p.classes[e.Employer] = f.IndustryClass
		return p.insert(ctx, "employers", colsEmployers, e.Employer, f.Name, f.Region, f.IndustryClass, f.RegisteredOn, "active", e.Seq, e.Seq)
	case record.TypeEmployerChanged:
		f, err := decode[record.EmployerChanged](e, fact)
		if err != nil {
			return err
		}
		q := "UPDATE employers SET updated_seq = $1"
		args := []any{e.Seq}
		if f.Name != "" {
			args = append(args, f.Name)
			q += fmt.Sprintf(", name = $%d", len(args))
		}
		if f.Status != "" {
			args = append(args, f.Status)
			q += fmt.Sprintf(", status = $%d", len(args))
		}
		if f.IndustryClass != 0 {
			args = append(args, f.IndustryClass)
			q += fmt.Sprintf(", industry_class = $%d", len(args))
			p.classes[e.Employer] = f.IndustryClass
		}
		args = append(args, e.Employer)
		q += fmt.Sprintf(" WHERE credit_code = $%d", len(args))
		return p.mustChange(ctx, e, q, args...)
	case record.TypeEnrolmentStarted:
		f, err := decode[record.EnrolmentStarted](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "enrolments", colsEnrolments, e.Seq, e.Person, f.Type, f.Employer, f.From, "", int64(0))
	case record.TypeEnrolmentStopped:
		f, err := decode[record.EnrolmentStopped](e, fact)
		if err != nil {
			return err
		}
		return p.mustChange(ctx, e, "UPDATE enrolments SET end_date = $1, stop_seq = $2 WHERE person = $3 AND type = $4 AND employer = $5 AND end_date = ''",
			f.To, e.Seq, e.Person, f.Type, f.Employer)
	case record.TypeContributionPosted:
		f, err := decode[record.ContributionPosted](e, fact)
		if err != nil {
			return err
		}
		class, err := p.industryClass(ctx, f.Employer)
		if err != nil {
			return err
		}
		fig, err := p.rules.Contribution(e.Region, f.Period, f.Type, class, f.Wage, f.Status, f.LateDays)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		return p.insert(ctx, "contributions", colsContributions, e.Seq, e.Person, e.Region, f.Type, int64(f.Period), f.Employer, f.Status, f.Wage,
			fig.Base, fig.Employer, fig.Individual, fig.AccountCredit, int64(f.LateDays), fig.LateFee)
	case record.TypeSubsidyGranted:
		f, err := decode[record.SubsidyGranted](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "subsidies", colsSubsidies, e.Seq, e.Person, f.Type, f.Kind, int(f.Period), f.Amount)
	case record.TypeEligibilityGranted:
		f, err := decode[record.EligibilityGranted](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "eligibilities", colsEligibilities, e.Seq, e.Person, f.Kind, f.From, f.To, f.Decision)
	case record.TypeBenefitPaid:
		f, err := decode[record.BenefitPaid](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "benefit_payments", colsBenefits, e.Seq, e.Person, f.Kind, int(f.Period), f.Amount)
	case record.TypeDeemedRecorded:
		f, err := decode[record.DeemedRecorded](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "deemed_periods", colsDeemed, e.Seq, e.Person, int(f.From), int(f.To), f.Basis)
	case record.TypeAccountTransferred:
		f, err := decode[record.AccountTransferred](e, fact)
		if err != nil {
			return err
		}
		return p.insert(ctx, "account_transfers", colsTransfers, e.Seq, e.Person, f.Direction, f.OtherRegion, int(f.Period), f.Amount)
	case record.TypeOtherRecorded:
		f, err := decode[record.OtherRecorded](e, fact)
		if err != nil {
			return err
		}
		attrs, _ := json.Marshal(f.Attributes)
		return p.insert(ctx, "other_records", colsOthers, e.Seq, e.Person, f.Kind, string(attrs))
	case record.TypeMaintenanceLogged:
		return p.applyMaintenance(ctx, e, fact)
	case record.TypeTransferredOut, record.TypeTransferredIn:
		return p.applyTransfer(ctx, e, fact)
	case record.TypeRuleSetAdopted:
		f, err := decode[record.RuleSetAdopted](e, fact)
		if err != nil {
			return err
		}
		region, from, version, err := p.rules.Adopt([]byte(f.Body))
		if err != nil {
			return record.WithField("body", err)
		}
		if err := p.insert(ctx, "rule_sets", colsRuleSets, e.Seq, region, int(from), version, f.Body); err != nil {
			return err
		}
		return p.recompute(ctx, from)
	}
	return fmt.Errorf("event %d: unknown event type %q", e.Seq, e.Type)
}

// rowMaker computes projection rows ahead of the projector, out of order and on several goroutines, for the
// events whose rows depend only on the event and on state that the batch being appended does not change.
type rowMaker struct {
	rules   Rules
	classes map[string]int // employer → industry class, read only
}

// rowMaker returns a rowMaker for a batch about to be appended, or nil when none can be used: the rules must
// be the rules engine's (safe for concurrent use) and the batch must adopt no rule set and register or change
// no employer — the events that change the figures of the contributions after them. The industry classes of
// the employers the batch's contributions name are read now.
func (p *projector) rowMaker(ctx context.Context, events []journal.Event, facts []record.Fact) (*rowMaker, error) {
	if _, ok := p.rules.(*bookRules); !ok || facts == nil {
		return nil, nil
	}
	employers := map[string]bool{}
	for i := range events {
		switch events[i].Type {
		case record.TypeRuleSetAdopted, record.TypeEmployerRegistered, record.TypeEmployerChanged:
			return nil, nil
		case record.TypeContributionPosted:
			if f, ok := facts[i].(*record.ContributionPosted); ok && f.Employer != "" {
				employers[f.Employer] = true
			}
		}
	}
	m := &rowMaker{rules: p.rules, classes: map[string]int{}}
	for e := range employers {
		c, err := p.industryClass(ctx, e)
		if err != nil {
			continue // the event is left to the projector, which reports it
		}
		m.classes[e] = c
	}
	return m, nil
}

// contribution writes into row (len(colsContributions) values) the contributions row of a contribution.posted
// event made from fact f and reports true, or reports false when the projector must make the row in journal
// order (a correction, an unknown employer, figures the rules refuse). bx keeps boxed strings for reuse.
func (m *rowMaker) contribution(row []any, bx *boxes, e *journal.Event, f record.Fact) bool {
	c, ok := f.(*record.ContributionPosted)
	if !ok || e.Supersedes != 0 || e.Type != record.TypeContributionPosted {
		return false
	}
	class := 0
	if c.Employer != "" {
		if class, ok = m.classes[c.Employer]; !ok {
			return false
		}
	}
	fig, err := m.rules.Contribution(e.Region, c.Period, c.Type, class, c.Wage, c.Status, c.LateDays)
	if err != nil {
		return false
	}
	row[0], row[1], row[2], row[3], row[4] = e.Seq, e.Person, bx.box(0, e.Region), bx.box(1, c.Type), int64(c.Period)
	row[5], row[6], row[7], row[8], row[9] = bx.box(2, c.Employer), bx.box(3, c.Status), c.Wage, fig.Base, fig.Employer
	row[10], row[11], row[12], row[13] = fig.Individual, fig.AccountCredit, int64(c.LateDays), fig.LateFee
	return true
}

// boxes remembers the last string put in an interface in each of a few slots, so that a value repeated row
// after row (a region, a type, an employer) is boxed once rather than once per row.
type boxes [4]struct {
	s string
	v any
}

func (b *boxes) box(slot int, s string) any {
	x := &b[slot]
	if x.v == nil || x.s != s {
		x.s, x.v = s, s
	}
	return x.v
}

// mustChange runs an update that has to find its row: a change of something never registered is refused.
func (p *projector) mustChange(ctx context.Context, e *journal.Event, q string, args ...any) error {
	n, err := p.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return record.Errorf(record.ENotFound, "event %d (%s): nothing registered to change", e.Seq, e.Type)
	}
	return nil
}

func (p *projector) industryClass(ctx context.Context, employer string) (int, error) {
	if employer == "" {
		return 0, nil
	}
	if c, ok := p.classes[employer]; ok {
		return c, nil
	}
	if err := p.flush(ctx); err != nil {
		return 0, err
	}
	var c int
	err := p.tx.QueryRow(ctx, "SELECT industry_class FROM employers WHERE credit_code = $1", employer).Scan(&c)
	if errors.Is(err, ErrNoRows) {
		return 0, record.Invalid("employer", "employer_registered", "employer %s is not registered", employer)
	}
	if err != nil {
		return 0, err
	}
	p.classes[employer] = c
	return c, nil
}

// supersede removes what the superseded event produced; the superseding event then adds its own rows.
func (p *projector) supersede(ctx context.Context, e *journal.Event, old int64) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	var body []byte
	err := p.tx.QueryRow(ctx, "SELECT body FROM journal_events WHERE seq = $1", old).Scan(&body)
	if errors.Is(err, ErrNoRows) || (err == nil && old >= e.Seq) {
		return record.Invalid("supersedes", "supersede_earlier", "event %d does not exist before event %d", old, e.Seq)
	}
	if err != nil {
		return err
	}
	oldEvent, err := journal.Decode(body)
	if err != nil {
		return fmt.Errorf("event %d: %w", old, err)
	}
	oldType := oldEvent.Type
	table, ok := supersedable[oldType]
	if !ok {
		return record.Invalid("supersedes", "supersedable_type", "a %s event cannot be superseded; record a change instead", oldType)
	}
	if e.Type != record.TypeEventVoided && e.Type != oldType {
		return record.Invalid("supersedes", "same_type", "a %s event cannot supersede a %s event", e.Type, oldType)
	}
	if oldEvent.Person == "" || oldEvent.Person != e.Person && e.Type != record.TypeEventVoided {
		return record.Invalid("supersedes", "same_person", "a correction must be about the same person as the event it corrects")
	}
	n, err := p.tx.Exec(ctx, "DELETE FROM "+table+" WHERE seq = $1", old)
	if err != nil {
		return err
	}
	if n == 0 {
		return record.Invalid("supersedes", "not_superseded_twice", "event %d was already superseded", old)
	}
	return p.insert(ctx, "corrections", colsCorrections, e.Seq, old, e.Type)
}

// recompute applies the rules now in force to every contribution from period from on: a rule set takes effect
// for the periods it names, whenever it is adopted, so that the stored figures are always what the rules give
// for each contribution's period (R6.4) — on replay too. Rows are read in chunks by seq; only changed rows are
// written.
func (p *projector) recompute(ctx context.Context, from record.Period) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	type row struct {
		seq, wage                    int64
		region, typ, employer, state string
		period                       record.Period
		lateDays                     int
		old                          ContributionFigures
	}
	last := int64(-1)
	for {
		rows, err := p.tx.Query(ctx, `SELECT seq, region, type, period, employer, status, wage, late_days,
			base, employer_amount, individual_amount, account_credit, late_fee
			FROM contributions WHERE period >= $1 AND seq > $2 ORDER BY seq LIMIT 10000`, int(from), last)
		if err != nil {
			return err
		}
		var chunk []row
		for rows.Next() {
			var r row
			var period int64
			if err := rows.Scan(&r.seq, &r.region, &r.typ, &period, &r.employer, &r.state, &r.wage, &r.lateDays,
				&r.old.Base, &r.old.Employer, &r.old.Individual, &r.old.AccountCredit, &r.old.LateFee); err != nil {
				rows.Close()
				return err
			}
			r.period = record.Period(period)
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range chunk {
			class, err := p.industryClass(ctx, r.employer)
			if err != nil {
				return err
			}
			fig, err := p.rules.Contribution(r.region, r.period, r.typ, class, r.wage, r.state, r.lateDays)
			if err != nil {
				return fmt.Errorf("contribution %d under the new rules: %w", r.seq, err)
			}
			if fig == r.old {
				continue
			}
			if _, err := p.tx.Exec(ctx, `UPDATE contributions SET base = $1, employer_amount = $2, individual_amount = $3,
				account_credit = $4, late_fee = $5 WHERE seq = $6`, fig.Base, fig.Employer, fig.Individual, fig.AccountCredit, fig.LateFee, r.seq); err != nil {
				return err
			}
		}
		if len(chunk) < 10000 {
			return nil
		}
		last = chunk[len(chunk)-1].seq
	}
}
