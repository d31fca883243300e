package feed

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"sirec/internal/record"
	"sirec/internal/store"
)

// The tax bureau's file is matched with the contributions projection by (ID number, period, insurance type) for
// person rows and by (credit code, period, type) for employer rows. The database merges the two sides into one
// stream sorted by that key — the feed's rows and the record's rows of the months and types the file covers —
// so that the run reads one key's rows at a time and compares them: memory holds one group, whatever the sizes.
// Grouping needs only equal keys to be adjacent, not a particular order, so the engines' collations do not
// matter.

// taxSide is one row of the merged stream.
type taxSide struct {
	key                        string // ID index, or credit code
	period                     int64
	typ                        string
	fromRecord                 bool
	line                       int64
	base, employer, individual int64
	person                     string // person rows: the person key ("" when not registered)
	seq                        int64  // record rows: the event; employer record rows: the count of rows summed
	status                     string // record rows: the contribution's status; employer feed rows: the employer's
	masked                     string // feed rows: the masked ID number
}

// coverage returns the SQL condition, and its arguments numbered from next, that selects the record's rows of
// the months and insurance types one side of the feed — its person rows, or its employer rows — reports: what
// the tax bureau reports on, and so what it should not lack. ok is false when that side has no rows.
func (r *runner) coverage(ctx context.Context, alias string, next int, persons bool) (cond string, args []any, ok bool, err error) {
	side := "id_index <> ''"
	if !persons {
		side = "credit_code <> ''"
	}
	var periods, types []any
	err = r.query(ctx, "SELECT DISTINCT period, type FROM feed_rows WHERE feed = $1 AND "+side+" ORDER BY 1, 2", []any{r.feed.ID}, func(rows store.Rows) error {
		var period int64
		var typ string
		if err := rows.Scan(&period, &typ); err != nil {
			return err
		}
		if !slices.Contains(periods, any(period)) {
			periods = append(periods, period)
		}
		if !slices.Contains(types, any(typ)) {
			types = append(types, typ)
		}
		return nil
	})
	if err != nil || len(periods) == 0 {
		return "", nil, false, err
	}
	cond = fmt.Sprintf("%s.period IN (%s) AND %s.type IN (%s)", alias, placeholders(next, len(periods)), alias, placeholders(next+len(periods), len(types)))
	return cond, append(periods, types...), true, nil
}

func (r *runner) taxPersons(ctx context.Context) error {
	// A file of employers' totals alone says nothing of persons' months, and the other way round.
	cond, args, ok, err := r.coverage(ctx, "c", 2, true)
	if err != nil || !ok {
		return err
	}
	q := `SELECT f.id_index, f.period, f.type, 0, f.line, f.base, f.employer_paid, f.individual_paid, COALESCE(p.person, ''), 0, '', f.id_masked
		FROM feed_rows f LEFT JOIN persons p ON p.id_index = f.id_index
		WHERE f.feed = $1 AND f.id_index <> ''
		UNION ALL
		SELECT p.id_index, c.period, c.type, 1, 0, c.base, c.employer_amount, c.individual_amount, c.person, c.seq, c.status, ''
		FROM contributions c JOIN persons p ON p.person = c.person
		WHERE ` + cond + `
		ORDER BY 1, 2, 3, 4, 5`
	var group []taxSide
	var person personState
	err = r.query(ctx, q, append([]any{r.feed.ID}, args...), func(rows store.Rows) error {
		var x taxSide
		var side int
		if err := rows.Scan(&x.key, &x.period, &x.typ, &side, &x.line, &x.base, &x.employer, &x.individual, &x.person, &x.seq, &x.status, &x.masked); err != nil {
			return err
		}
		x.fromRecord = side == 1
		if err := r.read(ctx, !x.fromRecord); err != nil {
			return err
		}
		if len(group) > 0 && (group[0].key != x.key || group[0].period != x.period || group[0].typ != x.typ) {
			if err := r.taxPersonGroup(ctx, group, &person); err != nil {
				return err
			}
			group = group[:0]
		}
		if person.key != x.key {
			if err := r.personDone(ctx, &person); err != nil {
				return err
			}
			person = personState{key: x.key}
		}
		group = append(group, x)
		return nil
	})
	if err != nil {
		return err
	}
	if len(group) > 0 {
		if err := r.taxPersonGroup(ctx, group, &person); err != nil {
			return err
		}
	}
	return r.personDone(ctx, &person)
}

// personState gathers what the run knows of the ID number whose rows it reads: an unregistered person is one
// difference, whatever the number of their rows.
type personState struct {
	key          string
	unregistered bool
	masked       string
	rows         int64
	firstLine    int64
	from, to     int64
}

