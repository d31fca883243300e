package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"

	"sirec/internal/auth"
	"sirec/internal/feed"
	"sirec/internal/institution"
	"sirec/internal/record"
)

// The reconciliation pages (核对, R5.2, R5.3): the feeds other departments sent, with an upload form; a feed's
// reconciliation runs and a button to run one; a run's progress and differences, filtered, sorted, paged and
// exported; and what service institutions submitted, with the failed payments banks reported.

// feeders import feeds and run reconciliations.
var feeders = []auth.Post{auth.PostCollector, auth.PostMaintainer}

const feedPageSize = 50

func (s *server) feedRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/feeds", s.staffOnly(draftSeen, s.feedsPage))
	mux.HandleFunc("POST /console/feeds", s.staffForm(feeders, s.uploadFeed))
	mux.HandleFunc("GET /console/feeds/{id}", s.staffOnly(draftSeen, s.feedPage))
	mux.HandleFunc("POST /console/feeds/{id}/reconcile", s.staffForm(feeders, s.startReconcile))
	mux.HandleFunc("GET /console/reconciliations/{id}", s.staffOnly(draftSeen, s.runPage))
	mux.HandleFunc("GET /console/reconciliations/{id}/export", s.staffOnly(draftSeen, s.runExport))
	mux.HandleFunc("GET /console/submissions", s.staffOnly(draftSeen, s.submissionsPage))
}

func (s *server) feeds() *feed.Service {
	f := feed.New(s.cfg.Store, s.items())
	f.Now = s.cfg.Now
	return f
}

func (s *server) institutions() *institution.Service {
	i := institution.New(s.cfg.Store, s.cfg.Auth, s.items())
	i.Now, i.Location = s.cfg.Now, s.cfg.Location
	return i
}

// feedKindView is a feed kind as the pages show it.
type feedKindView struct {
	feed.Kind
	Selected bool
}

type feedsData struct {
	Kinds    []feedKindView
	Kind     string
	Feeds    []feed.Feed
	Pager    pager
	CanFeed  bool
	Problems []*record.Error // of a refused upload
	More     int             // problems not shown
}

func (s *server) feedsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.renderFeeds(w, r, p, http.StatusOK, nil)
}

func (s *server) renderFeeds(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	if v == nil {
		v = s.staffView(w, r, p, "feeds.title")
	}
	d := feedsData{Kind: r.URL.Query().Get("kind"), Pager: newPager(r, feedPageSize), CanFeed: canAny(p, feeders)}
	if prev, ok := v.Data.(feedsData); ok {
		d.Problems, d.More = prev.Problems, prev.More
	}
	for _, k := range feed.Kinds {
		d.Kinds = append(d.Kinds, feedKindView{Kind: k, Selected: k.Name == d.Kind || k.Name == v.Form["kind"]})
	}
	list, total, err := s.feeds().Feeds(r.Context(), feed.FeedFilter{Kind: d.Kind}, d.Pager.Offset(), d.Pager.Size)
	if err != nil && !problem(v, err) {
		s.failErr(w, r, "console", err)
		return
	}
	d.Feeds = list
	d.Pager.setTotal(total)
	v.Data = d
	s.render(w, r, status, "feeds", v)
}

func canAny(p *auth.Principal, posts []auth.Post) bool {
	for _, post := range posts {
		if p.Has(post) {
			return true
		}
	}
	return false
}

// maxShownProblems bounds the bad rows a refused upload lists on the page; the count of the rest is shown.
const maxShownProblems = 200

