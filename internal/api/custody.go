package api

import (
	"net/http"
	"strconv"

	"sirec/internal/auth"
	"sirec/internal/custody"
	"sirec/internal/record"
)

// custodians read the custody log: supervision and the information unit. The routes read no one's record.
var custodians = []auth.Post{auth.PostSupervisor, auth.PostSysadmin, auth.PostDBAdmin}

// custodyRoutes are the read-only routes of backups and restore drills (R9.2, R9.3).
func (s *Server) custodyRoutes() []route {
	return []route{
		{"GET", "/api/v1/custody", "Backups and restore drills: schedule, last good runs, alerts, metrics, and the runs (paged: offset, limit; kind=backup|drill)", custodians, "", "", s.custodyStatus},
		{"GET", "/api/v1/custody/runs/{id}", "One backup or restore drill with its report", custodians, "", "", s.custodyRun},
		{"GET", "/api/v1/custody/metrics", "The custody metrics in the Prometheus text format (failures are non-zero counters)", custodians, "", "", s.custodyMetrics},
	}
}

func (s *Server) schedule() *custody.Schedule {
	if s.Custody == nil {
		return nil
	}
	return &s.Custody.Schedule
}

func (s *Server) custodyStatus(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kind := r.URL.Query().Get("kind")
	st, err := custody.ReadStatus(r.Context(), s.Store.Driver(), s.schedule(), s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, total, err := custody.ListRuns(r.Context(), s.Store.Driver(), kind, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if runs == nil {
		runs = []custody.Run{}
	}
	if st.Alerts == nil {
		st.Alerts = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": st, "runs": runs, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) custodyRun(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.writeError(w, r, record.Invalid("id", "run_id", "a run is named by its number"))
		return
	}
	run, err := custody.GetRun(r.Context(), s.Store.Driver(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (s *Server) custodyMetrics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	st, err := custody.ReadStatus(r.Context(), s.Store.Driver(), s.schedule(), s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(st.Metrics.Prometheus()))
}
