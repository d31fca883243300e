package api

import (
	"io"
	"net/http"
	"os"
	"strconv"

	"sirec/internal/auth"
	"sirec/internal/feed"
	"sirec/internal/record"
	"sirec/internal/workitem"
)

// maxFeedFile bounds an uploaded feed file; it is spooled to a temporary file, never held in memory.
const maxFeedFile = 4 << 30

// feedRoutes are the routes of reconciliation with other departments (R5.2): importing their feeds, running
// reconciliations and reading what they found.
func (s *Server) feedRoutes() []route {
	return []route{
		{"POST", "/api/v1/feeds", "Import another department's feed file (raw body; ?kind=KIND&name=FILE.csv|.jsonl[&complete=true])", makers, auth.ScopeFeedsWrite, "file", s.importFeed},
		{"GET", "/api/v1/feeds", "Imported feeds, newest first (kind; paged)", draftSeen, auth.ScopeDraftsRead, "", s.listFeeds},
		{"GET", "/api/v1/feeds/{id}", "An imported feed with its reconciliation runs", draftSeen, auth.ScopeDraftsRead, "", s.getFeed},
		{"POST", "/api/v1/feeds/{id}/reconcile", "Reconcile a feed with the record, in the background (?wait=true waits for the end)", makers, auth.ScopeFeedsWrite, "", s.reconcileFeed},
		{"GET", "/api/v1/reconciliations/{id}", "A reconciliation run: progress, differences by kind, work items filed", draftSeen, auth.ScopeDraftsRead, "", s.getRun},
		{"GET", "/api/v1/reconciliations/{id}/differences", "A run's differences (kind, severity, sort; paged)", draftSeen, auth.ScopeDraftsRead, "", s.runDifferences},
		{"GET", "/api/v1/reconciliations/{id}/differences/export", "Export a run's differences as format=csv or xlsx (kind, severity)", draftSeen, auth.ScopeDraftsRead, "", s.exportDifferences},
	}
}

// feeds is the feed service, filing differences as work items.
func (s *Server) feeds() *feed.Service {
	return feed.New(s.Store, workitem.New(s.Store, s.Auth))
}

func (s *Server) importFeed(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	if q.Get("kind") == "" {
		s.writeError(w, r, record.Invalid("kind", "required", "say the kind of feed as ?kind=: %s", feed.KindNames()))
		return
	}
	if q.Get("name") == "" {
		s.writeError(w, r, record.Invalid("name", "required", "say the file's name, ending .csv or .jsonl, as ?name="))
		return
	}
	// Spool the upload: the import reads the file twice (check, then store) and holds one row at a time.
	tmp, err := os.CreateTemp("", "sirec-feed-*")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(r.Body, maxFeedFile+1))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if n > maxFeedFile {
		s.writeError(w, r, record.Invalid("file", "file_size", "a feed file may be at most 4 GiB"))
		return
	}
	f, err := s.feeds().Import(r.Context(), tmp, feed.ImportOptions{Kind: q.Get("kind"), Name: q.Get("name"), Format: q.Get("format"),
		Complete: q.Get("complete") == "true", Actor: p.Username})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

func (s *Server) listFeeds(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, total, err := s.feeds().Feeds(r.Context(), feed.FeedFilter{Kind: r.URL.Query().Get("kind")}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []feed.Feed{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"feeds": list, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) getFeed(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := feed.ParseNumber("feed", "F", r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	svc := s.feeds()
	f, err := svc.Feed(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, total, err := svc.Runs(r.Context(), id, 0, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if runs == nil {
		runs = []feed.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"feed": f, "runs": runs, "runs_total": total})
}

func (s *Server) reconcileFeed(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := feed.ParseNumber("feed", "F", r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	svc := s.feeds()
	if r.URL.Query().Get("wait") == "true" {
		run, err := svc.Reconcile(r.Context(), id, p.Username, nil)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
		return
	}
	run, err := svc.StartInBackground(r.Context(), id, p.Username, s.Logger)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/reconciliations/"+run.Number)
	writeJSON(w, http.StatusAccepted, run)
}

func (s *Server) runID(r *http.Request) (int64, error) {
	return feed.ParseNumber("run", "R", r.PathValue("id"))
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := s.runID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.feeds().Run(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func differenceFilter(r *http.Request) feed.DifferenceFilter {
	q := r.URL.Query()
	return feed.DifferenceFilter{Kind: q.Get("kind"), Severity: q.Get("severity")}
}

func (s *Server) runDifferences(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := s.runID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, total, err := s.feeds().Differences(r.Context(), id, differenceFilter(r), r.URL.Query().Get("sort"), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Every person the answer names is in the query log before it is answered (Q7).
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Person == "" || seen[d.Person] {
			continue
		}
		seen[d.Person] = true
		if err := s.logQuery(r, p, d.Person, "api/reconciliations/differences", "differences of run "+feed.RunNumber(id)); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"differences": ds, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) exportDifferences(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, err := s.runID(r)
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
	svc := s.feeds()
	if _, err := svc.Run(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, _, err := svc.Differences(r.Context(), id, differenceFilter(r), "", 0, 1); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="reconciliation-`+feed.RunNumber(id)+"."+format+`"`)
	if err := svc.Export(r.Context(), w, format, id, differenceFilter(r)); err != nil {
		s.Logger.Error("differences export", "run", strconv.FormatInt(id, 10), "err", err)
	}
}
