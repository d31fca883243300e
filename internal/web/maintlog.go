package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/export"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// The maintenance log page (维护日志, R12): every maintenance action — time, what changed with the data it
// replaced, reason, handling method, the person responsible and the reviewers — searched by person, user, type
// of data and dates, paged and exported. The entries name persons and show their data, so each person on a page
// or in an export is registered in the query log first (Q7).

const (
	maintLogPageSize = 50
	maintLogMaxRows  = 10000 // an export's limit, as the API's
	maintLogPurpose  = "supervision"
)

var maintLogFields = []string{"person", "user", "type", "from", "to"}

type maintLogData struct {
	Entries []maintLogEntry
	Types   []string
	Pager   pager
	Query   string // the filters, for the export links
}

// maintLogEntry is an entry as the page shows it: each change's data as indented JSON.
type maintLogEntry struct {
	store.MaintenanceEntry
	Shown []maintLogChange
}

type maintLogChange struct {
	Type, Supersedes, Before, After string
}

// maintLogFilterOf reads the page's filters; a date that is not YYYY-MM-DD is an error naming its field.
func maintLogFilterOf(r *http.Request, loc *time.Location) (store.MaintenanceFilter, map[string]string, error) {
	q := r.URL.Query()
	form := map[string]string{}
	for _, k := range maintLogFields {
		form[k] = strings.TrimSpace(q.Get(k))
	}
	f := store.MaintenanceFilter{Person: form["person"], User: form["user"], Type: form["type"]}
	var errs record.Errors
	if f.Type != "" && !slices.Contains(review.Kinds[review.Maintenance].Types, f.Type) {
		errs.Append("", record.Invalid("type", "maintenance_type", "%q is not a type of data maintenance changes", f.Type))
	}
	var dates record.Errors
	var err error
	if f.From, f.To, err = record.DayRange(form["from"], form["to"], loc); errors.As(err, &dates) {
		errs = append(errs, dates...)
	}
	return f, form, errs.Err()
}

// logMaintenanceRead registers, before the entries are shown or exported, one query log entry for each person
// they name.
func (s *server) logMaintenanceRead(ctx context.Context, p *auth.Principal, page string, entries []store.MaintenanceEntry) error {
	var out []querylog.Entry
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Person == "" || seen[e.Person] {
			continue
		}
		seen[e.Person] = true
		out = append(out, querylog.Entry{At: s.cfg.Now(), ActorKind: querylog.ActorStaff, Actor: p.Username, Person: e.Person,
			Page: page, Fields: "maintenance log entry " + strconv.FormatInt(e.Seq, 10), Purpose: maintLogPurpose})
	}
	return querylog.Append(ctx, s.cfg.Store.Driver(), out...)
}

func (s *server) maintLogPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "ml.title")
	f, form, err := maintLogFilterOf(r, s.cfg.Location)
	v.Form = form
	d := maintLogData{Types: review.Kinds[review.Maintenance].Types, Pager: newPager(r, maintLogPageSize)}
	if err != nil {
		v.Data = d
		s.invalidOr(w, r, v, "maintlog", err)
		return
	}
	entries, total, err := s.cfg.Store.MaintenanceLog(ctx, f, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if err := s.logMaintenanceRead(ctx, p, "console/maintenance_log", entries); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for _, e := range entries {
		me := maintLogEntry{MaintenanceEntry: e}
		for _, c := range e.Changes {
			sc := maintLogChange{Type: c.Type, Before: indented(c.Before), After: indented(c.After)}
			if c.Supersedes != nil {
				sc.Supersedes = strconv.FormatInt(*c.Supersedes, 10)
			}
			me.Shown = append(me.Shown, sc)
		}
		d.Entries = append(d.Entries, me)
	}
	d.Pager.setTotal(total)
	q := url.Values{}
	for _, k := range maintLogFields {
		if form[k] != "" {
			q.Set(k, form[k])
		}
	}
	d.Query = q.Encode()
	v.Data = d
	s.render(w, r, http.StatusOK, "maintlog", v)
}

// maintLogExport downloads the entries the filters select, one row per change, as CSV or XLSX.
func (s *server) maintLogExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	f, _, err := maintLogFilterOf(r, s.cfg.Location)
	format := r.URL.Query().Get("format")
	if err != nil || format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	entries, total, err := s.cfg.Store.MaintenanceLog(ctx, f, 0, maintLogMaxRows)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if total > int64(len(entries)) {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "ml.export_too_big")
		return
	}
	if err := s.logMaintenanceRead(ctx, p, "console/maintenance_log_export", entries); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writeTable(w, "maintenance-log", format, export.MaintenanceLog(entries))
}

// indented is JSON data laid out for reading; anything else as it is.
func indented(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(b)
	}
	return string(out)
}