func (r *runner) personDone(ctx context.Context, p *personState) error {
	if !p.unregistered {
		return nil
	}
	return r.add(ctx, Difference{Kind: DiffPersonNotRegistered, Line: p.firstLine, IDMasked: p.masked, Period: record.Period(p.from),
		Feed: fmt.Sprintf("%d rows, %d–%d", p.rows, p.from, p.to), Record: "not registered",
		Detail: fmt.Sprintf("ID number %s is not registered here; the tax bureau collected for it %d months and types from %d to %d", p.masked, p.rows, p.from, p.to),
		Key:    "id:" + p.key})
}

// taxPersonGroup compares one (person, period, type): the feed's rows (summed) with the record's.
func (r *runner) taxPersonGroup(ctx context.Context, g []taxSide, p *personState) error {
	var feed, rec, paid []taxSide
	for _, x := range g {
		if x.fromRecord {
			rec = append(rec, x)
			if x.status == record.StatusPaid {
				paid = append(paid, x)
			}
		} else {
			feed = append(feed, x)
		}
	}
	first := g[0]
	if len(feed) > 0 && feed[0].person == "" {
		p.unregistered, p.masked = true, feed[0].masked
		for _, x := range feed {
			if p.rows == 0 || x.line < p.firstLine {
				p.firstLine = x.line
			}
			if p.from == 0 || x.period < p.from {
				p.from = x.period
			}
			if x.period > p.to {
				p.to = x.period
			}
			p.rows++
		}
		return nil
	}
	var fb, fe, fi, rb, re, ri int64
	for _, x := range feed {
		fb, fe, fi = fb+x.base, fe+x.employer, fi+x.individual
	}
	for _, x := range paid {
		rb, re, ri = rb+x.base, re+x.employer, ri+x.individual
	}
	d := Difference{Period: record.Period(first.period), Type: first.typ}
	if len(feed) > 0 {
		d.Line, d.Person, d.IDMasked = feed[0].line, feed[0].person, feed[0].masked
	} else {
		d.Person = rec[0].person
	}
	d.Key = fmt.Sprintf("%s/%d/%s", d.Person, first.period, first.typ)
	switch {
	case len(feed) > 0 && len(rec) == 0:
		d.Kind, d.Feed, d.Record = DiffContributionMissingInRecord, money(fb, fe, fi), "none"
		d.Detail = fmt.Sprintf("%s %d: the tax bureau collected %s; the record holds no contribution", first.typ, first.period, money(fb, fe, fi))
	case len(feed) > 0 && len(paid) == 0:
		d.Kind, d.Seq, d.Feed, d.Record = DiffContributionNotPaidInRecord, rec[0].seq, money(fb, fe, fi), "status "+rec[0].status
		d.Detail = fmt.Sprintf("%s %d: the tax bureau collected %s; the record holds it as %s (event %d)", first.typ, first.period, money(fb, fe, fi), rec[0].status, rec[0].seq)
	case len(feed) > 0:
		var what []string
		if fb != rb {
			what = append(what, "base")
		}
		if fe != re {
			what = append(what, "employer part")
		}
		if fi != ri {
			what = append(what, "individual part")
		}
		if len(what) == 0 {
			return nil
		}
		d.Kind, d.Seq, d.Feed, d.Record = DiffAmountDiffers, paid[0].seq, money(fb, fe, fi), money(rb, re, ri)
		d.Detail = fmt.Sprintf("%s %d: %s differ — tax bureau %s, record %s (event %d)", first.typ, first.period, strings.Join(what, ", "), money(fb, fe, fi), money(rb, re, ri), paid[0].seq)
	case len(paid) > 0:
		d.Kind, d.Seq, d.Feed, d.Record = DiffContributionMissingInFeed, paid[0].seq, "none", money(rb, re, ri)
		d.Detail = fmt.Sprintf("%s %d: the record holds %s paid (event %d); the tax bureau reports nothing", first.typ, first.period, money(rb, re, ri), paid[0].seq)
	default:
		// Only due or arrears months in the record, nothing collected: consistent.
		return nil
	}
	return r.add(ctx, d)
}

