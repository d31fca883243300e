package archive

import (
	"context"
	"fmt"
	"strings"

	"sirec/internal/review"
)

// SyncIndex brings the index of which persons each draft with materials concerns (archive_draft_persons) up to
// date: a draft's facts are sealed (they name persons by ID number), so the index is built by opening them, for
// every draft with materials whose content or state changed since it was last indexed. The index holds person
// keys only.
func (s *Service) SyncIndex(ctx context.Context) error {
	type todo struct{ id, updated int64 }
	var drafts []todo
	err := func() error {
		tx, err := s.st.Driver().Begin(ctx, false)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		rows, err := tx.Query(ctx, `SELECT d.id, d.updated_at FROM review_drafts d
			WHERE EXISTS (SELECT 1 FROM review_draft_materials dm WHERE dm.draft_id = d.id)
			AND NOT EXISTS (SELECT 1 FROM archive_indexed a WHERE a.draft_id = d.id AND a.updated_at = d.updated_at) ORDER BY d.id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t todo
			if err := rows.Scan(&t.id, &t.updated); err != nil {
				return err
			}
			drafts = append(drafts, t)
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	for _, t := range drafts {
		d, err := s.rv.Get(ctx, t.id)
		if err != nil {
			return err
		}
		persons, err := s.persons(ctx, d)
		if err != nil {
			return err
		}
		err = func() error {
			tx, err := s.st.Driver().Begin(ctx, true)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			// The index is derived data: a draft's rows are replaced whole.
			if _, err := tx.Exec(ctx, "DELETE FROM archive_draft_persons WHERE draft_id = $1", t.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DELETE FROM archive_indexed WHERE draft_id = $1", t.id); err != nil {
				return err
			}
			rows := make([][]any, 0, len(persons))
			for _, p := range persons {
				rows = append(rows, []any{t.id, p})
			}
			if len(rows) > 0 {
				if err := tx.CopyRows(ctx, "archive_draft_persons", []string{"draft_id", "person"}, rows); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, "INSERT INTO archive_indexed (draft_id, updated_at) VALUES ($1, $2)", t.id, d.UpdatedAt.UnixMilli()); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}()
		if err != nil {
			return fmt.Errorf("archive index of draft %s: %w", review.DraftID(t.id), err)
		}
	}
	return nil
}

// persons returns the distinct person keys a draft's facts concern: a registered person's key by the ID number's
// keyed hash, the key a registration will give for one not registered yet, and the person of any event a fact
// supersedes.
func (s *Service) persons(ctx context.Context, d review.Draft) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	addP := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	number := map[string]string{} // keyed hash → ID number
	var indexes []string
	for _, f := range d.Facts {
		if f.Supersedes != nil {
			if e, _, err := s.st.Event(ctx, *f.Supersedes); err == nil {
				addP(e.Person)
			}
		}
		if f.IDNumber != "" {
			i := s.st.Keys().IndexID(f.IDNumber)
			if _, dup := number[i]; !dup {
				number[i] = f.IDNumber
				indexes = append(indexes, i)
			}
		}
	}
	found := map[string]string{}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	const chunk = 500
	for lo := 0; lo < len(indexes); lo += chunk {
		part := indexes[lo:min(lo+chunk, len(indexes))]
		ph := make([]string, len(part))
		args := make([]any, len(part))
		for i, v := range part {
			ph[i], args[i] = fmt.Sprintf("$%d", i+1), v
		}
		rows, err := tx.Query(ctx, "SELECT id_index, person FROM persons WHERE id_index IN ("+strings.Join(ph, ", ")+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var i, p string
			if err := rows.Scan(&i, &p); err != nil {
				rows.Close()
				return nil, err
			}
			found[i] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	tx.Rollback(ctx)
	for _, i := range indexes {
		p, ok := found[i]
		if !ok { // not registered yet: the key a registration would give
			if p, _, err = s.st.PersonKeyOf(ctx, number[i]); err != nil {
				return nil, err
			}
		}
		addP(p)
	}
	return out, nil
}
