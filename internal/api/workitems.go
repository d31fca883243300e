package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/workitem"
)

// Work items (工作事项) and the data checks that raise them (R9.2, R11.1).

func (s *Server) items() *workitem.Service { return workitem.New(s.Store, s.Auth) }

// checkRunner is the runner serve shares with its scheduler, or one of its own.
func (s *Server) checkRunner() *check.Runner {
	if s.Checks != nil {
		return s.Checks
	}
	return &check.Runner{Store: s.Store, Items: s.items(), Logger: s.Logger}
}

func itemFilter(r *http.Request) (workitem.Filter, workitem.Sort, error) {
	q := r.URL.Query()
	f := workitem.Filter{Status: q.Get("status"), Severity: q.Get("severity"), Source: q.Get("source"), Kind: q.Get("kind"),
		Assignee: q.Get("assignee"), Person: q.Get("person"), Gone: q.Get("gone")}
	if v := q.Get("draft"); v != "" {
		id, err := parseDraft("draft", v)
		if err != nil {
			return f, workitem.Sort{}, err
		}
		f.Draft = id
	}
	o, err := workitem.ParseSort(q.Get("sort"))
	if err != nil {
		return f, o, err
	}
	return f, o, f.Validate()
}

// parseDraft reads a draft number such as D000042.
func parseDraft(field, v string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v)), "D"), 10, 64)
	if err != nil || id <= 0 {
		return 0, record.Invalid(field, "draft_id", "%q is not a draft number such as D000042", v)
	}
	return id, nil
}

