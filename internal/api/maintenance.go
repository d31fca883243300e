package api

import (
	"net/http"
	"strconv"
	"time"

	"sirec/internal/auth"
	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/store"
)

func maintenanceFilter(r *http.Request) (store.MaintenanceFilter, error) {
	q := r.URL.Query()
	f := store.MaintenanceFilter{Person: q.Get("person"), User: q.Get("user"), Type: q.Get("type")}
	var err error
	f.From, f.To, err = record.DayRange(q.Get("from"), q.Get("to"), time.UTC)
	return f, err
}

// logMaintenanceRead registers a read of each person the entries name (their changes show the person's data),
// before they are served (Q7).
func (s *Server) logMaintenanceRead(r *http.Request, p *auth.Principal, page string, entries []store.MaintenanceEntry) error {
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Person == "" || seen[e.Person] {
			continue
		}
		seen[e.Person] = true
		if err := s.logQuery(r, p, e.Person, page, "maintenance log entry "+strconv.FormatInt(e.Seq, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) maintenanceLog(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := maintenanceFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	entries, total, err := s.Store.MaintenanceLog(r.Context(), f, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logMaintenanceRead(r, p, "api/maintenance/log", entries); err != nil {
		s.writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []store.MaintenanceEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "total": total, "offset": offset, "limit": limit})
}

// maintenanceExport writes every entry the filters select (at most 100,000) as CSV or XLSX.
func (s *Server) maintenanceExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := maintenanceFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ctype == "" {
		s.writeError(w, r, record.Invalid("format", "export_format", "format must be csv or xlsx"))
		return
	}
	entries, total, err := s.Store.MaintenanceLog(r.Context(), f, 0, 10000)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if total > int64(len(entries)) {
		s.writeError(w, r, record.Invalid("from", "export_size", "%d entries match; narrow the filters to at most 10,000 per export", total))
		return
	}
	if err := s.logMaintenanceRead(r, p, "api/maintenance/log/export", entries); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="maintenance-log.`+format+`"`)
	if err := export.Write(w, format, export.MaintenanceLog(entries)); err != nil {
		s.Logger.Error("maintenance export", "err", err)
	}
}
