package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"sirec/internal/record"
)

// EmployerView is an employer's registration as the projections hold it.
type EmployerView struct {
	CreditCode    string `json:"credit_code"`
	Name          string `json:"name"`
	Region        string `json:"region"`
	IndustryClass int    `json:"industry_class"`
	RegisteredOn  string `json:"registered_on"`
	Status        string `json:"status"`
}

// Employer reads an employer's registration by its unified social credit code.
func (s *Store) Employer(ctx context.Context, code string) (EmployerView, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return EmployerView{}, err
	}
	defer tx.Rollback(ctx)
	e := EmployerView{CreditCode: code}
	err = tx.QueryRow(ctx, "SELECT name, region, industry_class, registered_on, status FROM employers WHERE credit_code = $1", code).
		Scan(&e.Name, &e.Region, &e.IndustryClass, &e.RegisteredOn, &e.Status)
	if errors.Is(err, ErrNoRows) {
		return e, record.Errorf(record.ENotFound, "no employer is registered with credit code %s", code)
	}
	return e, err
}

// likePattern makes a LIKE pattern that matches text anywhere, with LIKE's own wildcards in text escaped
// (ESCAPE '\').
func likePattern(text string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(text)) + "%"
}

// FindEmployers lists the employers whose credit code is text or whose name contains it (letters compared
// without case), in name order: limit of them after skipping offset, and how many match.
func (s *Store) FindEmployers(ctx context.Context, text string, offset, limit int) ([]EmployerView, int64, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, 0, err
	}
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	const where = ` FROM employers WHERE credit_code = $1 OR LOWER(name) LIKE $2 ESCAPE '\'`
	code, pattern := strings.ToUpper(strings.TrimSpace(text)), likePattern(strings.TrimSpace(text))
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*)"+where, code, pattern).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT credit_code, name, region, industry_class, registered_on, status"+where+
		" ORDER BY name, credit_code LIMIT $3 OFFSET $4", code, pattern, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []EmployerView{}
	for rows.Next() {
		var e EmployerView
		if err := rows.Scan(&e.CreditCode, &e.Name, &e.Region, &e.IndustryClass, &e.RegisteredOn, &e.Status); err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// EmployeeView is a person who has or had an enrolment through an employer, as lists show them: the ID number
// masked (I7), the enrolments through that employer summed up.
type EmployeeView struct {
	Person   string   `json:"person"`
	Name     string   `json:"name"`
	IDMasked string   `json:"id_number_masked"`
	Sex      string   `json:"sex"`
	Status   string   `json:"status"`
	Types    []string `json:"types"` // insurance types enrolled through the employer, in display order
	From     string   `json:"from"`  // the earliest start of an enrolment through the employer
	To       string   `json:"to"`    // the latest end; "" while an enrolment through it is open
}

// Employee list orders.
const (
	EmployeesByName = "name" // by name, then person key
	EmployeesByFrom = "from" // by the earliest enrolment start, newest first
)

// Employees lists the persons with an enrolment through the employer — its employees, present and past — in
// the order sort names (EmployeesByName, EmployeesByFrom): limit of them after skipping offset, and how many
// there are.
func (s *Store) Employees(ctx context.Context, code, sort string, offset, limit int) ([]EmployeeView, int64, error) {
	if err := checkPage(offset, limit); err != nil {
		return nil, 0, err
	}
	order := "p.name, p.person"
	switch sort {
	case EmployeesByName, "":
	case EmployeesByFrom:
		order = "MIN(e.start_date) DESC, p.person"
	default:
		return nil, 0, record.Invalid("sort", "sort_order", "sort must be %s or %s", EmployeesByName, EmployeesByFrom)
	}
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(DISTINCT person) FROM enrolments WHERE employer = $1", code).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, `SELECT p.person, p.name, p.id_sealed, p.sex, p.status, MIN(e.start_date),
		MAX(CASE WHEN e.end_date = '' THEN 1 ELSE 0 END), MAX(e.end_date)
		FROM enrolments e JOIN persons p ON p.person = e.person WHERE e.employer = $1
		GROUP BY p.person, p.name, p.id_sealed, p.sex, p.status ORDER BY `+order+` LIMIT $2 OFFSET $3`, code, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	out := []EmployeeView{}
	byPerson := map[string]int{}
	for rows.Next() {
		var e EmployeeView
		var sealed []byte
		var open int
		if err := rows.Scan(&e.Person, &e.Name, &sealed, &e.Sex, &e.Status, &e.From, &open, &e.To); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if open == 1 {
			e.To = ""
		}
		id, err := s.keys.OpenID(sealed)
		if err != nil {
			rows.Close()
			return nil, 0, err
		}
		e.IDMasked = record.MaskID(id)
		e.Types = []string{}
		byPerson[e.Person] = len(out)
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) == 0 {
		return out, total, nil
	}
	// The insurance types of the page's employees through this employer.
	args := []any{code}
	marks := make([]string, len(out))
	for i, e := range out {
		args = append(args, e.Person)
		marks[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err = tx.Query(ctx, "SELECT DISTINCT person, type FROM enrolments WHERE employer = $1 AND person IN ("+strings.Join(marks, ", ")+")", args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var person, typ string
		if err := rows.Scan(&person, &typ); err != nil {
			return nil, 0, err
		}
		e := &out[byPerson[person]]
		e.Types = append(e.Types, typ)
	}
	for i := range out {
		sortTypes(out[i].Types)
	}
	return out, total, rows.Err()
}

// sortTypes puts insurance types in display order (record.InsuranceTypes).
func sortTypes(types []string) {
	slices.SortFunc(types, func(a, b string) int {
		return slices.Index(record.InsuranceTypes, a) - slices.Index(record.InsuranceTypes, b)
	})
}

// EmployerPeriodView sums an employer's contributions of one period and insurance type (or, as a total, of
// every row selected).
type EmployerPeriodView struct {
	Period        record.Period `json:"period,omitempty"`
	Type          string        `json:"type,omitempty"`
	Persons       int64         `json:"persons"` // distinct persons
	Months        int64         `json:"months"`  // contribution rows: one person, one month, one insurance type
	Arrears       int64         `json:"arrears"` // rows in arrears
	Base          record.Fen    `json:"base"`
	EmployerAmt   record.Fen    `json:"employer_amount"`
	IndividualAmt record.Fen    `json:"individual_amount"`
	LateFee       record.Fen    `json:"late_fee"`
}

// EmployerContributionsFilter narrows EmployerContributions.
type EmployerContributionsFilter struct {
	Year int    // 0 for every year
	Type string // "" for every insurance type
}

// EmployerContributions sums the employer's contributions by period and insurance type, newest period first:
// limit of those rows after skipping offset, how many rows there are, and the total over all of them.
//
// An employer's contributions are the contribution rows that name it, of the persons who have or had an
// enrolment through it — its employees, as the portal defines them for Q3. The rows are read through the
// enrolments' employer index and the contributions' person index, so the page costs what the employer's own
// rows cost, not a scan of every contribution.
func (s *Store) EmployerContributions(ctx context.Context, code string, f EmployerContributionsFilter, offset, limit int) ([]EmployerPeriodView, int64, EmployerPeriodView, error) {
	var sum EmployerPeriodView
	if err := checkPage(offset, limit); err != nil {
		return nil, 0, sum, err
	}
	if f.Year != 0 && (f.Year < 1950 || f.Year > 2200) {
		return nil, 0, sum, record.Invalid("year", "year_range", "year %d is outside 1950–2200", f.Year)
	}
	if f.Type != "" {
		if err := record.ValidateInsuranceType("type", f.Type); err != nil {
			return nil, 0, sum, err
		}
	}
	where := " FROM contributions WHERE employer = $1 AND person IN (SELECT person FROM enrolments WHERE employer = $1)"
	args := []any{code}
	if f.Year != 0 {
		args = append(args, int64(record.MakePeriod(f.Year, 1)), int64(record.MakePeriod(f.Year, 12)))
		where += fmt.Sprintf(" AND period BETWEEN $%d AND $%d", len(args)-1, len(args))
	}
	if f.Type != "" {
		args = append(args, f.Type)
		where += fmt.Sprintf(" AND type = $%d", len(args))
	}
	// Sums are cast back to BIGINT: PostgreSQL sums BIGINTs as NUMERIC.
	const sums = `COUNT(DISTINCT person), COUNT(*), CAST(COALESCE(SUM(CASE WHEN status = 'arrears' THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(base), 0) AS BIGINT), CAST(COALESCE(SUM(employer_amount), 0) AS BIGINT),
		CAST(COALESCE(SUM(individual_amount), 0) AS BIGINT), CAST(COALESCE(SUM(late_fee), 0) AS BIGINT)`
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, 0, sum, err
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, "SELECT "+sums+where, args...).Scan(&sum.Persons, &sum.Months, &sum.Arrears, &sum.Base, &sum.EmployerAmt,
		&sum.IndividualAmt, &sum.LateFee); err != nil {
		return nil, 0, sum, err
	}
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM (SELECT period, type"+where+" GROUP BY period, type) g", args...).Scan(&total); err != nil {
		return nil, 0, sum, err
	}
	// Insurance types in display order within a period.
	typeOrder := "CASE type"
	for i, t := range record.InsuranceTypes {
		typeOrder += fmt.Sprintf(" WHEN '%s' THEN %d", t, i)
	}
	typeOrder += " ELSE 9 END"
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT period, type, %s%s GROUP BY period, type ORDER BY period DESC, %s LIMIT $%d OFFSET $%d",
		sums, where, typeOrder, len(args)+1, len(args)+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, sum, err
	}
	defer rows.Close()
	out := []EmployerPeriodView{}
	for rows.Next() {
		var r EmployerPeriodView
		var period int64
		if err := rows.Scan(&period, &r.Type, &r.Persons, &r.Months, &r.Arrears, &r.Base, &r.EmployerAmt, &r.IndividualAmt, &r.LateFee); err != nil {
			return nil, 0, sum, err
		}
		r.Period = record.Period(period)
		out = append(out, r)
	}
	return out, total, sum, rows.Err()
}

// checkPage checks a page's offset and limit: offset from 0, limit 1 to 10,000.
func checkPage(offset, limit int) error {
	if offset < 0 {
		return record.Invalid("offset", "offset_range", "offset must be 0 or more")
	}
	if limit < 1 || limit > 10000 {
		return record.Invalid("limit", "limit_range", "limit must be 1 to 10,000")
	}
	return nil
}
