package feed

import (
	"context"
	"fmt"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Deaths and identity changes (civil affairs, public security) are matched with the persons projection by the ID
// number's keyed index, row by row; benefits and contributions after a reported death are found by joining the
// death rows with the benefit payments and contributions of the person (both indexed by person). A death or a
// change of someone not registered here concerns no record and is not a difference.
func (r *runner) personEvents(ctx context.Context) error {
	q := `SELECT f.line, f.id_index, f.id_masked, f.event, f.event_date, f.name, f.new_masked,
			COALESCE(p.person, ''), COALESCE(p.name, ''), COALESCE(p.status, ''), COALESCE(p.death_date, ''), COALESCE(n.person, '')
		FROM feed_rows f
		LEFT JOIN persons p ON p.id_index = f.id_index
		LEFT JOIN persons n ON n.id_index = f.new_index AND f.new_index <> ''
		WHERE f.feed = $1 ORDER BY f.line`
	err := r.query(ctx, q, []any{r.feed.ID}, func(rows store.Rows) error {
		var line int64
		var index, masked, event, date, name, newMasked, person, recName, status, death, newPerson string
		if err := rows.Scan(&line, &index, &masked, &event, &date, &name, &newMasked, &person, &recName, &status, &death, &newPerson); err != nil {
			return err
		}
		if err := r.read(ctx, true); err != nil {
			return err
		}
		d := Difference{Line: line, Person: person, IDMasked: masked}
		switch event {
		case EventDeath:
			if person == "" {
				return nil
			}
			if name != "" && name != recName {
				n := d
				n.Kind, n.Feed, n.Record, n.Key = DiffNameDiffers, name, recName, person+"/name"
				n.Detail = fmt.Sprintf("%s: the department reports the name %s, the record holds %s", masked, name, recName)
				if err := r.add(ctx, n); err != nil {
					return err
				}
			}
			switch {
			case status != "deceased":
				d.Kind, d.Feed, d.Record, d.Key = DiffDeathNotRecorded, "died "+date, "status "+status, person+"/death"
				d.Detail = fmt.Sprintf("%s died on %s; the record holds the person as %s", masked, date, status)
			case death != date:
				d.Kind, d.Feed, d.Record, d.Key = DiffDeathDateDiffers, "died "+date, "died "+death, person+"/death_date"
				d.Detail = fmt.Sprintf("%s: date of death %s reported, %s recorded", masked, date, death)
			default:
				return nil
			}
		case EventIDChange:
			switch {
			case person != "" && newPerson == "":
				d.Kind, d.Feed, d.Record, d.Key = DiffIDChangeNotRecorded, "new ID "+newMasked+" from "+date, "old ID "+masked, person+"/id_change"
				d.Detail = fmt.Sprintf("the ID number %s was changed to %s on %s; the record still holds the old number", masked, newMasked, date)
			case person != "" && newPerson != "":
				d.Kind, d.Feed, d.Record, d.Key = DiffDuplicateIdentity, masked+" → "+newMasked, "two persons: "+person+", "+newPerson, person+"/"+newPerson
				d.Detail = fmt.Sprintf("the ID number %s was changed to %s on %s; both are registered here, as persons %s and %s", masked, newMasked, date, person, newPerson)
			default:
				return nil
			}
		case EventNameChange:
			if person == "" || name == recName {
				return nil
			}
			d.Kind, d.Feed, d.Record, d.Key = DiffNameDiffers, name, recName, person+"/name"
			d.Detail = fmt.Sprintf("%s changed name to %s on %s; the record holds %s", masked, name, date, recName)
		default:
			return nil
		}
		return r.add(ctx, d)
	})
	if err != nil {
		return err
	}
	for _, after := range []struct {
		kind, table, what, cols string
	}{
		{DiffBenefitAfterDeath, "benefit_payments", "benefit", "b.kind, b.amount"},
		{DiffContributionAfterDeath, "contributions", "contribution", "b.type, b.base"},
	} {
		q := `SELECT f.line, f.event_date, f.id_masked, p.person, b.seq, b.period, ` + after.cols + `
			FROM feed_rows f JOIN persons p ON p.id_index = f.id_index JOIN ` + after.table + ` b ON b.person = p.person
			WHERE f.feed = $1 AND f.event = $2 AND b.period > f.period
			ORDER BY f.line, b.period, b.seq`
		err := r.query(ctx, q, []any{r.feed.ID, EventDeath}, func(rows store.Rows) error {
			var line, seq, period, amount int64
			var date, masked, person, kind string
			if err := rows.Scan(&line, &date, &masked, &person, &seq, &period, &kind, &amount); err != nil {
				return err
			}
			if err := r.read(ctx, false); err != nil {
				return err
			}
			d := Difference{Kind: after.kind, Line: line, Person: person, IDMasked: masked, Period: record.Period(period), Seq: seq,
				Feed: "died " + date, Key: fmt.Sprintf("%s/%d", person, seq)}
			if after.kind == DiffBenefitAfterDeath {
				d.Record = fmt.Sprintf("%s benefit %s for %d", kind, record.Fen(amount), period)
				d.Detail = fmt.Sprintf("%s died on %s; a %s benefit of %s was paid for %d (event %d)", masked, date, kind, record.Fen(amount), period, seq)
			} else {
				d.Type = kind
				d.Record = fmt.Sprintf("%s contribution for %d, base %s", kind, period, record.Fen(amount))
				d.Detail = fmt.Sprintf("%s died on %s; a %s contribution is recorded for %d (event %d)", masked, date, kind, period, seq)
			}
			return r.add(ctx, d)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