func (s *server) uploadFeed(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "feeds.title")
	v.Form["kind"] = r.PostFormValue("kind")
	v.Form["complete"] = r.PostFormValue("complete")
	file, hdr, err := r.FormFile("file")
	if err != nil {
		v.Errors["file"] = v.T("feeds.file_required")
		s.renderFeeds(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	defer file.Close()
	// A multipart file is on disk or in memory already; spool it to a file the import can read twice.
	tmp, err := os.CreateTemp("", "sirec-feed-*")
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, file); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	f, err := s.feeds().Import(r.Context(), tmp, feed.ImportOptions{Kind: r.PostFormValue("kind"), Name: hdr.Filename,
		Complete: r.PostFormValue("complete") == "on", Actor: p.Username})
	if err != nil {
		var es record.Errors
		var e *record.Error
		d := feedsData{}
		switch {
		case errors.As(err, &es):
			d.Problems = es
			if len(es) > maxShownProblems {
				d.Problems, d.More = es[:maxShownProblems], len(es)-maxShownProblems
			}
		case errors.As(err, &e) && e.Code == record.EInvalid:
			d.Problems = []*record.Error{e}
		case errors.As(err, &e) && e.Code == record.EConflict:
			v.General = append(v.General, e.Message)
		default:
			s.failErr(w, r, "console", err)
			return
		}
		v.Data = d
		s.renderFeeds(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/feeds/"+f.Number+"?notice=imported", http.StatusSeeOther)
}

type feedData struct {
	Feed    feed.Feed
	Kind    feed.Kind
	Runs    []feed.Run
	Pager   pager
	CanFeed bool
	Running bool
}

func (s *server) feedPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := feed.ParseNumber("feed", "F", r.PathValue("id"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	svc := s.feeds()
	f, err := svc.Feed(r.Context(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d := feedData{Feed: f, Pager: newPager(r, feedPageSize), CanFeed: canAny(p, feeders)}
	d.Kind, _ = feed.KindOf("kind", f.Kind)
	runs, total, err := svc.Runs(r.Context(), id, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Runs, d.Running = runs, f.LastRun != nil && f.LastRun.Status == feed.RunRunning
	d.Pager.setTotal(total)
	v := s.staffView(w, r, p, "feed.title")
	if r.URL.Query().Get("notice") == "imported" {
		v.Notice = "feed.imported_notice"
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "feed", v)
}

func (s *server) startReconcile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := feed.ParseNumber("feed", "F", r.PathValue("id"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	run, err := s.feeds().StartInBackground(r.Context(), id, p.Username, s.cfg.Logger)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/reconciliations/"+run.Number, http.StatusSeeOther)
}

// kindCount is one kind of difference with how many a run found.
type kindCount struct {
	feed.DifferenceKind
	Count    int64
	Selected bool
}

type runData struct {
	Run         feed.Run
	Feed        feed.Feed
	Kinds       []kindCount
	Kind        string
	Severity    string
	Sort        string
	Differences []feed.Difference
	Titles      map[string]feed.DifferenceKind
	Pager       pager
	Query       string // the filters, for the export links
	Source      string // the work-item source of the feed's differences
	Running     bool
	Percent     int64
}

func (s *server) runPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := feed.ParseNumber("run", "R", r.PathValue("id"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	svc := s.feeds()
	run, err := svc.Run(r.Context(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	f, err := svc.Feed(r.Context(), run.FeedID)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	q := r.URL.Query()
	d := runData{Run: run, Feed: f, Kind: q.Get("kind"), Severity: q.Get("severity"), Sort: q.Get("sort"), Pager: newPager(r, feedPageSize),
		Titles: map[string]feed.DifferenceKind{}, Source: feed.Source(f.Number), Running: run.Status == feed.RunRunning}
	if f.Rows > 0 {
		d.Percent = min(100, run.RowsRead*100/max(1, f.Rows))
	}
	for _, k := range feed.DifferenceKinds {
		d.Titles[k.Name] = k
		if n := run.Counts[k.Name]; n > 0 {
			d.Kinds = append(d.Kinds, kindCount{DifferenceKind: k, Count: n, Selected: k.Name == d.Kind})
		}
	}
	sort.SliceStable(d.Kinds, func(i, j int) bool { return severityRank(d.Kinds[i].Severity) > severityRank(d.Kinds[j].Severity) })
	v := s.staffView(w, r, p, "run.title")
	ds, total, err := svc.Differences(r.Context(), id, feed.DifferenceFilter{Kind: d.Kind, Severity: d.Severity}, d.Sort, d.Pager.Offset(), d.Pager.Size)
	if err != nil && !problem(v, err) {
		s.failErr(w, r, "console", err)
		return
	}
	// Every person the page shows is in the query log before it is shown (Q7).
	seen := map[string]bool{}
	for _, x := range ds {
		if x.Person == "" || seen[x.Person] {
			continue
		}
		seen[x.Person] = true
		if err := AppendQuery(r.Context(), s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: x.Person, Page: "console/reconciliation", Fields: "differences of run " + run.Number, Purpose: "business"}); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	d.Differences = ds
	d.Pager.setTotal(total)
	filters := url.Values{}
	for _, k := range []string{"kind", "severity"} {
		if q.Get(k) != "" {
			filters.Set(k, q.Get(k))
		}
	}
	d.Query = filters.Encode()
	v.Data = d
	s.render(w, r, http.StatusOK, "reconciliation", v)
}

func severityRank(s string) int {
	switch s {
	case feed.High:
		return 3
	case feed.Medium:
		return 2
	}
	return 1
}

func (s *server) runExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := feed.ParseNumber("run", "R", r.PathValue("id"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ctype == "" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	svc := s.feeds()
	filter := feed.DifferenceFilter{Kind: q.Get("kind"), Severity: q.Get("severity")}
	if _, _, err := svc.Differences(r.Context(), id, filter, "", 0, 1); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="reconciliation-`+feed.RunNumber(id)+"."+format+`"`)
	if err := svc.Export(r.Context(), w, format, id, filter); err != nil {
		s.cfg.Logger.Error("differences export", "run", feed.RunNumber(id), "err", err)
	}
}

type submissionsData struct {
	Kinds        []institution.Kind
	Kind         string
	Submissions  []institution.Submission
	Pager        pager
	FollowUps    []institution.FollowUp
	OpenFollowUp int64
	Institutions []institution.Institution
}

func (s *server) submissionsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	svc := s.institutions()
	d := submissionsData{Kinds: institution.Kinds, Kind: r.URL.Query().Get("kind"), Pager: newPager(r, feedPageSize)}
	v := s.staffView(w, r, p, "subs.title")
	list, total, err := svc.Submissions(r.Context(), institution.SubmissionFilter{Kind: d.Kind}, d.Pager.Offset(), d.Pager.Size)
	if err != nil && !problem(v, err) {
		s.failErr(w, r, "console", err)
		return
	}
	d.Submissions = list
	d.Pager.setTotal(total)
	if d.FollowUps, d.OpenFollowUp, err = svc.FollowUps(r.Context(), true, 0, 100); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if d.Institutions, err = svc.List(r.Context()); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "submissions", v)
}
