package store

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"time"

	"sirec/internal/record"
	"sirec/internal/rules"
)

// PersonView is one person's whole record as the projections hold it, for display and the JSON API.
// Money is in fen and marshals as yuan strings; the ID number is masked (I7).
type PersonView struct {
	Person        string             `json:"person"`
	IDMasked      string             `json:"id_number_masked"`
	Name          string             `json:"name"`
	Sex           string             `json:"sex"`
	Birth         string             `json:"birth"`
	Region        string             `json:"region"`
	RegisteredOn  string             `json:"registered_on"`
	Status        string             `json:"status"`
	DeathDate     string             `json:"death_date,omitempty"`
	Enrolments    []EnrolmentView    `json:"enrolments"`
	Contributions []ContributionView `json:"contributions"`
	Subsidies     []SubsidyView      `json:"subsidies"`
	Eligibilities []EligibilityView  `json:"eligibilities"`
	Benefits      []BenefitView      `json:"benefits"`
	Deemed        []DeemedView       `json:"deemed_periods"`
	Transfers     []TransferView     `json:"account_transfers"`
	Others        []OtherView        `json:"others"`
	// Changes are the registration's changes, oldest first (登记信息变更记录).
	Changes []PersonChangeView `json:"registration_changes"`
	// Transfers of the record between regions (R10), and the contribution months transfers in brought.
	RecordTransfers   []RecordTransferView   `json:"record_transfers"`
	TransferredMonths []TransferredMonthView `json:"transferred_months"`

	// Derived by the rules engine from the rows above (R6.4), never stored as typed-in values.
	Derived *DerivedView `json:"derived"`
}

// DerivedView holds what the rules compute from a person's record: the personal account year by year,
// contribution months per insurance type, the average contribution index, and the pension estimate
// (养老金测算) at the statutory retirement age with the record as it stands.
type DerivedView struct {
	AccountYears       []rules.AccountYear  `json:"account_years"`
	AccountBalance     record.Fen           `json:"account_balance"`
	ContributionMonths []MonthsView         `json:"contribution_months"`
	ContributionIndex  string               `json:"contribution_index,omitempty"`
	Retirement         *RetirementView      `json:"retirement,omitempty"`
	PensionEstimate    *PensionEstimateView `json:"pension_estimate,omitempty"`
}

// MonthsView is a person's contribution months of one insurance type.
type MonthsView struct {
	Type   string `json:"type"`
	Paid   int    `json:"paid"`
	Deemed int    `json:"deemed"`
	Total  int    `json:"total"`
	Years  string `json:"years"` // total ÷ 12, two decimals, for display only
}

// RetirementView is when the person reaches the statutory retirement age.
type RetirementView struct {
	Retire                record.Period `json:"retire"`
	AgeYears              int           `json:"age_years"`
	AgeMonths             int           `json:"age_months"`
	MinContributionMonths int           `json:"min_contribution_months"`
	Eligible              bool          `json:"eligible"`
}

// PensionEstimateView is the monthly pension the record as it stands would give at retirement.
type PensionEstimateView struct {
	BenefitWage  record.Fen `json:"benefit_wage"`
	PayoutMonths int        `json:"payout_months"`
	Basic        record.Fen `json:"basic_pension"`
	Account      record.Fen `json:"account_pension"`
	Transitional record.Fen `json:"transitional_pension"`
	Total        record.Fen `json:"total"`
}

type EnrolmentView struct {
	Seq      int64  `json:"seq"`
	Type     string `json:"type"`
	Employer string `json:"employer,omitempty"`
	From     string `json:"from"`
	To       string `json:"to,omitempty"`
}

type ContributionView struct {
	Seq           int64         `json:"seq"`
	Type          string        `json:"type"`
	Period        record.Period `json:"period"`
	Employer      string        `json:"employer,omitempty"`
	Status        string        `json:"status"`
	Wage          record.Fen    `json:"wage"`
	Base          record.Fen    `json:"base"`
	EmployerAmt   record.Fen    `json:"employer_amount"`
	IndividualAmt record.Fen    `json:"individual_amount"`
	AccountCredit record.Fen    `json:"account_credit"`
	LateDays      int           `json:"late_days"`
	LateFee       record.Fen    `json:"late_fee"`
}

