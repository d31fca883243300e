package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sirec/internal/store"
)

// LogEntry is one line of the authentication log: who (Actor) did what (Action) to whom (Subject), when.
type LogEntry struct {
	ID      int64
	At      time.Time
	Actor   string // the acting user, or the name tried for a sign-in; "" for a malformed one
	Action  string // one of the Action… constants
	Subject string // the user acted on
	Detail  string
}

// LogFilter narrows Log. Empty fields match everything; From and To bound At (inclusive, exclusive).
type LogFilter struct {
	Actor   string
	Subject string
	Action  string
	From    time.Time
	To      time.Time
}

// appendLog writes one entry. The log is append-only: this package has no path that changes or deletes it.
func appendLog(ctx context.Context, tx store.Tx, now time.Time, actor, action, subject, detail string) error {
	_, err := tx.Exec(ctx, "INSERT INTO auth_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
		ms(now), actor, action, subject, detail)
	return err
}

// Log returns log entries matching f, newest first, limit of them (0 means 100, at most MaxPage) after skipping
// offset, and the number of entries matching. It is for supervisors: the caller checks ScopeLogsRead.
func (s *Service) Log(ctx context.Context, f LogFilter, offset, limit int) ([]LogEntry, int, error) {
	limit, err := validatePage(offset, limit)
	if err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.Subject != "" {
		add("subject = $%d", f.Subject)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if !f.From.IsZero() {
		add("at >= $%d", ms(f.From))
	}
	if !f.To.IsZero() {
		add("at < $%d", ms(f.To))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var out []LogEntry
	var total int64
	err = s.read(ctx, func(tx store.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM auth_log"+cond, args...).Scan(&total); err != nil {
			return err
		}
		q := fmt.Sprintf("SELECT id, at, actor, action, subject, detail FROM auth_log%s ORDER BY id DESC LIMIT $%d OFFSET $%d",
			cond, len(args)+1, len(args)+2)
		rows, err := tx.Query(ctx, q, append(args, limit, offset)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e LogEntry
			var at int64
			if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
				return err
			}
			e.At = fromMS(at)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return out, int(total), nil
}
