package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sirec/internal/journal"
	"sirec/internal/record"
)

var colsMaintenance = []string{"seq", "at", "draft", "person", "types", "reason", "method", "responsible", "reviewers", "changes"}

// applyMaintenance projects a maintenance log entry into the searchable maintenance_log table.
func (p *projector) applyMaintenance(ctx context.Context, e *journal.Event, fact record.Fact) error {
	f, err := decode[record.MaintenanceLogged](e, fact)
	if err != nil {
		return err
	}
	var types []string
	for _, c := range f.Changes {
		if !strings.Contains(","+strings.Join(types, ",")+",", ","+c.Type+",") {
			types = append(types, c.Type)
		}
	}
	changes, _ := json.Marshal(f.Changes)
	return p.insert(ctx, "maintenance_log", colsMaintenance, e.Seq, e.At.UnixMilli(), f.Draft, f.Person, ","+strings.Join(types, ",")+",",
		f.Reason, f.Method, f.Responsible, ","+strings.Join(f.Reviewers, ",")+",", string(changes))
}

// MaintenanceEntry is one entry of the maintenance log (维护日志, R12).
type MaintenanceEntry struct {
	Seq         int64                      `json:"seq"`
	At          time.Time                  `json:"at"`
	Draft       string                     `json:"draft"`
	Person      string                     `json:"person,omitempty"`
	Types       []string                   `json:"types"`
	Reason      string                     `json:"reason"`
	Method      string                     `json:"method"`
	Responsible string                     `json:"responsible"`
	Reviewers   []string                   `json:"reviewers"`
	Changes     []record.MaintenanceChange `json:"changes"`
}

// MaintenanceFilter selects maintenance log entries; empty fields select everything.
type MaintenanceFilter struct {
	Person string    // person key
	User   string    // responsible or reviewer
	Type   string    // event type changed, e.g. contribution.posted
	From   time.Time // recorded at or after
	To     time.Time // recorded before
}

// MaintenanceLog searches the maintenance log, newest first, and returns one page and the total.
func (s *Store) MaintenanceLog(ctx context.Context, f MaintenanceFilter, offset, limit int) ([]MaintenanceEntry, int64, error) {
	if offset < 0 || limit < 1 || limit > 10000 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 10000 and offset 0 or more")
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Person != "" {
		add("person = $%d", f.Person)
	}
	if f.User != "" {
		args = append(args, f.User, "%:"+f.User+",%")
		where = append(where, fmt.Sprintf("(responsible = $%d OR reviewers LIKE $%d)", len(args)-1, len(args)))
	}
	if f.Type != "" {
		add("types LIKE $%d", "%,"+f.Type+",%")
	}
	if !f.From.IsZero() {
		add("at >= $%d", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("at < $%d", f.To.UnixMilli())
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM maintenance_log"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, limit, offset)
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT seq, at, draft, person, types, reason, method, responsible, reviewers, changes FROM maintenance_log%s ORDER BY seq DESC LIMIT $%d OFFSET $%d",
		cond, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []MaintenanceEntry
	for rows.Next() {
		var m MaintenanceEntry
		var at int64
		var types, reviewers, changes string
		if err := rows.Scan(&m.Seq, &at, &m.Draft, &m.Person, &types, &m.Reason, &m.Method, &m.Responsible, &reviewers, &changes); err != nil {
			return nil, 0, err
		}
		m.At = time.UnixMilli(at).UTC()
		m.Types = strings.Split(strings.Trim(types, ","), ",")
		m.Reviewers = strings.Split(strings.Trim(reviewers, ","), ",")
		if err := json.Unmarshal([]byte(changes), &m.Changes); err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}