type SubsidyView struct {
	Seq    int64         `json:"seq"`
	Type   string        `json:"type"`
	Kind   string        `json:"kind"`
	Period record.Period `json:"period"`
	Amount record.Fen    `json:"amount"`
}

type EligibilityView struct {
	Seq      int64  `json:"seq"`
	Kind     string `json:"kind"`
	From     string `json:"from"`
	To       string `json:"to,omitempty"`
	Decision string `json:"decision"`
}

type BenefitView struct {
	Seq    int64         `json:"seq"`
	Kind   string        `json:"kind"`
	Period record.Period `json:"period"`
	Amount record.Fen    `json:"amount"`
}

type DeemedView struct {
	Seq   int64         `json:"seq"`
	From  record.Period `json:"from"`
	To    record.Period `json:"to"`
	Basis string        `json:"basis"`
}

type TransferView struct {
	Seq         int64         `json:"seq"`
	Direction   string        `json:"direction"`
	OtherRegion string        `json:"other_region"`
	Period      record.Period `json:"period"`
	Amount      record.Fen    `json:"amount"`
}

type OtherView struct {
	Seq        int64             `json:"seq"`
	Kind       string            `json:"kind"`
	Attributes map[string]string `json:"attributes"`
}

// FindPerson returns the person key of a citizen ID number, found by its keyed hash (I7).
func (s *Store) FindPerson(ctx context.Context, idNumber string) (string, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	var p string
	err = tx.QueryRow(ctx, "SELECT person FROM persons WHERE id_index = $1", s.keys.IndexID(idNumber)).Scan(&p)
	if errors.Is(err, ErrNoRows) {
		return "", record.Errorf(record.ENotFound, "no registered person has ID number %s", record.MaskID(idNumber))
	}
	return p, err
}

// PersonKeyOf returns the key of the person with a citizen ID number: the registered person's, or — for a number
// nobody is registered under — the key a registration of it would be given now (what a view of a draft that
// registers the person is logged under, Q7).
func (s *Store) PersonKeyOf(ctx context.Context, idNumber string) (key string, registered bool, err error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return "", false, err
	}
	defer tx.Rollback(ctx)
	idx := s.keys.IndexID(idNumber)
	err = tx.QueryRow(ctx, "SELECT person FROM persons WHERE id_index = $1", idx).Scan(&key)
	if err == nil || !errors.Is(err, ErrNoRows) {
		return key, err == nil, err
	}
	taken := map[string]string{}
	if err := s.lookupPersons(ctx, tx, "person", []string{idx}, taken); err != nil {
		return "", false, err
	}
	key, err = s.personKey(ctx, tx, idNumber, idx, taken)
	return key, false, err
}

// PersonRecord reads one person's whole record in one consistent snapshot.
func (s *Store) PersonRecord(ctx context.Context, person string) (*PersonView, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	return s.PersonRecordIn(ctx, tx, person)
}

