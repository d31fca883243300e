// Package statement makes the yearly personal rights statement (权益记录单, Q5): for each insured person, the
// year's contributions by insurance type and month, subsidies and benefits received, the personal account's
// movements with interest and its year-end balance, and contribution years to the end of the year — all as the
// rules compute them from the record (R6.4). Statements are issued for every person of a year by one job (Run),
// kept as issued (their data, so that a statement is shown and reprinted exactly as it was sent), printed as PDF
// with correct Chinese text, and shown to the person in the self-service portal.
package statement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"sirec/internal/pdf"
	"sirec/internal/record"
	"sirec/internal/rules"
	"sirec/internal/store"
)

// Format is the version of the statement data layout.
const Format = 1

// Statement is one person's statement of one year.
type Statement struct {
	Format         int                     `json:"format"`
	Year           int                     `json:"year"`
	Person         string                  `json:"person"`
	Name           string                  `json:"name"`
	IDMasked       string                  `json:"id_number_masked"`
	Sex            string                  `json:"sex"`
	Birth          string                  `json:"birth"`
	Region         string                  `json:"region"`
	RegisteredOn   string                  `json:"registered_on"`
	Status         string                  `json:"status"`
	IssuedAt       time.Time               `json:"issued_at"`
	Checkpoint     uint64                  `json:"checkpoint_size"` // the record as it stood with the journal at this size
	Enrolments     []store.EnrolmentView   `json:"enrolments"`      // in force at some time of the year
	Contributions  []TypeYear              `json:"contributions"`   // the year's months, per insurance type
	Subsidies      []store.SubsidyView     `json:"subsidies"`
	SubsidyTotal   record.Fen              `json:"subsidy_total"`
	Benefits       []store.BenefitView     `json:"benefits"`
	BenefitTotal   record.Fen              `json:"benefit_total"`
	Account        *AccountYear            `json:"account,omitempty"`         // the pension account's year; nil when it has none
	AccountCredits []rules.MonthCredit     `json:"account_credits,omitempty"` // the year's credits by month
	Years          []store.MonthsView      `json:"contribution_years"`        // to the end of the year
	Retirement     *store.RetirementView   `json:"retirement,omitempty"`
	Transfers      []store.TransferView    `json:"account_transfers"`
	Eligibilities  []store.EligibilityView `json:"eligibilities"`
}

// AccountYear is the personal account's year, as printed: the crediting rate as the rules write it.
type AccountYear struct {
	Year         int        `json:"year"`
	Rate         string     `json:"rate"`
	Provisional  bool       `json:"provisional"`
	Opening      record.Fen `json:"opening"`
	Credits      record.Fen `json:"credits"`
	TransfersIn  record.Fen `json:"transfers_in"`
	TransfersOut record.Fen `json:"transfers_out"`
	Interest     record.Fen `json:"interest"`
	Closing      record.Fen `json:"closing"`
}

// TypeYear is one insurance type's contributions of the year, month by month, with totals.
type TypeYear struct {
	Type       string                   `json:"type"`
	Months     []store.ContributionView `json:"months"`
	Paid       int                      `json:"months_paid"`
	Arrears    int                      `json:"months_arrears"`
	Base       record.Fen               `json:"base_total"`
	Employer   record.Fen               `json:"employer_total"`
	Individual record.Fen               `json:"individual_total"`
	Credit     record.Fen               `json:"account_credit_total"`
	LateFee    record.Fen               `json:"late_fee_total"`
}

