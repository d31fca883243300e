package feed

import (
	"context"
	"fmt"

	"sirec/internal/record"
	"sirec/internal/store"
)

// laterRow is the condition that f is not an employer's latest row in its feed: only the latest registration of
// an employer counts.
const laterRow = `EXISTS (SELECT 1 FROM feed_rows g WHERE g.feed = f.feed AND g.credit_code = f.credit_code
	AND (g.event_date > f.event_date OR (g.event_date = f.event_date AND g.line > f.line)))`

// market compares market regulation's registrations with the employers projection: an employer's latest row
// gives its state there. Contributions for months after a deregistration are found in one pass over the
// contributions (they are not indexed by employer), probing the feed's rows by credit code; open enrolments by
// the enrolments' employer index.
func (r *runner) market(ctx context.Context) error {
	type reg struct {
		code, event, date, name string
		line                    int64
		recName, recStatus      string
		registered              bool
	}
	var cur reg
	var n int
	done := func() error {
		if n == 0 {
			return nil
		}
		e := cur
		d := Difference{Line: e.line, Employer: e.code, Key: e.code + "/status"}
		switch {
		case !e.registered && e.event != EventDeregistered:
			d.Kind, d.Severity, d.Feed, d.Record = DiffEmployerNotRegistered, Medium, e.event+" "+e.date, "not registered"
			d.Key = e.code
			d.Detail = fmt.Sprintf("employer %s (%s) is registered at market regulation (%s on %s) but not for social insurance here", e.code, e.name, e.event, e.date)
			return r.add(ctx, d)
		case !e.registered:
			return nil
		}
		if e.event == EventDeregistered && e.recStatus != "deregistered" {
			d.Kind, d.Severity, d.Feed, d.Record = DiffEmployerStatusConflict, High, "deregistered "+e.date, "status "+e.recStatus
			d.Detail = fmt.Sprintf("employer %s (%s) was deregistered at market regulation on %s; the record holds it as %s", e.code, e.recName, e.date, e.recStatus)
			if err := r.add(ctx, d); err != nil {
				return err
			}
		} else if e.event != EventDeregistered && e.recStatus == "deregistered" {
			d.Kind, d.Severity, d.Feed, d.Record = DiffEmployerStatusConflict, Medium, e.event+" "+e.date, "status deregistered"
			d.Detail = fmt.Sprintf("employer %s (%s) exists at market regulation (%s on %s); the record holds it as deregistered", e.code, e.recName, e.event, e.date)
			if err := r.add(ctx, d); err != nil {
				return err
			}
		}
		if e.name != "" && e.name != e.recName {
			return r.add(ctx, Difference{Kind: DiffEmployerNameDiffers, Line: e.line, Employer: e.code, Feed: e.name, Record: e.recName, Key: e.code + "/name",
				Detail: fmt.Sprintf("employer %s is named %s at market regulation (%s), %s in the record", e.code, e.name, e.date, e.recName)})
		}
		return nil
	}
	q := `SELECT f.credit_code, f.line, f.event, f.event_date, f.name, COALESCE(e.name, ''), COALESCE(e.status, ''),
			CASE WHEN e.credit_code IS NULL THEN 0 ELSE 1 END
		FROM feed_rows f LEFT JOIN employers e ON e.credit_code = f.credit_code
		WHERE f.feed = $1 ORDER BY f.credit_code, f.line`
	err := r.query(ctx, q, []any{r.feed.ID}, func(rows store.Rows) error {
		var x reg
		var registered int
		if err := rows.Scan(&x.code, &x.line, &x.event, &x.date, &x.name, &x.recName, &x.recStatus, &registered); err != nil {
			return err
		}
		x.registered = registered == 1
		if err := r.read(ctx, true); err != nil {
			return err
		}
		if n > 0 && x.code != cur.code {
			if err := done(); err != nil {
				return err
			}
			n = 0
		}
		// The latest registration counts: by date, then by line.
		if n == 0 || x.date > cur.date || (x.date == cur.date && x.line > cur.line) {
			cur = x
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if err := done(); err != nil {
		return err
	}

	// Contributions for months after the deregistration (CROSS JOIN: SQLite reads the contributions once and
	// probes the feed by credit code; PostgreSQL plans the join as it likes).
	q = `SELECT c.employer, f.line, f.event_date, c.seq, c.person, c.period, c.type, c.status
		FROM contributions c CROSS JOIN feed_rows f
		WHERE c.employer <> '' AND f.feed = $1 AND f.credit_code = c.employer AND f.event = $2 AND c.period > f.period
			AND NOT ` + laterRow + `
		ORDER BY c.employer, c.period, c.seq`
	err = r.query(ctx, q, []any{r.feed.ID, EventDeregistered}, func(rows store.Rows) error {
		var code, date, person, typ, status string
		var line, seq, period int64
		if err := rows.Scan(&code, &line, &date, &seq, &person, &period, &typ, &status); err != nil {
			return err
		}
		if err := r.read(ctx, false); err != nil {
			return err
		}
		return r.add(ctx, Difference{Kind: DiffContributionAfterDeregistered, Line: line, Person: person, Employer: code, Period: record.Period(period),
			Type: typ, Seq: seq, Feed: "deregistered " + date, Record: fmt.Sprintf("%s %d %s", typ, period, status), Key: fmt.Sprintf("%s/%d", code, seq),
			Detail: fmt.Sprintf("employer %s was deregistered on %s; a %s contribution (%s) is recorded for %d (event %d)", code, date, typ, status, period, seq)})
	})
	if err != nil {
		return err
	}

	q = `SELECT en.employer, f.line, f.event_date, en.seq, en.person, en.type, en.start_date
		FROM feed_rows f JOIN enrolments en ON en.employer = f.credit_code
		WHERE f.feed = $1 AND f.event = $2 AND en.end_date = '' AND NOT ` + laterRow + `
		ORDER BY en.employer, en.seq`
	err = r.query(ctx, q, []any{r.feed.ID, EventDeregistered}, func(rows store.Rows) error {
		var code, date, person, typ, start string
		var line, seq int64
		if err := rows.Scan(&code, &line, &date, &seq, &person, &typ, &start); err != nil {
			return err
		}
		if err := r.read(ctx, false); err != nil {
			return err
		}
		return r.add(ctx, Difference{Kind: DiffEnrolmentOpenAfterDeregister, Line: line, Person: person, Employer: code, Type: typ, Seq: seq,
			Feed: "deregistered " + date, Record: fmt.Sprintf("%s enrolment since %s, open", typ, start), Key: fmt.Sprintf("%s/%d", code, seq),
			Detail: fmt.Sprintf("employer %s was deregistered on %s; the %s enrolment since %s (event %d) is still open", code, date, typ, start, seq)})
	})
	if err != nil || !r.feed.Complete {
		return err
	}

	// A complete list: the employers active in the record that it lacks.
	q = `SELECT e.credit_code, e.name FROM employers e
		WHERE e.status = 'active' AND NOT EXISTS (SELECT 1 FROM feed_rows f WHERE f.feed = $1 AND f.credit_code = e.credit_code)
		ORDER BY e.credit_code`
	return r.query(ctx, q, []any{r.feed.ID}, func(rows store.Rows) error {
		var code, name string
		if err := rows.Scan(&code, &name); err != nil {
			return err
		}
		if err := r.read(ctx, false); err != nil {
			return err
		}
		return r.add(ctx, Difference{Kind: DiffEmployerAbsentFromFeed, Employer: code, Feed: "absent", Record: "active: " + name, Key: code + "/absent",
			Detail: fmt.Sprintf("employer %s (%s) is active in the record but not in market regulation's complete list", code, name)})
	})
}
