package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/workitem"
)

// The maintenance pages (R9.2, R11.1): work items raised by the data checks, with their actions — assign, link a
// maintenance draft, propose a dismissal, decide it — and the checks with their runs and a button to run them
// now. The archive and user pages are in archive_pages.go.

var (
	maintainers = []auth.Post{auth.PostMaintainer}
	sysadmins   = []auth.Post{auth.PostSysadmin}
)

const workItemsPageSize = 50

func (s *server) maintenanceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/workitems", s.staffOnly(draftSeen, s.workItemsPage))
	mux.HandleFunc("GET /console/workitems/export", s.staffOnly(draftSeen, s.workItemsExport))
	mux.HandleFunc("GET /console/workitems/{id}", s.staffOnly(draftSeen, s.workItemPage))
	mux.HandleFunc("POST /console/workitems/{id}/assign", s.staffForm(maintainers, s.workItemAction("assign")))
	mux.HandleFunc("POST /console/workitems/{id}/link", s.staffForm(maintainers, s.workItemAction("link")))
	mux.HandleFunc("POST /console/workitems/{id}/dismissal", s.staffForm(maintainers, s.workItemAction("dismissal")))
	mux.HandleFunc("POST /console/workitems/{id}/decision", s.staffForm(reviewers, s.workItemAction("decision")))
	mux.HandleFunc("GET /console/maintenance/log", s.staffOnly(draftSeen, s.maintLogPage))
	mux.HandleFunc("GET /console/maintenance/log/export", s.staffOnly(draftSeen, s.maintLogExport))
	mux.HandleFunc("GET /console/checks", s.staffOnly(draftSeen, s.checksPage))
	mux.HandleFunc("POST /console/checks/run", s.staffForm(maintainers, s.checksRun))
	s.archiveRoutes(mux)
	s.userRoutes(mux)
}

func (s *server) items() *workitem.Service {
	it := workitem.New(s.cfg.Store, s.cfg.Auth)
	it.Now = s.cfg.Now
	return it
}

func (s *server) checkRunner() *check.Runner {
	if s.cfg.Checks != nil {
		return s.cfg.Checks
	}
	return &check.Runner{Store: s.cfg.Store, Items: s.items(), Logger: s.cfg.Logger, Base: s.cfg.Context}
}

// problem shows err above the page: a domain error's message (in Chinese by its rule, when the catalogue has
// it), and reports whether err was such an error at all.
func problem(v *view, err error) bool {
	var es record.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			v.General = append(v.General, ruleText(v.Lang, e))
		}
		return true
	}
	var e *record.Error
	if !errors.As(err, &e) || e.Code == record.EInternal || e.Code == record.EUnauthorized {
		return false
	}
	v.General = append(v.General, ruleText(v.Lang, e))
	return true
}

// --- work items ---

// option is a choice of a select: its value and the message key of its label.
type option struct{ Value, Key string }

type workItemsData struct {
	Items      []workitem.Item
	Summary    workitem.Summary
	Last       *check.RunRecord
	F          workitem.Filter
	Sort       string
	Kinds      []string
	Severities []string
	Statuses   []string
	Sorts      []option
	Pager      pager
	Query      string // the filters, for the export links
}

func itemFilterOf(r *http.Request) (workitem.Filter, workitem.Sort) {
	q := r.URL.Query()
	f := workitem.Filter{Status: q.Get("status"), Severity: q.Get("severity"), Source: strings.TrimSpace(q.Get("source")),
		Kind: strings.TrimSpace(q.Get("kind")), Assignee: strings.TrimSpace(q.Get("assignee")), Gone: q.Get("gone")}
	if q.Get("status") == "" && !q.Has("status") {
		f.Status = "active"
	}
	if f.Validate() != nil {
		f = workitem.Filter{Status: "active"}
	}
	o, err := workitem.ParseSort(q.Get("sort"))
	if err != nil {
		o, _ = workitem.ParseSort("-severity")
	}
	if q.Get("sort") == "" {
		o, _ = workitem.ParseSort("-severity")
	}
	return f, o
}

