// Package stats makes statistics for supervisors without personal data (Q7, R4.2): counts and sums of
// contributions and benefits by region, insurance type (or benefit kind) and period. No person key, name or ID
// number leaves it, and small cells are suppressed so that no figure describes a few identifiable persons:
//
//   - primary suppression: a cell of fewer than Threshold distinct persons (but more than none) shows no figures;
//   - secondary suppression: where one cell of a row or column (the cells that differ in one dimension only) is
//     suppressed, the smallest other cell of it is too, so that the suppressed figure cannot be had by subtracting
//     the others from a total asked for without that dimension.
package stats

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Threshold is the fewest distinct persons a published cell may describe.
const Threshold = 10

// Measures.
const (
	Contributions = "contributions"
	Benefits      = "benefits"
)

// Dimensions a table may be broken down by.
const (
	ByRegion = "region"
	ByType   = "type"
	ByPeriod = "period"
)

// Query asks for a table.
type Query struct {
	Measure     string        `json:"measure"`     // contributions or benefits
	By          []string      `json:"by"`          // any of region, type, period; empty means all three
	Granularity string        `json:"granularity"` // period as "year" or "month"
	From, To    record.Period `json:"-"`
}

// Validate checks a query and fills its defaults.
func (q *Query) Validate() error {
	var errs record.Errors
	if q.Measure == "" {
		q.Measure = Contributions
	}
	if q.Measure != Contributions && q.Measure != Benefits {
		errs.Append("", record.Invalid("measure", "measure", "measure must be contributions or benefits"))
	}
	if len(q.By) == 0 {
		q.By = []string{ByRegion, ByType, ByPeriod}
	}
	var by []string
	for _, d := range []string{ByRegion, ByType, ByPeriod} {
		if slices.Contains(q.By, d) {
			by = append(by, d)
		}
	}
	for _, d := range q.By {
		if !slices.Contains([]string{ByRegion, ByType, ByPeriod}, d) {
			errs.Append("", record.Invalid("by", "dimension", "%q is not a dimension; use region, type, period", d))
		}
	}
	q.By = by
	if q.Granularity == "" {
		q.Granularity = "year"
	}
	if q.Granularity != "year" && q.Granularity != "month" {
		errs.Append("", record.Invalid("granularity", "granularity", "granularity must be year or month"))
	}
	if err := q.From.Validate("from"); err != nil {
		errs.Append("", err)
	}
	if err := q.To.Validate("to"); err != nil {
		errs.Append("", err)
	}
	if len(errs) == 0 && q.To < q.From {
		errs.Append("", record.Invalid("to", "period_order", "the span must end at or after its start"))
	}
	return errs.Err()
}

// Cell is one cell of a table. When Suppressed, its figures are absent.
type Cell struct {
	Region     string      `json:"region,omitempty"`
	Type       string      `json:"type,omitempty"` // insurance type, or benefit kind
	Period     string      `json:"period,omitempty"`
	Suppressed bool        `json:"suppressed"`
	Persons    *int64      `json:"persons,omitempty"`  // distinct persons
	Count      *int64      `json:"count,omitempty"`    // contributions: months paid; benefits: payments
	Arrears    *int64      `json:"arrears,omitempty"`  // contributions: months in arrears
	Base       *record.Fen `json:"base,omitempty"`     // contributions paid: bases
	Employer   *record.Fen `json:"employer,omitempty"` // contributions paid: employer shares
	Individual *record.Fen `json:"individual,omitempty"`
	Amount     *record.Fen `json:"amount,omitempty"` // benefits: amounts paid

	persons int64 // kept for suppression decisions, never published
}

// Table is a query's answer.
type Table struct {
	Query     Query  `json:"query"`
	From      string `json:"from"`
	To        string `json:"to"`
	Threshold int    `json:"threshold"`
	Cells     []Cell `json:"cells"`
}