// PersonRecordIn reads one person's whole record in tx: a write transaction sees what it has appended so far
// (a transfer out checks its amounts against the record with its own events in place).
func (s *Store) PersonRecordIn(ctx context.Context, tx Tx, person string) (*PersonView, error) {
	// Empty lists, not null, in JSON: a client can always iterate.
	v := &PersonView{Person: person, Enrolments: []EnrolmentView{}, Contributions: []ContributionView{}, Subsidies: []SubsidyView{},
		Eligibilities: []EligibilityView{}, Benefits: []BenefitView{}, Deemed: []DeemedView{}, Transfers: []TransferView{}, Others: []OtherView{},
		RecordTransfers: []RecordTransferView{}, TransferredMonths: []TransferredMonthView{}, Changes: []PersonChangeView{}}
	classes := map[string]int{}
	type q struct {
		sql  string
		scan func(Rows) error
	}
	var sealed []byte
	found := false
	queries := []q{
		{"SELECT id_sealed, name, sex, birth, region, registered_on, status, death_date FROM persons WHERE person = $1", func(r Rows) error {
			found = true
			return r.Scan(&sealed, &v.Name, &v.Sex, &v.Birth, &v.Region, &v.RegisteredOn, &v.Status, &v.DeathDate)
		}},
		{"SELECT seq, type, employer, start_date, end_date FROM enrolments WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var e EnrolmentView
			err := r.Scan(&e.Seq, &e.Type, &e.Employer, &e.From, &e.To)
			v.Enrolments = append(v.Enrolments, e)
			return err
		}},
		// The employer's industry class (for the rules' work-injury rate) comes with each row: one pass over the
		// person's rows, not a second query joining them to the employers.
		{`SELECT c.seq, c.type, c.period, c.employer, c.status, c.wage, c.base, c.employer_amount, c.individual_amount, c.account_credit, c.late_days, c.late_fee,
				COALESCE(e.industry_class, 0)
			FROM contributions c LEFT JOIN employers e ON e.credit_code = c.employer WHERE c.person = $1 ORDER BY c.type, c.period, c.seq`, func(r Rows) error {
			var c ContributionView
			var period int64
			var class int
			err := r.Scan(&c.Seq, &c.Type, &period, &c.Employer, &c.Status, &c.Wage, &c.Base, &c.EmployerAmt, &c.IndividualAmt, &c.AccountCredit, &c.LateDays, &c.LateFee, &class)
			c.Period = record.Period(period)
			classes[c.Employer] = class
			v.Contributions = append(v.Contributions, c)
			return err
		}},
		{"SELECT seq, type, kind, period, amount FROM subsidies WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var x SubsidyView
			var period int64
			err := r.Scan(&x.Seq, &x.Type, &x.Kind, &period, &x.Amount)
			x.Period = record.Period(period)
			v.Subsidies = append(v.Subsidies, x)
			return err
		}},
		{"SELECT seq, kind, from_date, to_date, decision FROM eligibilities WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var x EligibilityView
			err := r.Scan(&x.Seq, &x.Kind, &x.From, &x.To, &x.Decision)
			v.Eligibilities = append(v.Eligibilities, x)
			return err
		}},
		{"SELECT seq, kind, period, amount FROM benefit_payments WHERE person = $1 ORDER BY period, seq", func(r Rows) error {
			var x BenefitView
			var period int64
			err := r.Scan(&x.Seq, &x.Kind, &period, &x.Amount)
			x.Period = record.Period(period)
			v.Benefits = append(v.Benefits, x)
			return err
		}},
		{"SELECT seq, from_period, to_period, basis FROM deemed_periods WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var x DeemedView
			var from, to int64
			err := r.Scan(&x.Seq, &from, &to, &x.Basis)
			x.From, x.To = record.Period(from), record.Period(to)
			v.Deemed = append(v.Deemed, x)
			return err
		}},
		{"SELECT seq, direction, other_region, period, amount FROM account_transfers WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var x TransferView
			var period int64
			err := r.Scan(&x.Seq, &x.Direction, &x.OtherRegion, &period, &x.Amount)
			x.Period = record.Period(period)
			v.Transfers = append(v.Transfers, x)
			return err
		}},
		{"SELECT seq, kind, attributes FROM other_records WHERE person = $1 ORDER BY seq", func(r Rows) error {
			var x OtherView
			var attrs string
			if err := r.Scan(&x.Seq, &x.Kind, &attrs); err != nil {
				return err
			}
			v.Others = append(v.Others, x)
			return json.Unmarshal([]byte(attrs), &v.Others[len(v.Others)-1].Attributes)
		}},
	}
	// Every query goes in one batch: one round trip on PostgreSQL instead of one per table.
	batch := make([]BatchQuery, 0, len(queries)+3)
	for _, qq := range queries {
		batch = append(batch, BatchQuery{SQL: qq.sql, Args: []any{person}, Row: qq.scan})
	}
	batch = append(batch, transferQueries(v)...)
	corrected := map[int][]byte{}
	batch = append(batch, changeQueries(v, corrected)...)
	if err := QueryBatch(ctx, tx, batch); err != nil {
		return nil, err
	}
	if !found {
		return nil, record.Errorf(record.ENotFound, "person %s is not registered", person)
	}
	id, err := s.keys.OpenID(sealed)
	if err != nil {
		return nil, err
	}
	v.IDMasked = record.MaskID(id)
	for i, b := range corrected {
		id, err := s.keys.OpenID(b)
		if err != nil {
			return nil, err
		}
		v.Changes[i].IDMasked = record.MaskID(id)
	}
	d, err := s.derive(v, classes)
	if err != nil {
		return nil, err
	}
	v.Derived = d
	return v, nil
}