func (s *Server) workItems(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, o, err := itemFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Person != "" {
		// A list about one person is a read of that person's data (Q7).
		if err := s.logQuery(r, p, f.Person, "api/workitems", "work items"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	items, total, err := s.items().List(r.Context(), f, o, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sum, err := s.items().Summarise(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": total, "offset": offset, "limit": limit, "sort": o.String(), "summary": sum})
}

// workItemsExport writes every item the filters select (at most workitem.MaxExport) as CSV or XLSX.
func (s *Server) workItemsExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, o, err := itemFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	ctype := exportTypes[format]
	if ctype == "" {
		s.writeError(w, r, record.Invalid("format", "export_format", "format must be csv or xlsx"))
		return
	}
	items, total, err := s.items().List(r.Context(), f, o, 0, workitem.MaxExport)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if total > int64(len(items)) {
		s.writeError(w, r, record.Invalid("status", "export_size", "%d items match; narrow the filters to at most %d per export", total, workitem.MaxExport))
		return
	}
	if f.Person != "" {
		if err := s.logQuery(r, p, f.Person, "api/workitems/export", "work items"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="work-items.`+format+`"`)
	if err := export.Write(w, format, export.WorkItems(items)); err != nil {
		s.Logger.Error("work items export", "err", err)
	}
}

var exportTypes = map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

func itemID(r *http.Request) (int64, error) { return workitem.ParseNumber("id", r.PathValue("id")) }

func (s *Server) workItem(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := itemID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	it, err := s.items().Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if it.Person != "" {
		if err := s.logQuery(r, p, it.Person, "api/workitems", "work item "+it.Number); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, it)
}

// itemAction decodes the body into in, runs do on the item named in the path, and answers with the item.
func (s *Server) itemAction(w http.ResponseWriter, r *http.Request, in any, do func(id int64) (workitem.Item, error)) {
	id, err := itemID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := decodeJSON(r, in); err != nil {
		s.writeError(w, r, err)
		return
	}
	it, err := do(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, it)
}

func (s *Server) assignItem(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Assignee string `json:"assignee"`
	}
	s.itemAction(w, r, &in, func(id int64) (workitem.Item, error) {
		if strings.TrimSpace(in.Assignee) == "" {
			return workitem.Item{}, record.Invalid("assignee", "required", "name the maintainer to assign the item to")
		}
		return s.items().Assign(r.Context(), actor(p), id, strings.TrimSpace(in.Assignee))
	})
}

func (s *Server) linkItem(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Draft string `json:"draft"`
	}
	s.itemAction(w, r, &in, func(id int64) (workitem.Item, error) {
		d, err := parseDraft("draft", in.Draft)
		if err != nil {
			return workitem.Item{}, err
		}
		return s.items().Link(r.Context(), actor(p), id, d)
	})
}

func (s *Server) proposeDismissal(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Grounds string `json:"grounds"`
		Reason  string `json:"reason"`
	}
	s.itemAction(w, r, &in, func(id int64) (workitem.Item, error) {
		return s.items().ProposeDismissal(r.Context(), actor(p), id, in.Grounds, in.Reason)
	})
}

func (s *Server) decideDismissal(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	s.itemAction(w, r, &in, func(id int64) (workitem.Item, error) {
		return s.items().DecideDismissal(r.Context(), actor(p), id, in.Decision, in.Reason)
	})
}

// checkInfo is a check as the API lists it.
type checkInfo struct {
	Name        string `json:"name"`
	Severity    string `json:"severity"`
	Description string `json:"description"`
}

func (s *Server) checks(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	var list []checkInfo
	for _, c := range check.Checks {
		list = append(list, checkInfo{c.Name, c.Severity, c.Description})
	}
	out := map[string]any{"checks": list}
	last, ok, err := s.checkRunner().Last(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok {
		out["last_run"] = last
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) checkRuns(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, total, err := s.checkRunner().Runs(r.Context(), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) checkRun(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := check.ParseRunNumber("id", r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.checkRunner().Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// startChecks starts a run of the checks in the background and answers 202 with the run; its progress is read
// from GET /api/v1/checks/runs/{id}.
func (s *Server) startChecks(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Only []string `json:"only"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.checkRunner().Start(r.Context(), check.Trigger{Kind: check.TriggerConsole, By: p.Username}, in.Only)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/checks/runs/"+run.Number)
	writeJSON(w, http.StatusAccepted, run)
}

// maintenanceRoutes are the routes of work items, data checks, the archive and outside helpers (issue 6).
func (s *Server) maintenanceRoutes() []route {
	maintainers := []auth.Post{auth.PostMaintainer}
	retentionReaders := append(slices.Clone(draftSeen), auth.PostSysadmin)
	return []route{
		{"GET", "/api/v1/workitems", "Work items raised by the data checks: status, severity, source, kind, assignee (- for none), person, gone (yes|no), draft; sort (id, severity, kind, status, assignee, period, updated; - for descending); paged", draftSeen, auth.ScopeDraftsRead, "", s.workItems},
		{"GET", "/api/v1/workitems/export", "Export work items as format=csv or xlsx, with the same filters", draftSeen, auth.ScopeDraftsRead, "", s.workItemsExport},
		{"GET", "/api/v1/workitems/{id}", "A work item with its history", draftSeen, auth.ScopeDraftsRead, "", s.workItem},
		{"POST", "/api/v1/workitems/{id}/assign", "Assign a work item to a maintainer: {\"assignee\":\"…\"}", maintainers, auth.ScopeMaintain, "json", s.assignItem},
		{"POST", "/api/v1/workitems/{id}/link", "Reference a work item from a maintenance draft in review: {\"draft\":\"D000042\"}; its approval closes the item", maintainers, auth.ScopeMaintain, "json", s.linkItem},
		{"POST", "/api/v1/workitems/{id}/dismissal", "Propose dismissing a work item: {\"grounds\":\"not_a_fault|resolved_by_data\",\"reason\":\"…\"}", maintainers, auth.ScopeMaintain, "json", s.proposeDismissal},
		{"POST", "/api/v1/workitems/{id}/dismissal/decision", "Approve or reject a proposed dismissal (a review post, not the proposer): {\"decision\":\"approve|reject\",\"reason\":\"…\"}", reviewers, "", "json", s.decideDismissal},
		{"GET", "/api/v1/checks", "The data checks and the latest run", draftSeen, auth.ScopeDraftsRead, "", s.checks},
		{"GET", "/api/v1/checks/runs", "Runs of the data checks, newest first (paged)", draftSeen, auth.ScopeDraftsRead, "", s.checkRuns},
		{"GET", "/api/v1/checks/runs/{id}", "One run of the data checks, with its progress", draftSeen, auth.ScopeDraftsRead, "", s.checkRun},
		{"POST", "/api/v1/checks/runs", "Run the data checks now, in the background: {\"only\":[names]} (empty: all); answers 202 with the run", maintainers, auth.ScopeMaintain, "json", s.startChecks},
		{"GET", "/api/v1/archive", "Archived materials: person, draft, user, type, stage, from, to (YYYY-MM-DD); sort (added, name, type, size, draft; - for descending); paged; with retention and kept-until dates", draftSeen, auth.ScopeDraftsRead, "", s.archiveList},
		{"GET", "/api/v1/archive/export", "Export the archive listing as format=csv or xlsx, with the same filters", draftSeen, auth.ScopeDraftsRead, "", s.archiveExport},
		{"GET", "/api/v1/archive/materials/{sha256}", "An archived material (?draft= to name the draft), checked against its SHA-256; 409 material_hash when it no longer matches", draftSeen, auth.ScopeDraftsRead, "", s.archiveMaterial},
		{"GET", "/api/v1/archive/retention", "The retention period of every material type, and the changes made to them", retentionReaders, "", "", s.retention},
		{"PUT", "/api/v1/archive/retention/{kind}", "Set a material type's retention period: {\"years\":N (0 permanent),\"reason\":\"…\"}", admins, auth.ScopeUsersAdmin, "json", s.setRetention},
		{"POST", "/api/v1/users/{username}/enable", "Enable a disabled or locked-out user (an outside helper only with a confidentiality agreement in force)", admins, auth.ScopeUsersAdmin, "", s.enableUser},
		{"POST", "/api/v1/users/{username}/external", "Mark a user as an outside helper or as the agency's own staff: {\"external\":true|false}", admins, auth.ScopeUsersAdmin, "json", s.setExternal},
		{"GET", "/api/v1/users/{username}/agreements", "A user's confidentiality agreements", admins, auth.ScopeUsersAdmin, "", s.agreements},
		{"POST", "/api/v1/users/{username}/agreements", "File a signed confidentiality agreement: the document as the body; ?name=&signed_on=&expires_on= (YYYY-MM-DD)", admins, auth.ScopeUsersAdmin, "file", s.addAgreement},
		{"GET", "/api/v1/users/{username}/agreements/{sha256}", "A confidentiality agreement's document, checked against its SHA-256", admins, auth.ScopeUsersAdmin, "", s.agreementDocument},
	}
}