// Build makes the statement of year from a person's record. Only what happened up to the end of the year counts
// towards the account and the contribution years; the account is carried with interest to the end of the year
// even when nothing was credited in it.
func Build(book *rules.Book, region string, v *store.PersonView, year int, issued time.Time, checkpoint uint64) (*Statement, error) {
	first, last := record.MakePeriod(year, 1), record.MakePeriod(year, 12)
	yearStart, yearEnd := fmt.Sprintf("%04d-01-01", year), fmt.Sprintf("%04d-12-31", year)
	s := &Statement{Format: Format, Year: year, Person: v.Person, Name: v.Name, IDMasked: v.IDMasked, Sex: v.Sex, Birth: v.Birth,
		Region: v.Region, RegisteredOn: v.RegisteredOn, Status: v.Status, IssuedAt: issued.UTC().Truncate(time.Second), Checkpoint: checkpoint,
		Enrolments: []store.EnrolmentView{}, Contributions: []TypeYear{}, Subsidies: []store.SubsidyView{}, Benefits: []store.BenefitView{},
		Years: []store.MonthsView{}, Transfers: []store.TransferView{}, Eligibilities: []store.EligibilityView{}}
	for _, e := range v.Enrolments {
		if e.From <= yearEnd && (e.To == "" || e.To >= yearStart) {
			s.Enrolments = append(s.Enrolments, e)
		}
	}
	for _, e := range v.Eligibilities {
		if e.From <= yearEnd && (e.To == "" || e.To >= yearStart) {
			s.Eligibilities = append(s.Eligibilities, e)
		}
	}
	var in rules.PersonFacts
	byType := map[string]*TypeYear{}
	for _, c := range v.Contributions {
		if c.Period > last {
			continue
		}
		in.Contributions = append(in.Contributions, rules.Contribution{Type: c.Type, Period: c.Period, Wage: c.Wage, Region: region, Status: c.Status, LateDays: c.LateDays})
		if c.Period < first {
			continue
		}
		ty := byType[c.Type]
		if ty == nil {
			ty = &TypeYear{Type: c.Type}
			byType[c.Type] = ty
		}
		ty.Months = append(ty.Months, c)
		switch c.Status {
		case record.StatusPaid:
			ty.Paid++
		case record.StatusArrears:
			ty.Arrears++
		}
		ty.Base += c.Base
		ty.Employer += c.EmployerAmt
		ty.Individual += c.IndividualAmt
		ty.Credit += c.AccountCredit
		ty.LateFee += c.LateFee
	}
	for _, t := range record.InsuranceTypes {
		if ty := byType[t]; ty != nil {
			slices.SortStableFunc(ty.Months, func(a, b store.ContributionView) int { return int(a.Period) - int(b.Period) })
			s.Contributions = append(s.Contributions, *ty)
		}
	}
	for _, x := range v.Subsidies {
		if x.Period >= first && x.Period <= last {
			s.Subsidies = append(s.Subsidies, x)
			s.SubsidyTotal += x.Amount
		}
	}
	for _, b := range v.Benefits {
		if b.Period >= first && b.Period <= last {
			s.Benefits = append(s.Benefits, b)
			s.BenefitTotal += b.Amount
		}
	}
	for _, d := range v.Deemed {
		if d.From > last {
			continue
		}
		to := min(d.To, last)
		in.Deemed = append(in.Deemed, rules.Span{Type: record.Pension, From: d.From, To: to})
	}
	for _, t := range v.Transfers {
		if t.Period > last {
			continue
		}
		in.Transfers = append(in.Transfers, rules.Transfer{Period: t.Period, Amount: t.Amount, Out: t.Direction == "out"})
		if t.Period >= first {
			s.Transfers = append(s.Transfers, t)
		}
	}
	pd, err := rules.DerivePerson(book, region, in, year)
	if err != nil {
		return nil, fmt.Errorf("statement %d of %s: %w", year, v.Person, err)
	}
	for i := range pd.Years {
		if a := pd.Years[i]; a.Year == year {
			s.Account = &AccountYear{Year: a.Year, Rate: a.Rate.String(), Provisional: a.Provisional, Opening: a.Opening, Credits: a.Credits,
				TransfersIn: a.TransfersIn, TransfersOut: a.TransfersOut, Interest: a.Interest, Closing: a.Closing}
		}
	}
	for _, c := range pd.Credits {
		if c.Period >= first && c.Period <= last {
			s.AccountCredits = append(s.AccountCredits, c)
		}
	}
	for _, t := range record.InsuranceTypes {
		m := store.MonthsView{Type: t, Paid: pd.Months.Paid.Of(t), Deemed: pd.Months.Deemed.Of(t), Total: pd.Months.Total(t)}
		if m.Total == 0 {
			continue
		}
		m.Years = rules.FormatRat(big.NewRat(int64(m.Total), 12), 2)
		s.Years = append(s.Years, m)
	}
	if v.Derived != nil && v.Derived.Retirement != nil {
		r := *v.Derived.Retirement
		r.Eligible = pd.Months.Total(record.Pension) >= r.MinContributionMonths
		s.Retirement = &r
	}
	return s, nil
}

// Issued is a statement as kept: which year and version, when issued, by which run.
type Issued struct {
	Year       int       `json:"year"`
	Version    int       `json:"version"`
	Run        int64     `json:"run"`
	IssuedAt   time.Time `json:"issued_at"`
	Checkpoint uint64    `json:"checkpoint_size"`
	SHA256     string    `json:"sha256"` // of the statement's data as kept
}

