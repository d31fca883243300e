package archive

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// MaxYears is the longest fixed retention period; 0 means permanent.
const MaxYears = 200

// Retention is a material type's retention setting.
type Retention struct {
	Type
	Years     int       `json:"years"` // 0: permanent
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// RetentionChange is one change of a retention setting, as the append-only archive_retention_log keeps it.
type RetentionChange struct {
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Type     string    `json:"type"`
	OldYears int       `json:"old_years"`
	NewYears int       `json:"new_years"`
	Reason   string    `json:"reason"`
}

// Retentions returns every material type's retention setting.
func (s *Service) Retentions(ctx context.Context) ([]Retention, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	set := map[string]Retention{}
	rows, err := tx.Query(ctx, "SELECT type, years, updated_by, updated_at FROM archive_retention")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r Retention
		var at int64
		if err := rows.Scan(&r.Name, &r.Years, &r.UpdatedBy, &at); err != nil {
			return nil, err
		}
		r.UpdatedAt = time.UnixMilli(at).UTC()
		set[r.Name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Retention
	for _, t := range Types() {
		r, ok := set[t.Name]
		if !ok {
			r = Retention{Years: t.Default}
		}
		r.Type = t
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) retentionYears(ctx context.Context) (map[string]int, error) {
	rs, err := s.Retentions(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int, len(rs))
	for _, r := range rs {
		m[r.Name] = r.Years
	}
	return m, nil
}

// SetRetention sets a material type's retention period in years (0: permanent), with a reason. Only a system
// administrator may; every change is kept in the archive's retention log. No material is deleted by it.
func (s *Service) SetRetention(ctx context.Context, actor review.Actor, typ string, years int, reason string) (Retention, error) {
	if !slices.Contains(actor.Posts, "sysadmin") {
		return Retention{}, record.Errorf(record.EForbidden, "only a system administrator (系统管理员) sets retention periods")
	}
	t, ok := typeOf(typ)
	if !ok {
		names := make([]string, 0)
		for _, t := range Types() {
			names = append(names, t.Name)
		}
		return Retention{}, record.Invalid("type", "material_type", "%q is not a material type; the types are %s", typ, strings.Join(names, ", "))
	}
	var errs record.Errors
	if years < 0 || years > MaxYears {
		errs.Append("years", record.Invalid("", "retention_years", "years must be 0 (permanent) or 1 to %d, not %d", MaxYears, years))
	}
	if r := strings.TrimSpace(reason); r == "" || utf8.RuneCountInString(r) > 500 {
		errs.Append("reason", record.Invalid("", "reason_required", "say why the retention period changes (at most 500 characters), e.g. the archive plan it follows"))
	}
	if err := errs.Err(); err != nil {
		return Retention{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Retention{}, err
	}
	defer tx.Rollback(ctx)
	old := t.Default
	err = tx.QueryRow(ctx, "SELECT years FROM archive_retention WHERE type = $1", typ).Scan(&old)
	switch {
	case errors.Is(err, store.ErrNoRows):
		_, err = tx.Exec(ctx, "INSERT INTO archive_retention (type, years, updated_at, updated_by) VALUES ($1, $2, $3, $4)", typ, years, now.UnixMilli(), actor.User)
	case err == nil:
		if old == years {
			return Retention{}, record.Errorf(record.EConflict, "the retention period of %s is %d already", typ, years)
		}
		_, err = tx.Exec(ctx, "UPDATE archive_retention SET years = $1, updated_at = $2, updated_by = $3 WHERE type = $4", years, now.UnixMilli(), actor.User, typ)
	}
	if err != nil {
		return Retention{}, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO archive_retention_log (at, actor, type, old_years, new_years, reason) VALUES ($1, $2, $3, $4, $5, $6)",
		now.UnixMilli(), actor.User, typ, old, years, strings.TrimSpace(reason)); err != nil {
		return Retention{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Retention{}, err
	}
	return Retention{Type: t, Years: years, UpdatedBy: actor.User, UpdatedAt: now}, nil
}

// RetentionLog returns the changes of retention settings, newest first.
func (s *Service) RetentionLog(ctx context.Context, offset, limit int) ([]RetentionChange, int64, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 1000 and offset 0 or more")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM archive_retention_log").Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, "SELECT at, actor, type, old_years, new_years, reason FROM archive_retention_log ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []RetentionChange{}
	for rows.Next() {
		var c RetentionChange
		var at int64
		if err := rows.Scan(&at, &c.Actor, &c.Type, &c.OldYears, &c.NewYears, &c.Reason); err != nil {
			return nil, 0, err
		}
		c.At = time.UnixMilli(at).UTC()
		out = append(out, c)
	}
	return out, total, rows.Err()
}
