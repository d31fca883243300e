package web

import (
	"context"
	"time"

	"sirec/internal/querylog"
	"sirec/internal/store"
)

// Query log actor kinds.
const (
	ActorStaff    = querylog.ActorStaff
	ActorEmployer = querylog.ActorEmployer
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
	// Application is the proxy authorisation or other body's application the view was made under, if any.
	Application string
}

// QueryFilter narrows ListQueries; empty fields match everything.
type QueryFilter struct {
	Person string
	Actor  string
}

// StaffQueryLog is the API's query log (api.Server.QueryLog): each read by a staff user or machine client
// becomes a query-log entry through AppendQuery.
func StaffQueryLog(d store.Driver) func(ctx context.Context, actor, person, page, fields, purpose string) error {
	return func(ctx context.Context, actor, person, page, fields, purpose string) error {
		return AppendQuery(ctx, d, QueryEntry{At: time.Now(), ActorKind: ActorStaff, Actor: actor,
			Person: person, Page: page, Fields: fields, Purpose: purpose})
	}
}

// AppendQuery writes one entry to the query log. The log is append-only and hash-chained (internal/querylog):
// no code path changes or deletes it.
func AppendQuery(ctx context.Context, d store.Driver, e QueryEntry) error {
	return querylog.Append(ctx, d, querylog.Entry{At: e.At, ActorKind: e.ActorKind, Actor: e.Actor, Person: e.Person,
		Page: e.Page, Fields: e.Fields, Purpose: e.Purpose, Application: e.Application})
}

// ListQueries returns the entries matching f, newest first, limit of them (1 to 1000) after skipping offset, and
// how many match.
func ListQueries(ctx context.Context, d store.Driver, f QueryFilter, offset, limit int) ([]QueryEntry, int, error) {
	es, total, err := querylog.List(ctx, d, querylog.Filter{Person: f.Person, Actor: f.Actor}, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	var out []QueryEntry
	for _, e := range es {
		out = append(out, QueryEntry{ID: e.ID, At: e.At, ActorKind: e.ActorKind, Actor: e.Actor, Person: e.Person, Page: e.Page,
			Fields: e.Fields, Purpose: e.Purpose, Application: e.Application})
	}
	return out, total, nil
}