// Service issues, keeps and prints statements.
type Service struct {
	st    *store.Store
	fonts *pdf.FontSource
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the agency's time zone: which year is over.
	Location *time.Location
}

// New returns the statement service of a store, printing with fonts.
func New(st *store.Store, fonts *pdf.FontSource) *Service {
	if fonts == nil {
		fonts = &pdf.FontSource{}
	}
	return &Service{st: st, fonts: fonts, Now: time.Now, Location: time.Local}
}

// checkYear refuses a year that is not over, or before records were kept.
func (s *Service) checkYear(year int) error {
	current := s.Now().In(s.Location).Year()
	if year < 1990 || year >= current {
		return record.Invalid("year", "statement_year", "a statement is made for a year that is over: 1990 to %d, not %d", current-1, year)
	}
	return nil
}

// Preview builds person's statement of year from the record as it stands now, without keeping it.
func (s *Service) Preview(ctx context.Context, person string, year int) (*Statement, error) {
	if err := s.checkYear(year); err != nil {
		return nil, err
	}
	return s.build(ctx, person, year, s.Now())
}

func (s *Service) build(ctx context.Context, person string, year int, now time.Time) (*Statement, error) {
	v, err := s.st.PersonRecord(ctx, person)
	if err != nil {
		return nil, err
	}
	// All that was read is in the journal of this size or an earlier one (the latest checkpoint's size: read
	// without checking its signature, which the statement does not rely on).
	size, err := s.journalSize(ctx)
	if err != nil {
		return nil, err
	}
	return Build(s.st.Book(), s.st.Region(), v, year, now, size)
}

func (s *Service) journalSize(ctx context.Context) (uint64, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var n int64
	err = tx.QueryRow(ctx, "SELECT COALESCE(MAX(size), 0) FROM journal_checkpoints").Scan(&n)
	return uint64(n), err
}

func encode(st *Statement) ([]byte, string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// List returns every statement kept for person, newest year first and, within a year, newest version first.
func (s *Service) List(ctx context.Context, person string) ([]Issued, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT year, version, run, issued_at, checkpoint_size, sha256 FROM statements WHERE person = $1 ORDER BY year DESC, version DESC", person)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Issued{}
	for rows.Next() {
		var i Issued
		var at, cp int64
		if err := rows.Scan(&i.Year, &i.Version, &i.Run, &at, &cp, &i.SHA256); err != nil {
			return nil, err
		}
		i.IssuedAt, i.Checkpoint = time.UnixMilli(at).UTC(), uint64(cp)
		out = append(out, i)
	}
	return out, rows.Err()
}

// Get returns person's statement of year as issued: version 0 means the latest. The kept data is checked
// against its hash.
func (s *Service) Get(ctx context.Context, person string, year, version int) (*Statement, Issued, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, Issued{}, err
	}
	defer tx.Rollback(ctx)
	q := "SELECT year, version, run, issued_at, checkpoint_size, sha256, data FROM statements WHERE person = $1 AND year = $2 ORDER BY version DESC LIMIT 1"
	args := []any{person, year}
	if version > 0 {
		q = "SELECT year, version, run, issued_at, checkpoint_size, sha256, data FROM statements WHERE person = $1 AND year = $2 AND version = $3"
		args = append(args, version)
	}
	var i Issued
	var at, cp int64
	var data []byte
	err = tx.QueryRow(ctx, q, args...).Scan(&i.Year, &i.Version, &i.Run, &at, &cp, &i.SHA256, &data)
	if errors.Is(err, store.ErrNoRows) {
		return nil, Issued{}, record.Errorf(record.ENotFound, "no statement of %d has been issued for this person", year)
	}
	if err != nil {
		return nil, Issued{}, err
	}
	i.IssuedAt, i.Checkpoint = time.UnixMilli(at).UTC(), uint64(cp)
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != i.SHA256 {
		return nil, i, fmt.Errorf("statement %d version %d of %s does not match its hash: it was changed after it was issued", year, i.Version, person)
	}
	var st Statement
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, i, err
	}
	return &st, i, nil
}

// PDF prints a statement.
func (s *Service) PDF(st *Statement) ([]byte, error) {
	f, err := s.fonts.Fonts()
	if err != nil {
		return nil, err
	}
	return Render(f, st, s.Location)
}
