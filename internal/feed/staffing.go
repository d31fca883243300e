package feed

import (
	"context"
	"fmt"

	"sirec/internal/record"
	"sirec/internal/store"
)

// staffing compares staffing offices' lists of posts in public institutions and organs with the pension
// enrolments: a post holder needs a pension enrolment with the institution that covers the post, and an
// enrolment ends when the post does. A complete list also shows who is enrolled with a listed institution but
// holds no post in the list.
func (r *runner) staffing(ctx context.Context) error {
	type post struct {
		line                                int64
		index, masked, code, name, from, to string
		person                              string
		employer                            bool
		enrolments                          []enrolment
	}
	var cur post
	var code string
	var codeMissingReported bool
	done := func() error {
		p := cur
		if p.line == 0 {
			return nil
		}
		if !p.employer {
			if !codeMissingReported {
				codeMissingReported = true
				if err := r.add(ctx, Difference{Kind: DiffEmployerNotRegistered, Severity: High, Line: p.line, Employer: p.code, Record: "not registered",
					Feed: "posts of " + p.code, Key: p.code,
					Detail: fmt.Sprintf("institution %s, which the staffing office lists posts of, is not registered here", p.code)}); err != nil {
					return err
				}
			}
		}
		if p.person == "" {
			return r.add(ctx, Difference{Kind: DiffPersonNotRegistered, Line: p.line, IDMasked: p.masked, Employer: p.code, Record: "not registered",
				Feed: fmt.Sprintf("%s at %s from %s", p.name, p.code, p.from), Key: "id:" + p.index,
				Detail: fmt.Sprintf("%s holds a post (%s) at %s since %s but is not registered here", p.masked, p.name, p.code, p.from)})
		}
		if !p.employer {
			return nil
		}
		var covering, open []enrolment
		for _, e := range p.enrolments {
			if e.start <= orEnd(p.to) && p.from <= orEnd(e.end) {
				covering = append(covering, e)
			}
			if e.end == "" {
				open = append(open, e)
			}
		}
		d := Difference{Line: p.line, Person: p.person, IDMasked: p.masked, Employer: p.code, Type: record.Pension}
		switch {
		case len(covering) == 0:
			d.Kind, d.Key = DiffEnrolmentMissing, fmt.Sprintf("%s/%s", p.person, p.code)
			d.Feed, d.Record = fmt.Sprintf("%s from %s to %s", p.name, p.from, orOpen(p.to)), "no pension enrolment with "+p.code
			d.Detail = fmt.Sprintf("%s holds a post (%s) at %s from %s to %s; the record has no pension enrolment with it then", p.masked, p.name, p.code, p.from, orOpen(p.to))
		case p.to != "" && len(open) > 0:
			d.Kind, d.Seq, d.Key = DiffEnrolmentNotStopped, open[0].seq, fmt.Sprintf("%s/%s/%d", p.person, p.code, open[0].seq)
			d.Feed, d.Record = fmt.Sprintf("%s ended %s", p.name, p.to), fmt.Sprintf("enrolment since %s, open", open[0].start)
			d.Detail = fmt.Sprintf("%s's post at %s ended on %s; the pension enrolment since %s (event %d) is still open", p.masked, p.code, p.to, open[0].start, open[0].seq)
		default:
			return nil
		}
		return r.add(ctx, d)
	}
	q := `SELECT f.line, f.id_index, f.id_masked, f.credit_code, f.post, f.event_date, f.end_date, COALESCE(p.person, ''),
			CASE WHEN e.credit_code IS NULL THEN 0 ELSE 1 END, COALESCE(en.seq, 0), COALESCE(en.start_date, ''), COALESCE(en.end_date, '')
		FROM feed_rows f
		LEFT JOIN persons p ON p.id_index = f.id_index
		LEFT JOIN employers e ON e.credit_code = f.credit_code
		LEFT JOIN enrolments en ON en.person = p.person AND en.employer = f.credit_code AND en.type = $1
		WHERE f.feed = $2 ORDER BY f.credit_code, f.line, 10`
	err := r.query(ctx, q, []any{record.Pension, r.feed.ID}, func(rows store.Rows) error {
		var x post
		var employer int
		var e enrolment
		if err := rows.Scan(&x.line, &x.index, &x.masked, &x.code, &x.name, &x.from, &x.to, &x.person, &employer, &e.seq, &e.start, &e.end); err != nil {
			return err
		}
		x.employer = employer == 1
		if x.line != cur.line {
			if err := r.read(ctx, true); err != nil {
				return err
			}
			if err := done(); err != nil {
				return err
			}
			if x.code != code {
				code, codeMissingReported = x.code, false
			}
			cur = x
		}
		if e.seq != 0 {
			cur.enrolments = append(cur.enrolments, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := done(); err != nil {
		return err
	}
	if !r.feed.Complete {
		return nil
	}
	q = `SELECT en.employer, en.seq, en.person, en.start_date
		FROM enrolments en
		WHERE en.type = $1 AND en.end_date = '' AND en.employer IN (SELECT g.credit_code FROM feed_rows g WHERE g.feed = $2)
			AND NOT EXISTS (SELECT 1 FROM feed_rows f JOIN persons p ON p.id_index = f.id_index
				WHERE f.feed = $2 AND f.credit_code = en.employer AND p.person = en.person)
		ORDER BY en.employer, en.seq`
	return r.query(ctx, q, []any{record.Pension, r.feed.ID}, func(rows store.Rows) error {
		var code, person, start string
		var seq int64
		if err := rows.Scan(&code, &seq, &person, &start); err != nil {
			return err
		}
		if err := r.read(ctx, false); err != nil {
			return err
		}
		return r.add(ctx, Difference{Kind: DiffPostMissingInFeed, Person: person, Employer: code, Type: record.Pension, Seq: seq, Feed: "no post",
			Record: "pension enrolment since " + start, Key: fmt.Sprintf("%s/%s", person, code),
			Detail: fmt.Sprintf("person %s is enrolled with %s since %s (event %d) but holds no post in the staffing office's list", person, code, start, seq)})
	})
}

type enrolment struct {
	seq        int64
	start, end string
}

// orEnd reads an empty end date as open.
func orEnd(d string) string {
	if d == "" {
		return "9999-12-31"
	}
	return d
}

func orOpen(d string) string {
	if d == "" {
		return "now"
	}
	return d
}