func (r *runner) taxEmployers(ctx context.Context) error {
	cond, args, ok, err := r.coverage(ctx, "c", 3, false)
	if err != nil || !ok {
		return err
	}
	q := `SELECT f.credit_code, f.period, f.type, 0, f.line, f.base, f.employer_paid, f.individual_paid, COALESCE(e.status, ''), 0
		FROM feed_rows f LEFT JOIN employers e ON e.credit_code = f.credit_code
		WHERE f.feed = $1 AND f.credit_code <> ''
		UNION ALL
		SELECT c.employer, c.period, c.type, 1, 0, CAST(SUM(c.base) AS BIGINT), CAST(SUM(c.employer_amount) AS BIGINT),
			CAST(SUM(c.individual_amount) AS BIGINT), '', COUNT(*)
		FROM contributions c
		WHERE c.status = $2 AND ` + cond + ` AND c.employer IN (SELECT g.credit_code FROM feed_rows g WHERE g.feed = $1 AND g.credit_code <> '')
		GROUP BY c.employer, c.period, c.type
		ORDER BY 1, 2, 3, 4, 5`
	var group []taxSide
	var employer struct {
		code                  string
		missing, deregistered bool
		firstLine, rows       int64
	}
	done := func() error {
		e := employer
		if e.code == "" {
			return nil
		}
		switch {
		case e.missing:
			return r.add(ctx, Difference{Kind: DiffEmployerNotRegistered, Severity: High, Line: e.firstLine, Employer: e.code, Record: "not registered",
				Feed: fmt.Sprintf("%d rows", e.rows), Key: e.code,
				Detail: fmt.Sprintf("employer %s is not registered here; the tax bureau collected for it (%d rows)", e.code, e.rows)})
		case e.deregistered:
			return r.add(ctx, Difference{Kind: DiffEmployerDeregistered, Line: e.firstLine, Employer: e.code, Record: "deregistered",
				Feed: fmt.Sprintf("%d rows", e.rows), Key: e.code,
				Detail: fmt.Sprintf("employer %s is deregistered in the record; the tax bureau still collected for it (%d rows)", e.code, e.rows)})
		}
		return nil
	}
	err = r.query(ctx, q, append([]any{r.feed.ID, record.StatusPaid}, args...), func(rows store.Rows) error {
		var x taxSide
		var side int
		if err := rows.Scan(&x.key, &x.period, &x.typ, &side, &x.line, &x.base, &x.employer, &x.individual, &x.status, &x.seq); err != nil {
			return err
		}
		x.fromRecord = side == 1
		if err := r.read(ctx, !x.fromRecord); err != nil {
			return err
		}
		if len(group) > 0 && (group[0].key != x.key || group[0].period != x.period || group[0].typ != x.typ) {
			if err := r.taxEmployerGroup(ctx, group); err != nil {
				return err
			}
			group = group[:0]
		}
		if employer.code != x.key {
			if err := done(); err != nil {
				return err
			}
			employer.code, employer.missing, employer.deregistered, employer.firstLine, employer.rows = x.key, false, false, 0, 0
		}
		if !x.fromRecord {
			employer.missing = x.status == ""
			employer.deregistered = x.status == "deregistered"
			if employer.rows == 0 || x.line < employer.firstLine {
				employer.firstLine = x.line
			}
			employer.rows++
		}
		group = append(group, x)
		return nil
	})
	if err != nil {
		return err
	}
	if len(group) > 0 {
		if err := r.taxEmployerGroup(ctx, group); err != nil {
			return err
		}
	}
	return done()
}

// taxEmployerGroup compares one employer's (period, type): the feed's totals with the record's paid totals.
func (r *runner) taxEmployerGroup(ctx context.Context, g []taxSide) error {
	var fb, fe, fi, rb, re, ri, n int64
	var feedRows int
	var line int64
	for _, x := range g {
		if x.fromRecord {
			rb, re, ri, n = rb+x.base, re+x.employer, ri+x.individual, n+x.seq
			continue
		}
		if feedRows == 0 {
			line = x.line
			if x.status == "" {
				return nil // not registered: reported once for the employer
			}
		}
		feedRows++
		fb, fe, fi = fb+x.base, fe+x.employer, fi+x.individual
	}
	first := g[0]
	d := Difference{Line: line, Employer: first.key, Period: record.Period(first.period), Type: first.typ,
		Key: fmt.Sprintf("%s/%d/%s", first.key, first.period, first.typ)}
	switch {
	case feedRows > 0 && n == 0:
		d.Kind, d.Feed, d.Record = DiffEmployerMissingInRecord, money(fb, fe, fi), "none paid"
		d.Detail = fmt.Sprintf("employer %s, %s %d: the tax bureau collected %s; the record holds nothing paid", first.key, first.typ, first.period, money(fb, fe, fi))
	case feedRows > 0:
		if fb == rb && fe == re && fi == ri {
			return nil
		}
		d.Kind, d.Feed, d.Record = DiffEmployerAmountDiffers, money(fb, fe, fi), fmt.Sprintf("%s (%d persons)", money(rb, re, ri), n)
		d.Detail = fmt.Sprintf("employer %s, %s %d: tax bureau %s, record %s over %d persons", first.key, first.typ, first.period, money(fb, fe, fi), money(rb, re, ri), n)
	default:
		d.Kind, d.Feed, d.Record = DiffEmployerMissingInFeed, "none", fmt.Sprintf("%s (%d persons)", money(rb, re, ri), n)
		d.Detail = fmt.Sprintf("employer %s, %s %d: the record holds %s paid for %d persons; the tax bureau reports nothing", first.key, first.typ, first.period, money(rb, re, ri), n)
	}
	return r.add(ctx, d)
}