// derive applies the rules engine to a person's record.
func (s *Store) derive(v *PersonView, classes map[string]int) (*DerivedView, error) {
	book := s.Book()
	var in rules.PersonFacts
	for _, c := range v.Contributions {
		in.Contributions = append(in.Contributions, rules.Contribution{Type: c.Type, Period: c.Period, Wage: c.Wage, Region: s.region,
			Status: c.Status, IndustryClass: classes[c.Employer], LateDays: c.LateDays})
	}
	for _, d := range v.Deemed {
		in.Deemed = append(in.Deemed, rules.Span{Type: record.Pension, From: d.From, To: d.To})
	}
	for _, t := range v.Transfers {
		in.Transfers = append(in.Transfers, rules.Transfer{Period: t.Period, Amount: t.Amount, Out: t.Direction == "out"})
	}
	in.Transferred = transferredFacts(v)
	pd, err := rules.DerivePerson(book, s.region, in, 0)
	if err != nil {
		return nil, err
	}
	out := &DerivedView{AccountYears: pd.Years, AccountBalance: pd.Balance()}
	for _, t := range record.InsuranceTypes {
		m := MonthsView{Type: t, Paid: pd.Months.Paid.Of(t), Deemed: pd.Months.Deemed.Of(t), Total: pd.Months.Total(t)}
		if m.Total == 0 {
			continue
		}
		m.Years = rules.FormatRat(big.NewRat(int64(m.Total), 12), 2)
		out.ContributionMonths = append(out.ContributionMonths, m)
	}
	if pd.Index != nil {
		out.ContributionIndex = rules.FormatRat(pd.Index, 4)
	}
	birth, err := time.Parse("2006-01-02", v.Birth)
	if err != nil {
		return out, nil
	}
	bp := record.MakePeriod(birth.Year(), int(birth.Month()))
	category := "male"
	if v.Sex == "female" {
		category = "female_55"
	}
	set := book.At(s.region, bp.AddMonths(60*12))
	ret, err := set.RetirementFor(bp, category)
	if err != nil {
		return nil, err
	}
	months := pd.Months.Total(record.Pension)
	out.Retirement = &RetirementView{Retire: ret.Retire, AgeYears: ret.AgeYears, AgeMonths: ret.AgeMonths,
		MinContributionMonths: ret.MinContributionMonths, Eligible: months >= ret.MinContributionMonths}
	if pd.Index == nil {
		return out, nil
	}
	set = book.At(s.region, ret.Retire)
	c, ok := set.BenefitWage(ret.Retire.Year() - 1)
	if !ok {
		c = set.AverageMonthlyWage()
	}
	p, err := set.Pension(rules.PensionInput{BenefitWage: c, Index: pd.Index, Months: pd.Months.Paid.Of(record.Pension),
		DeemedMonths: pd.Months.Deemed.Of(record.Pension), Balance: pd.Balance(), Age: ret.AgeYears, AgeMonths: ret.AgeMonths})
	if err != nil {
		// An age outside the payout table (or similar) leaves the estimate out rather than failing the record.
		return out, nil
	}
	out.PensionEstimate = &PensionEstimateView{BenefitWage: c, PayoutMonths: p.PayoutMonths, Basic: p.Basic, Account: p.Account, Transitional: p.Transitional, Total: p.Total}
	return out, nil
}

// Counts returns the number of events and of rows in each projection, for status pages and tests.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	out := map[string]int64{}
	for _, t := range append([]string{"journal_events"}, projectionNames()...) {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+t).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

func projectionNames() []string {
	var n []string
	for _, t := range ProjectionTables {
		n = append(n, t.Name)
	}
	return n
}

// PersonKeys lists person keys in key order, for paging: offset, limit.
func (s *Store) PersonKeys(ctx context.Context, offset, limit int) ([]string, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT person FROM persons ORDER BY person LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// MissingPersons returns the indexes of the ID numbers that no registered person has.
func (s *Store) MissingPersons(ctx context.Context, ids []string) ([]int, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	idx := make([]string, len(ids))
	for i, id := range ids {
		idx[i] = s.keys.IndexID(id)
	}
	known := map[string]string{}
	if err := s.lookupPersons(ctx, tx, "id_index", idx, known); err != nil {
		return nil, err
	}
	var missing []int
	for i, x := range idx {
		if _, ok := known[x]; !ok {
			missing = append(missing, i)
		}
	}
	return missing, nil
}