func (s *server) workItemsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	f, o := itemFilterOf(r)
	d := workItemsData{F: f, Sort: o.String(), Kinds: check.Names(), Severities: workitem.Severities, Pager: newPager(r, workItemsPageSize),
		Statuses: append([]string{"active"}, workitem.Statuses...), Sorts: []option{{"-severity", "wi.sort.severity"}, {"-id", "wi.sort.newest"},
			{"id", "wi.sort.oldest"}, {"kind", "wi.sort.kind"}, {"assignee", "wi.sort.assignee"}, {"period", "wi.sort.period"}, {"-updated", "wi.sort.updated"}}}
	items, total, err := s.items().List(ctx, f, o, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Items = items
	d.Pager.setTotal(total)
	if d.Summary, err = s.items().Summarise(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if last, ok, err := s.checkRunner().Last(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	} else if ok {
		d.Last = &last
	}
	q := r.URL.Query()
	q.Del("page")
	d.Query = q.Encode()
	v := s.staffView(w, r, p, "wi.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "workitems", v)
}

// workItemsExport downloads the items the list's filters select, as CSV or XLSX.
func (s *server) workItemsExport(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	f, o := itemFilterOf(r)
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	items, total, err := s.items().List(r.Context(), f, o, 0, workitem.MaxExport)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if total > int64(len(items)) {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "wi.export_too_big")
		return
	}
	w.Header().Set("Content-Type", map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format])
	w.Header().Set("Content-Disposition", `attachment; filename="work-items.`+format+`"`)
	if err := export.Write(w, format, export.WorkItems(items)); err != nil {
		s.cfg.Logger.Error("work items export", "err", err)
	}
}

type workItemData struct {
	It          workitem.Item
	Check       string // the check's description
	Maintainers []string
	Grounds     []string
	CanAssign   bool
	CanLink     bool
	CanPropose  bool
	CanDecide   bool
	// Start is the maintenance form that deals with the item — the event it names, or the kind of fact its
	// difference calls for — for a maintainer to open; "" when the item names neither.
	Start string
}

// itemFacts is the kind of fact a maintenance draft records to deal with each kind of work item that names no
// event of its own.
var itemFacts = map[string]string{
	"missing_months": record.TypeContributionPosted, "contribution_missing_in_record": record.TypeContributionPosted,
	"contribution_not_paid_in_record": record.TypeContributionPosted, "amount_differs": record.TypeContributionPosted,
	"death_not_recorded": record.TypePersonChanged, "death_date_differs": record.TypePersonChanged,
	"id_change_not_recorded": record.TypePersonChanged, "name_differs": record.TypePersonChanged,
	"employer_status_conflict": record.TypeEmployerChanged, "employer_name_differs": record.TypeEmployerChanged,
	"enrolment_missing": record.TypeEnrolmentStarted, "enrolment_not_stopped": record.TypeEnrolmentStopped,
	"enrolment_open_after_deregistration": record.TypeEnrolmentStopped,
}

// maintenanceStart is the maintenance form for an item: correcting the event it names, or recording the kind
// of fact it calls for. No ID number goes into the link: the maintainer types it, as the item shows it masked.
func maintenanceStart(it workitem.Item) string {
	if it.Seq > 0 {
		return "/console/intake/maintenance?supersedes=" + strconv.FormatInt(it.Seq, 10)
	}
	if t, ok := itemFacts[it.Kind]; ok {
		return "/console/intake/maintenance?fact_type=" + t
	}
	return ""
}

func (s *server) pathItem(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := workitem.ParseNumber("id", r.PathValue("id"))
	if err != nil {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return 0, false
	}
	return id, true
}

func (s *server) workItemPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "wi.item_title")
	if n := r.URL.Query().Get("n"); slices.Contains([]string{"assign", "link", "dismissal", "decision"}, n) {
		v.Notice = "wi.done_" + n
	}
	s.showItem(w, r, p, v, http.StatusOK)
}

// showItem renders a work item's page, logging the view of its person first (Q7).
func (s *server) showItem(w http.ResponseWriter, r *http.Request, p *auth.Principal, v *view, status int) {
	ctx := r.Context()
	id, ok := s.pathItem(w, r)
	if !ok {
		return
	}
	it, err := s.items().Get(ctx, id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if it.Person != "" {
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: it.Person, Page: "console/workitem", Fields: "work item " + it.Number, Purpose: "maintenance"}); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	d := workItemData{It: it, Grounds: workitem.Grounds}
	for _, c := range check.Checks {
		if it.Source == check.Source && c.Name == it.Kind {
			d.Check = c.Description
		}
	}
	open := it.Status == workitem.StatusOpen
	d.CanAssign = it.Status != workitem.StatusClosed && p.Has(auth.PostMaintainer) && !p.External
	d.CanLink = open && p.Has(auth.PostMaintainer)
	if d.CanLink {
		d.Start = maintenanceStart(it)
	}
	d.CanPropose = open && p.Has(auth.PostMaintainer)
	d.CanDecide = it.Status == workitem.StatusDismissalProposed && !p.External && it.Proposal != nil && it.Proposal.ProposedBy != p.Username &&
		slices.ContainsFunc(reviewers, p.Has)
	if d.CanAssign {
		if d.Maintainers, err = s.maintainerNames(ctx); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	v.Data = d
	s.render(w, r, status, "workitem", v)
}

// maintainerNames lists the enabled users holding the maintainer post.
func (s *server) maintainerNames(ctx context.Context) ([]string, error) {
	var out []string
	for offset := 0; ; offset += auth.MaxPage {
		users, total, err := s.cfg.Auth.ListUsers(ctx, offset, auth.MaxPage)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if !u.Disabled && slices.Contains(u.Posts, auth.PostMaintainer) {
				out = append(out, u.Username)
			}
		}
		if offset+len(users) >= total || len(users) == 0 {
			return out, nil
		}
	}
}

