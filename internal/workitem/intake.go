package workitem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Report says what filing a run's findings did.
type Report struct {
	New        int `json:"new"`        // items opened
	Seen       int `json:"seen"`       // findings that already had an open item
	Reappeared int `json:"reappeared"` // of those, items a run had no longer found before
	Suppressed int `json:"suppressed"` // findings dismissed before as not a fault: not filed again
	Gone       int `json:"gone"`       // open items of the kinds run that this run no longer found
}

// Intake files the findings of one run of a source. Findings are buffered and written in transactions of
// intakeBatch, so memory holds one batch whatever the number of findings.
type Intake struct {
	s      *Service
	source string
	kinds  []string
	run    int64
	actor  string
	now    time.Time
	buf    []Finding
	rep    Report
}

const intakeBatch = 500

// Begin starts filing the findings of run (a number unique within source, such as a check run's) that ran the
// given kinds: when it finishes, open items of those kinds the run did not find are marked as no longer found.
// actor names who files, for the items' history ("check:R000012").
func (s *Service) Begin(source string, kinds []string, run int64, actor string) *Intake {
	return &Intake{s: s, source: source, kinds: kinds, run: run, actor: actor, now: s.now()}
}

// Add files one finding (of the intake's source).
func (in *Intake) Add(ctx context.Context, f Finding) error {
	if f.Source == "" {
		f.Source = in.source
	}
	if f.Source != in.source {
		return record.Invalid("source", "finding_source", "this intake files findings of %s, not %s", in.source, f.Source)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	in.buf = append(in.buf, f)
	if len(in.buf) >= intakeBatch {
		return in.flush(ctx)
	}
	return nil
}

// Finish files what is buffered, marks the items the run no longer found, and reports.
func (in *Intake) Finish(ctx context.Context) (Report, error) {
	if err := in.flush(ctx); err != nil {
		return in.rep, err
	}
	if len(in.kinds) == 0 {
		return in.rep, nil
	}
	ph := make([]string, len(in.kinds))
	args := []any{in.source, StatusClosed, in.run}
	for i, k := range in.kinds {
		args = append(args, k)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	for {
		// In chunks, so that a run after a mass correction does not hold one huge transaction.
		n := 0
		err := in.s.write(ctx, func(tx store.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id, kind FROM work_items WHERE source = $1 AND status <> $2 AND last_run <> $3 AND gone_since = 0
				AND kind IN (`+strings.Join(ph, ", ")+`) ORDER BY id LIMIT 500`, args...)
			if err != nil {
				return err
			}
			type gone struct {
				id   int64
				kind string
			}
			var ids []gone
			for rows.Next() {
				var g gone
				if err := rows.Scan(&g.id, &g.kind); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, g)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, g := range ids {
				if _, err := tx.Exec(ctx, "UPDATE work_items SET gone_since = $1, updated_at = $1 WHERE id = $2", ms(in.now), g.id); err != nil {
					return err
				}
				detail := fmt.Sprintf("run %d of %s no longer finds this fault; close the item by an approved maintenance draft or a reviewed dismissal (grounds: resolved by data)", in.run, g.kind)
				if err := addAction(ctx, tx, g.id, in.now, in.actor, "not_found", detail); err != nil {
					return err
				}
			}
			n = len(ids)
			return nil
		})
		if err != nil {
			return in.rep, err
		}
		in.rep.Gone += n
		if n < 500 {
			return in.rep, nil
		}
	}
}

func (in *Intake) flush(ctx context.Context) error {
	if len(in.buf) == 0 {
		return nil
	}
	batch := in.buf
	in.buf = in.buf[:0:0]
	var rep Report
	err := in.s.write(ctx, func(tx store.Tx) error {
		rep = Report{}
		var next int64
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM work_items").Scan(&next); err != nil {
			return err
		}
		for _, f := range batch {
			fk := f.findingKey()
			var id, gone int64
			err := tx.QueryRow(ctx, "SELECT id, gone_since FROM work_items WHERE finding_key = $1 AND status <> $2", fk, StatusClosed).Scan(&id, &gone)
			if err == nil {
				// Found again: the open item stays the one item of this finding.
				if _, err := tx.Exec(ctx, "UPDATE work_items SET last_run = $1, last_seen = $2, gone_since = 0, severity = $3, detail = $4 WHERE id = $5",
					in.run, ms(in.now), f.Severity, f.Detail, id); err != nil {
					return err
				}
				rep.Seen++
				if gone != 0 {
					rep.Reappeared++
					if _, err := tx.Exec(ctx, "UPDATE work_items SET updated_at = $1 WHERE id = $2", ms(in.now), id); err != nil {
						return err
					}
					if err := addAction(ctx, tx, id, in.now, in.actor, "found_again", fmt.Sprintf("run %d finds this fault again", in.run)); err != nil {
						return err
					}
				}
				continue
			}
			if !errors.Is(err, store.ErrNoRows) {
				return err
			}
			var dismissed int64
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM work_items WHERE finding_key = $1 AND status = $2 AND resolution = $3 AND proposal_grounds = $4",
				fk, StatusClosed, ResolvedByDismissal, GroundsNotAFault).Scan(&dismissed); err != nil {
				return err
			}
			if dismissed > 0 {
				rep.Suppressed++
				continue
			}
			masked, err := in.s.maskedID(ctx, tx, f.Person)
			if err != nil {
				return err
			}
			next++
			if _, err := tx.Exec(ctx, `INSERT INTO work_items (`+itemColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '', '', 0, '', '', '', 0, '', 0,
				$13, $13, $14, 0, $14, $14)`, next, f.Source, f.Kind, fk, f.Severity, f.Person, masked, f.Employer, int64(f.Period), f.Seq, f.Detail,
				StatusOpen, in.run, ms(in.now)); err != nil {
				return err
			}
			if err := addAction(ctx, tx, next, in.now, in.actor, "created", fmt.Sprintf("found by run %d: %s", in.run, f.Detail)); err != nil {
				return err
			}
			rep.New++
		}
		return nil
	})
	if err != nil {
		return err
	}
	in.rep.New += rep.New
	in.rep.Seen += rep.Seen
	in.rep.Reappeared += rep.Reappeared
	in.rep.Suppressed += rep.Suppressed
	return nil
}

// maskedID returns the masked ID number of a person key ("" when there is no such person): items show it so that
// staff can match the item to the paper file without the number in clear (I7).
func (s *Service) maskedID(ctx context.Context, tx store.Tx, person string) (string, error) {
	if person == "" {
		return "", nil
	}
	var sealed []byte
	err := tx.QueryRow(ctx, "SELECT id_sealed FROM persons WHERE person = $1", person).Scan(&sealed)
	if errors.Is(err, store.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id, err := s.st.Keys().OpenID(sealed)
	if err != nil {
		return "", err
	}
	return record.MaskID(id), nil
}
