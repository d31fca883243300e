package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Query log actor kinds.
const (
	ActorStaff    = "staff"
	ActorEmployer = "employer"
)

// QueryEntry is one view of a person's data by someone other than that person (Q7): who, when, whose data,
// which page and fields, and for what purpose.
type QueryEntry struct {
	ID        int64
	At        time.Time
	ActorKind string // ActorStaff or ActorEmployer
	Actor     string // the staff user name, or the employer portal account
	Person    string // the person key
	Page      string // the page shown, e.g. "console/person"
	Fields    string // the groups of fields shown, comma-separated
	Purpose   string // the purpose code the viewer gave (staff) or the fixed purpose of the page (employer)
}

// QueryFilter narrows ListQueries; empty fields match everything.
type QueryFilter struct {
	Person string
	Actor  string
}

// AppendQuery writes one entry to the query log. The log is append-only: no code path changes or deletes it.
func AppendQuery(ctx context.Context, d store.Driver, e QueryEntry) error {
	if e.Person == "" || e.Actor == "" || e.Page == "" || e.Purpose == "" {
		return record.Invalid("query_log", "required", "a query log entry needs actor, person, page and purpose")
	}
	tx, err := d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		e.At.UnixMilli(), e.ActorKind, e.Actor, e.Person, e.Page, e.Fields, e.Purpose); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// ListQueries returns the entries matching f, newest first, limit of them (1 to 1000) after skipping offset, and
// how many match.
func ListQueries(ctx context.Context, d store.Driver, f QueryFilter, offset, limit int) ([]QueryEntry, int, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "range", "offset from 0 and limit 1 to 1000")
	}
	var where []string
	var args []any
	if f.Person != "" {
		args = append(args, f.Person)
		where = append(where, fmt.Sprintf("person = $%d", len(args)))
	}
	if f.Actor != "" {
		args = append(args, f.Actor)
		where = append(where, fmt.Sprintf("actor = $%d", len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM query_log"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT id, at, actor_kind, actor, person, page, fields, purpose FROM query_log%s ORDER BY id DESC LIMIT $%d OFFSET $%d",
		cond, len(args)+1, len(args)+2), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []QueryEntry
	for rows.Next() {
		var e QueryEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.ActorKind, &e.Actor, &e.Person, &e.Page, &e.Fields, &e.Purpose); err != nil {
			return nil, 0, err
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, int(total), rows.Err()
}