// Make computes a table from the projections.
func Make(ctx context.Context, d store.Driver, q Query) (Table, error) {
	if err := q.Validate(); err != nil {
		return Table{}, err
	}
	period := "c.period"
	if q.Granularity == "year" {
		period = "c.period / 100"
	}
	dims := map[string]string{ByRegion: "p.region", ByType: "c.type", ByPeriod: period}
	var sel, group []string
	for _, dname := range []string{ByRegion, ByType, ByPeriod} {
		if slices.Contains(q.By, dname) {
			sel = append(sel, dims[dname])
			group = append(group, dims[dname])
		} else {
			sel = append(sel, "''")
		}
	}
	var sql string
	if q.Measure == Contributions {
		sql = fmt.Sprintf(`SELECT %s, COUNT(DISTINCT c.person),
			CAST(SUM(CASE WHEN c.status = 'paid' THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN c.status = 'arrears' THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN c.status = 'paid' THEN c.base ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN c.status = 'paid' THEN c.employer_amount ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN c.status = 'paid' THEN c.individual_amount ELSE 0 END) AS BIGINT)
			FROM contributions c JOIN persons p ON p.person = c.person
			WHERE c.period >= $1 AND c.period <= $2`, strings.Join(sel, ", "))
	} else {
		dims[ByType] = "c.kind"
		sel[1] = map[bool]string{true: "c.kind", false: "''"}[slices.Contains(q.By, ByType)]
		for i, g := range group {
			if g == "c.type" {
				group[i] = "c.kind"
			}
		}
		sql = fmt.Sprintf(`SELECT %s, COUNT(DISTINCT c.person), COUNT(*), 0, 0, 0, CAST(SUM(c.amount) AS BIGINT)
			FROM benefit_payments c JOIN persons p ON p.person = c.person
			WHERE c.period >= $1 AND c.period <= $2`, strings.Join(sel, ", "))
	}
	if len(group) > 0 {
		sql += " GROUP BY " + strings.Join(group, ", ") + " ORDER BY " + strings.Join(group, ", ")
	}
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return Table{}, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, sql, int64(q.From), int64(q.To))
	if err != nil {
		return Table{}, err
	}
	defer rows.Close()
	t := Table{Query: q, From: q.From.String(), To: q.To.String(), Threshold: Threshold, Cells: []Cell{}}
	for rows.Next() {
		var region, typ string
		var per any
		var persons, count, arrears, base, employer, individual int64
		if err := rows.Scan(&region, &typ, &per, &persons, &count, &arrears, &base, &employer, &individual); err != nil {
			return Table{}, err
		}
		if persons == 0 {
			continue
		}
		c := Cell{Region: region, Type: typ, Period: periodText(per), persons: persons}
		c.Persons, c.Count = &persons, &count
		if q.Measure == Contributions {
			b, e, i := record.Fen(base), record.Fen(employer), record.Fen(individual)
			c.Arrears, c.Base, c.Employer, c.Individual = &arrears, &b, &e, &i
		} else {
			a := record.Fen(individual)
			c.Amount = &a
		}
		t.Cells = append(t.Cells, c)
	}
	if err := rows.Err(); err != nil {
		return Table{}, err
	}
	suppress(t.Cells, q.By)
	return t, nil
}

func periodText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// suppress applies primary and secondary suppression in place.
func suppress(cells []Cell, by []string) {
	hide := func(c *Cell) {
		*c = Cell{Region: c.Region, Type: c.Type, Period: c.Period, Suppressed: true, persons: c.persons}
	}
	for i := range cells {
		if cells[i].persons < Threshold {
			hide(&cells[i])
		}
	}
	key := func(c Cell, without string) string {
		var k []string
		for _, d := range by {
			if d == without {
				continue
			}
			k = append(k, map[string]string{ByRegion: c.Region, ByType: c.Type, ByPeriod: c.Period}[d])
		}
		return strings.Join(k, "\x00")
	}
	for changed := true; changed; {
		changed = false
		for _, dim := range by {
			groups := map[string][]int{}
			for i, c := range cells {
				k := key(c, dim)
				groups[k] = append(groups[k], i)
			}
			for _, idx := range groups {
				hidden, smallest := 0, -1
				for _, i := range idx {
					if cells[i].Suppressed {
						hidden++
					} else if smallest < 0 || cells[i].persons < cells[smallest].persons {
						smallest = i
					}
				}
				if hidden == 1 && smallest >= 0 {
					hide(&cells[smallest])
					changed = true
				}
			}
		}
	}
}

// Export returns a table as rows for CSV or XLSX.
func Export(t Table) export.Table {
	out := export.Table{Sheet: "统计 " + t.Query.Measure, Header: []string{"参保地 region", "险种/类别 type", "期间 period", "人数 persons"}}
	if t.Query.Measure == Contributions {
		out.Header = append(out.Header, "实缴月数 months_paid", "欠缴月数 months_arrears", "缴费基数 base", "单位缴费 employer", "个人缴费 individual")
	} else {
		out.Header = append(out.Header, "发放次数 payments", "发放金额 amount")
	}
	n := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	f := func(p *record.Fen) string {
		if p == nil {
			return ""
		}
		return p.String()
	}
	for _, c := range t.Cells {
		persons := n(c.Persons)
		if c.Suppressed {
			persons = fmt.Sprintf("<%d", Threshold)
		}
		row := []string{c.Region, c.Type, c.Period, persons}
		if t.Query.Measure == Contributions {
			row = append(row, n(c.Count), n(c.Arrears), f(c.Base), f(c.Employer), f(c.Individual))
		} else {
			row = append(row, n(c.Count), f(c.Amount))
		}
		out.Rows = append(out.Rows, row)
	}
	out.Rows = append(out.Rows, []string{fmt.Sprintf("人数少于 %d 的单元格及其补充隐藏单元格不显示数字 (cells of fewer than %d persons are suppressed)", Threshold, Threshold)})
	return out
}