// workItemAction runs one action on a work item from its page's form, and goes back to the page; a refused
// action shows the page again with the reason.
func (s *server) workItemAction(action string) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		id, ok := s.pathItem(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		items, a := s.items(), actorOf(p)
		var err error
		v := s.staffView(w, r, p, "wi.item_title")
		v.Form = formValues(r, "assignee", "draft", "grounds", "reason", "decision", "decision_reason")
		switch action {
		case "assign":
			_, err = items.Assign(ctx, a, id, v.Form["assignee"])
		case "link":
			var d int64
			if d, err = draftNumber(v.Form["draft"]); err == nil {
				_, err = items.Link(ctx, a, id, d)
			}
		case "dismissal":
			_, err = items.ProposeDismissal(ctx, a, id, v.Form["grounds"], v.Form["reason"])
		case "decision":
			if v.Form["decision"] == review.Approve && r.PostFormValue("confirm") == "" {
				err = record.Invalid("confirm", "confirm", "tick the box to confirm the dismissal closes the item")
				break
			}
			_, err = items.DecideDismissal(ctx, a, id, v.Form["decision"], v.Form["decision_reason"])
		}
		if err != nil {
			if !problem(v, err) {
				s.failErr(w, r, "console", err)
				return
			}
			s.showItem(w, r, p, v, statusOf(err))
			return
		}
		http.Redirect(w, r, "/console/workitems/"+workitem.Number(id)+"?n="+action, http.StatusSeeOther)
	}
}

// statusOf is the HTTP status of a refused action.
func statusOf(err error) int {
	switch record.ErrorCode(err) {
	case record.EForbidden:
		return http.StatusForbidden
	case record.EConflict:
		return http.StatusConflict
	case record.ENotFound:
		return http.StatusNotFound
	}
	return http.StatusUnprocessableEntity
}

// draftNumber reads a draft number such as D000042.
func draftNumber(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "D"), 10, 64)
	if err != nil || id <= 0 {
		return 0, record.Invalid("draft", "draft_id", "%q is not a draft number such as D000042", s)
	}
	return id, nil
}

// --- checks ---

type checksData struct {
	Checks    []check.Check
	Last      *check.RunRecord
	Runs      []check.RunRecord
	Pager     pager
	CanRun    bool
	Scheduled bool
}

func (s *server) checksPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	d := checksData{Checks: check.Checks, Pager: newPager(r, 20), CanRun: p.Has(auth.PostMaintainer), Scheduled: s.cfg.Checks != nil}
	runner := s.checkRunner()
	runs, total, err := runner.Runs(ctx, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Runs = runs
	d.Pager.setTotal(total)
	if last, ok, err := runner.Last(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	} else if ok {
		d.Last = &last
	}
	v := s.staffView(w, r, p, "chk.title")
	if d.Last != nil && d.Last.Status == check.RunRunning {
		v.Refresh = 5
	}
	if n := r.URL.Query().Get("n"); n == "started" || n == "running" {
		v.Notice = "chk." + n
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "checks", v)
}

// checksRun starts a run of every check in the background; the checks page then shows its progress.
func (s *server) checksRun(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if _, err := s.checkRunner().Start(r.Context(), check.Trigger{Kind: check.TriggerConsole, By: p.Username}, nil); err != nil {
		if record.ErrorCode(err) == record.EConflict {
			http.Redirect(w, r, "/console/checks?n=running", http.StatusSeeOther)
			return
		}
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/checks?n=started", http.StatusSeeOther)
}

func init() {
	// runOf gives the check_run part a run and the page's view (for its texts).
	funcs["runOf"] = func(v *view, r *check.RunRecord) any {
		return struct {
			V *view
			R *check.RunRecord
		}{v, r}
	}
}
