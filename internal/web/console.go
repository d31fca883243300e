package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Post groups, as in the JSON API: the same rules decide what each user sees.
var (
	business  = []auth.Post{auth.PostCollector, auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover, auth.PostMaintainer}
	readers   = append(slices.Clone(business), auth.PostSupervisor, auth.PostQuery)
	reviewers = []auth.Post{auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover}
	draftSeen = append(slices.Clone(business), auth.PostSupervisor)
	makers    = []auth.Post{auth.PostCollector}
	auditors  = []auth.Post{auth.PostSupervisor}
)

// Purposes a staff member states before viewing a person's record (Q7).
var Purposes = []string{"counter", "business", "review", "objection", "supervision"}

type staffHandler func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

func (s *server) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/{$}", s.staffOnly(nil, s.dashboard))
	mux.HandleFunc("GET /console/login", s.loginPage("console"))
	mux.HandleFunc("POST /console/login", s.form("console", s.consoleLogin))
	mux.HandleFunc("POST /console/logout", s.form("console", s.consoleLogout))
	mux.HandleFunc("POST /console/lang", s.setLang("console"))
	mux.HandleFunc("GET /console/intake/person", s.staffOnly(makers, s.personForm))
	mux.HandleFunc("POST /console/intake/person", s.staffForm(makers, s.submitPerson))
	mux.HandleFunc("GET /console/intake/batch", s.staffOnly(makers, s.batchForm))
	mux.HandleFunc("POST /console/intake/batch", s.staffForm(makers, s.submitBatch))
	mux.HandleFunc("GET /console/queue", s.staffOnly(reviewers, s.queue))
	mux.HandleFunc("GET /console/drafts/{id}", s.staffOnly(draftSeen, s.draftPage))
	mux.HandleFunc("POST /console/drafts/{id}/decision", s.staffForm(reviewers, s.decide))
	mux.HandleFunc("POST /console/drafts/{id}/resubmit", s.staffForm(intakeMakers, s.resubmit))
	mux.HandleFunc("GET /console/drafts/{id}/materials/{sha}", s.staffOnly(draftSeen, s.material))
	mux.HandleFunc("GET /console/persons", s.staffOnly(readers, s.searchPage))
	mux.HandleFunc("POST /console/persons", s.staffForm(readers, s.search))
	mux.HandleFunc("GET /console/persons/{person}", s.staffOnly(readers, s.personPage))
	mux.HandleFunc("GET /console/persons/{person}/contributions", s.staffOnly(readers, s.personMonths))
	mux.HandleFunc("GET /console/querylog", s.staffOnly(auditors, s.queryLogPage))
	s.intakeRoutes(mux)
	s.employerRoutes(mux)
	s.journalRoutes(mux)
	s.custodyRoutes(mux)
	s.maintenanceRoutes(mux)
	s.feedRoutes(mux)
	s.queryUseConsoleRoutes(mux)
	s.transferRoutes(mux)
	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
	})
}

// principal returns the signed-in staff user, or nil.
func (s *server) principal(r *http.Request) *auth.Principal {
	tok := cookieValue(r, cookieConsole)
	if tok == "" {
		return nil
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), tok, s.cfg.Now())
	if err != nil {
		return nil
	}
	return &p
}

// staffOnly serves a page to signed-in staff holding one of posts (nil: any post); others are sent to sign in
// or refused with 403.
func (s *server) staffOnly(posts []auth.Post, h staffHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.principal(r)
		if p == nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		if posts != nil && !slices.ContainsFunc(posts, p.Has) {
			s.fail(w, r, "console", http.StatusForbidden, "err.forbidden")
			return
		}
		h(w, r, p)
	}
}

// staffForm is staffOnly for a POST: the CSRF token is checked first.
func (s *server) staffForm(posts []auth.Post, h staffHandler) http.HandlerFunc {
	return s.form("console", s.staffOnly(posts, h))
}

func actorOf(p *auth.Principal) review.Actor {
	a := review.Actor{User: p.Username, External: p.External}
	for _, post := range p.Posts {
		a.Posts = append(a.Posts, string(post))
	}
	return a
}

func (s *server) staffView(w http.ResponseWriter, r *http.Request, p *auth.Principal, title string) *view {
	v := s.newView(w, r, "console", title)
	v.User = p.DisplayName
	items := []struct {
		href, label string
		posts       []auth.Post
	}{
		{"/console/", "nav.dashboard", nil},
		{"/console/intake/", "nav.intake", intakeMakers},
		{"/console/queue", "nav.queue", reviewers},
		{"/console/persons", "nav.persons", readers},
		{"/console/employers", "nav.employers", readers},
		{"/console/journal", "nav.journal", nil},
		{"/console/querylog", "nav.querylog", auditors},
		{"/console/custody", "nav.custody", custodians},
		{"/console/workitems", "nav.workitems", draftSeen},
		{"/console/maintenance/log", "nav.maintlog", draftSeen},
		{"/console/checks", "nav.checks", draftSeen},
		{"/console/feeds", "nav.feeds", draftSeen},
		{"/console/submissions", "nav.submissions", draftSeen},
		{"/console/archive", "nav.archive", draftSeen},
		{"/console/archive/retention", "nav.retention", sysadmins},
		{"/console/users", "nav.users", sysadmins},
	}
	items = append(items, queryUseNav...)
	items = append(items, transferNav...)
	// The current section is the longest one the path is in: a section's pages below its own (an intake form,
	// a person's page) mark it current too.
	best := ""
	for _, it := range items {
		in := r.URL.Path == it.href || it.href != "/console/" && strings.HasPrefix(r.URL.Path, strings.TrimSuffix(it.href, "/")+"/")
		if in && len(it.href) > len(best) {
			best = it.href
		}
	}
	for _, it := range items {
		if it.posts == nil || slices.ContainsFunc(it.posts, p.Has) {
			v.Nav = append(v.Nav, navItem{Href: it.href, Label: it.label, Current: it.href == best})
		}
	}
	return v
}

// --- sign-in ---

func (s *server) loginPage(area string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := s.newView(w, r, area, area+".login.title")
		s.render(w, r, http.StatusOK, "login", v)
	}
}

func (s *server) consoleLogin(w http.ResponseWriter, r *http.Request) {
	sess, err := s.cfg.Auth.Login(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"), s.cfg.Now())
	if err != nil {
		if record.ErrorCode(err) != record.EUnauthorized {
			s.failErr(w, r, "console", err)
			return
		}
		v := s.newView(w, r, "console", "console.login.title")
		v.Form["username"] = r.PostFormValue("username")
		v.General = []string{v.T("login.failed")}
		if strings.Contains(err.Error(), "locked") {
			v.General = []string{v.T("login.locked")}
		}
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	setCookie(w, r, cookieConsole, sess.Token, "/console/", 0)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (s *server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	if tok := cookieValue(r, cookieConsole); tok != "" {
		if err := s.cfg.Auth.Logout(r.Context(), tok, s.cfg.Now()); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	setCookie(w, r, cookieConsole, "", "/console/", -1)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

// --- dashboard ---

type stageCount struct {
	Stage string
	Count int
}

type dashboardData struct {
	Waiting     []stageCount
	Today       uint64
	Size        uint64
	Root        string
	MyDrafts    []myDraft
	IsCollector bool
	Verify      *VerifyRun // the latest verification, nil when there has been none
	Verifying   bool       // a verification is running now
	IsReviewer  bool
}

type myDraft struct {
	review.Draft
	Reason string // the reason of the last rejection, for a returned draft
}

func (s *server) dashboard(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	var d dashboardData
	var err error
	if d.Waiting, err = s.waitingPerStage(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	cp, _, err := s.cfg.Store.LatestCheckpoint(ctx)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Size, d.Root = cp.Size, base64.StdEncoding.EncodeToString(cp.Root)
	now := s.cfg.Now().In(s.cfg.Location)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.cfg.Location)
	before, err := s.sizeBefore(ctx, midnight)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Today = cp.Size - min(before, cp.Size)
	if run, ok, err := LatestVerifyRun(ctx, s.cfg.Store.Driver()); err != nil {
		s.failErr(w, r, "console", err)
		return
	} else if ok {
		d.Verify = &run
	}
	d.Verifying = s.verify.progress().Running
	d.IsReviewer = slices.ContainsFunc(reviewers, p.Has)
	if p.Has(auth.PostCollector) || p.Has(auth.PostMaintainer) {
		d.IsCollector = true
		if d.MyDrafts, err = s.myDrafts(ctx, p.Username); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	v := s.staffView(w, r, p, "dash.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "dashboard", v)
}

// waitingPerStage counts drafts in review by the stage they wait at.
func (s *server) waitingPerStage(ctx context.Context) ([]stageCount, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT chain, stage, COUNT(*) FROM review_drafts WHERE status = $1 GROUP BY chain, stage", review.StatusInReview)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var chain string
		var stage, n int
		if err := rows.Scan(&chain, &stage, &n); err != nil {
			return nil, err
		}
		if c := strings.Split(chain, ","); stage < len(c) {
			counts[c[stage]] += n
		}
	}
	out := make([]stageCount, len(review.Stages))
	for i, st := range review.Stages {
		out[i] = stageCount{st, counts[st]}
	}
	return out, rows.Err()
}

// sizeBefore returns the journal size at the last checkpoint signed before t.
func (s *server) sizeBefore(ctx context.Context, t time.Time) (uint64, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var n int64
	err = tx.QueryRow(ctx, "SELECT COALESCE(MAX(size), 0) FROM journal_checkpoints WHERE at < $1", t.UnixMilli()).Scan(&n)
	return uint64(n), err
}

func (s *server) myDrafts(ctx context.Context, user string) ([]myDraft, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, "SELECT id FROM review_drafts WHERE maker = $1 ORDER BY id DESC LIMIT 20", user)
	if err != nil {
		tx.Rollback(ctx)
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			tx.Rollback(ctx)
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	tx.Rollback(ctx)
	var out []myDraft
	for _, id := range ids {
		d, err := s.cfg.Review.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, myDraft{Draft: d, Reason: lastReject(d)})
	}
	return out, nil
}

func lastReject(d review.Draft) string {
	if d.Status != review.StatusReturned {
		return ""
	}
	for i := len(d.Actions) - 1; i >= 0; i-- {
		if d.Actions[i].Decision == review.Reject {
			return d.Actions[i].Reason
		}
	}
	return ""
}

// --- intake ---

func (s *server) personForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "intake.person.title")
	today := s.cfg.Now().In(s.cfg.Location).Format("2006-01-02")
	v.Form = map[string]string{"region": s.cfg.Store.Region(), "registered_on": today, "type_pension": "on"}
	v.Data = intakeData{Kind: "person_registration", Action: "/console/intake/person"}
	s.render(w, r, http.StatusOK, "intake_person", v)
}

func (s *server) batchForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "intake.batch.title")
	s.render(w, r, http.StatusOK, "intake_batch", v)
}

// formValues copies the submitted fields, to fill the form again.
func formValues(r *http.Request, names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return m
}

// showInvalid puts the validation errors in err next to their fields (mapped by field) and reports whether err
// was a validation error at all.
func showInvalid(v *view, err error, field func(string) string) bool {
	var es record.Errors
	var one *record.Error
	switch {
	case errors.As(err, &es):
	case errors.As(err, &one) && one.Code == record.EInvalid:
		es = record.Errors{one}
	default:
		return false
	}
	for _, e := range es {
		msg := ruleText(v.Lang, e)
		f := field(e.Field)
		if f == "" {
			// A fact's error about no one field ("facts[0]") needs no technical prefix; a batch row's does.
			if rest, ok := strings.CutPrefix(e.Field, "facts["); e.Field == "" || ok && strings.HasSuffix(rest, "]") && !strings.Contains(rest, ".") {
				v.General = append(v.General, msg)
			} else {
				v.General = append(v.General, e.Field+": "+msg)
			}
			continue
		}
		if _, seen := v.Errors[f]; !seen {
			v.Errors[f] = msg
		}
	}
	return true
}

// factField maps "facts[i].name" to the form's field name: the fields of the first fact keep their names;
// later facts are the enrolments, whose type and from have fields of their own.
func factField(names map[string]string) func(string) string {
	return func(f string) string {
		rest, ok := strings.CutPrefix(f, "facts[")
		if !ok {
			return names[f]
		}
		idx, name, ok := strings.Cut(rest, "].")
		if !ok {
			return ""
		}
		if idx != "0" {
			if n, ok := names["enrolment."+name]; ok {
				return n
			}
		}
		return names[name]
	}
}

// materials stores the uploaded files of the field "materials" and returns their references.
func (s *server) materials(ctx context.Context, r *http.Request) ([]review.Material, error) {
	if r.MultipartForm == nil {
		return nil, nil
	}
	var out []review.Material
	for _, fh := range r.MultipartForm.File["materials"] {
		if fh.Size == 0 && fh.Filename == "" {
			continue
		}
		b, err := readPart(fh)
		if err != nil {
			return nil, err
		}
		sha, err := s.cfg.Review.AddMaterial(ctx, b)
		if err != nil {
			return nil, record.WithField("materials", err)
		}
		ct := fh.Header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		out = append(out, review.Material{SHA256: sha, Name: cleanName(fh.Filename), ContentType: ct})
	}
	return out, nil
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 200<<20+1))
}

// cleanName keeps the base name of an uploaded file, at most 120 characters.
func cleanName(n string) string {
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	if r := []rune(n); len(r) > 120 {
		n = string(r[len(r)-120:])
	}
	if n == "." || n == "/" || n == "" {
		n = "file"
	}
	return n
}

func jsonData(m map[string]any) json.RawMessage {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

var personFields = map[string]string{"id_number": "id_number", "name": "name", "region": "region", "registered_on": "registered_on",
	"phone": "phone", "enrolment.type": "types", "enrolment.from": "enrol_from", "enrolment.employer": "employer", "types": "types",
	"materials": "materials", "from": "enrol_from", "employer": "employer"}

func (s *server) submitPerson(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "intake.person.title")
	v.Data = intakeData{Kind: "person_registration", Action: "/console/intake/person"}
	invalid := func(err error) {
		if !showInvalid(v, err, factField(personFields)) {
			s.failErr(w, r, "console", err)
			return
		}
		if r.MultipartForm != nil && len(r.MultipartForm.File["materials"]) > 0 && r.MultipartForm.File["materials"][0].Filename != "" && v.Errors["materials"] == "" {
			v.Errors["materials"] = v.T("intake.materials_again")
		}
		s.render(w, r, http.StatusUnprocessableEntity, "intake_person", v)
	}
	facts, err := s.personFacts(ctx, r, v)
	if err != nil {
		invalid(err)
		return
	}
	mats, err := s.materials(ctx, r)
	if err != nil {
		invalid(err)
		return
	}
	d, err := s.cfg.Review.Submit(ctx, actorOf(p), review.Submission{Kind: "person_registration", Facts: facts, Materials: mats,
		Summary: fmt.Sprintf("参保人员登记：%s，%d 个险种", MaskName(v.Form["name"]), len(facts)-1)})
	if err != nil {
		invalid(err)
		return
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=submitted", http.StatusSeeOther)
}

// personFacts builds a person registration's facts from its form — the registration and an enrolment per
// insurance type ticked — and checks them all (checkFacts), keeping the submitted text in v.Form.
func (s *server) personFacts(ctx context.Context, r *http.Request, v *view) ([]review.DraftFact, error) {
	for k, x := range formValues(r, "id_number", "name", "region", "registered_on", "phone", "employer", "enrol_from") {
		v.Form[k] = x
	}
	var types []string
	for _, t := range record.InsuranceTypes {
		if r.PostFormValue("type_"+t) != "" {
			types = append(types, t)
			v.Form["type_"+t] = "on"
		}
	}
	id := strings.ToUpper(v.Form["id_number"])
	from := v.Form["enrol_from"]
	if from == "" {
		from = v.Form["registered_on"]
	}
	facts := []review.DraftFact{{Type: record.TypePersonRegistered, IDNumber: id, Data: jsonData(map[string]any{
		"name": v.Form["name"], "region": v.Form["region"], "registered_on": v.Form["registered_on"], "phone": v.Form["phone"]})}}
	for _, t := range types {
		facts = append(facts, review.DraftFact{Type: record.TypeEnrolmentStarted, IDNumber: id, Data: jsonData(map[string]any{
			"type": t, "from": from, "employer": strings.ToUpper(v.Form["employer"])})})
	}
	var errs record.Errors
	if len(types) == 0 {
		errs.Append("", record.Invalid("types", "enrolment_type_required", "choose at least one insurance type"))
	}
	if err := s.checkFacts(ctx, "person_registration", facts, nil); !appendInvalid(&errs, err) {
		return nil, err
	}
	return facts, errs.Err()
}

func (s *server) submitBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "intake.batch.title")
	var fh *multipart.FileHeader
	if r.MultipartForm != nil && len(r.MultipartForm.File["file"]) > 0 {
		fh = r.MultipartForm.File["file"][0]
	}
	if fh == nil || fh.Filename == "" {
		v.Errors["file"] = v.T("batch.file_required")
		s.render(w, r, http.StatusUnprocessableEntity, "intake_batch", v)
		return
	}
	b, err := readPart(fh)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d, err := s.cfg.Review.SubmitBatch(ctx, actorOf(p), cleanName(fh.Filename), b)
	if err != nil {
		if !showInvalid(v, err, func(f string) string {
			if f == "file" || f == "name" {
				return "file"
			}
			return "" // row errors: listed under the form
		}) {
			s.failErr(w, r, "console", err)
			return
		}
		if len(v.General) > 200 {
			v.General = append(v.General[:200], "…")
		}
		if v.Errors["file"] == "" {
			v.Errors["file"] = v.T("batch.rows_bad")
		}
		s.render(w, r, http.StatusUnprocessableEntity, "intake_batch", v)
		return
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=submitted", http.StatusSeeOther)
}

// --- review ---

// queuePage is how many drafts a page of the review queue shows.
const queuePage = 50

type queueData struct {
	Drafts []review.Draft
	Kind   string
	Kinds  []string
	Pager  pager
}

func (s *server) queue(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d := queueData{Kind: r.URL.Query().Get("kind"), Pager: newPager(r, queuePage)}
	for k := range review.Kinds {
		d.Kinds = append(d.Kinds, k)
	}
	slices.Sort(d.Kinds)
	if d.Kind != "" && !slices.Contains(d.Kinds, d.Kind) {
		d.Kind = "" // an unknown business type in the link shows the whole queue
	}
	ds, total, err := s.cfg.Review.Queue(r.Context(), actorOf(p), review.QueueQuery{Kind: d.Kind, Offset: d.Pager.Offset(), Limit: queuePage})
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Drafts = ds
	d.Pager.setTotal(int64(total))
	v := s.staffView(w, r, p, "queue.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "queue", v)
}

func draftID(r *http.Request) (int64, bool) {
	n := strings.TrimPrefix(strings.ToUpper(r.PathValue("id")), "D")
	id, err := strconv.ParseInt(n, 10, 64)
	return id, err == nil && id > 0
}

type factRow struct {
	N          int
	Type       string
	IDNumber   string
	Credit     string
	Supersedes string // the event a maintenance fact corrects
	Fields     []kv
}

// kv is a labelled value; Long values are shown as preformatted text.
type kv struct {
	K, V string
	Long bool
}

type draftData struct {
	D           review.Draft
	Facts       []factRow
	More        int // facts not shown
	CanDecide   bool
	CanResend   bool
	CanEdit     bool // a form can correct it before it is resubmitted
	CanWithdraw bool
	Reason      string
}

// maxFactsShown bounds the facts listed on a draft page: a batch may hold 100,000.
const maxFactsShown = 200

// pathDraft returns the draft number in the path, answering 404 when it is not one.
func (s *server) pathDraft(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, ok := draftID(r)
	if !ok {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
	}
	return id, ok
}

// loadDraft reads the draft named in the path, answering with the error page when it cannot.
func (s *server) loadDraft(w http.ResponseWriter, r *http.Request) (review.Draft, bool) {
	id, ok := s.pathDraft(w, r)
	if !ok {
		return review.Draft{}, false
	}
	d, err := s.cfg.Review.Get(r.Context(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return review.Draft{}, false
	}
	return d, true
}

func (s *server) draftPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showDraft(w, r, p, http.StatusOK, nil)
}

func (s *server) showDraft(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	d, ok := s.loadDraft(w, r)
	if !ok {
		return
	}
	if v == nil {
		v = s.staffView(w, r, p, "draft.title")
	}
	if n := r.URL.Query().Get("n"); n == "submitted" || n == "approved" || n == "rejected" || n == "resubmitted" {
		v.Notice = "notice." + n
	}
	// The facts shown name persons in clear: each person shown is logged before the page is (Q7).
	if err := s.logDraftView(r.Context(), p, d, "console/draft"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	dd := draftData{D: d, Reason: lastReject(d)}
	for i, f := range d.Facts {
		if i == maxFactsShown {
			dd.More = len(d.Facts) - i
			break
		}
		row := factRow{N: i + 1, Type: f.Type, IDNumber: f.IDNumber, Credit: f.CreditCode, Fields: factFields(v.Lang, f)}
		if f.Supersedes != nil {
			row.Supersedes = strconv.FormatInt(*f.Supersedes, 10)
		}
		dd.Facts = append(dd.Facts, row)
	}
	a := actorOf(p)
	if d.Status == review.StatusInReview && d.Maker != p.Username && !p.External && slices.Contains(a.Posts, review.StagePost[d.Stage]) {
		dd.CanDecide = true
	}
	mine := d.Maker == p.Username && p.Has(makerOf(d.Kind))
	dd.CanResend = d.Status == review.StatusReturned && mine
	dd.CanEdit = dd.CanResend && canEdit(d)
	dd.CanWithdraw = (d.Status == review.StatusReturned || d.Status == review.StatusInReview) && mine
	v.Data = dd
	s.render(w, r, status, "draft", v)
}

func (s *server) decide(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.pathDraft(w, r)
	if !ok {
		return
	}
	decision := r.PostFormValue("decision")
	d, err := s.cfg.Review.Act(r.Context(), actorOf(p), id, decision, strings.TrimSpace(r.PostFormValue("reason")))
	if err != nil {
		v := s.staffView(w, r, p, "draft.title")
		if !showInvalid(v, err, func(f string) string {
			if f == "reason" || f == "decision" {
				return "reason"
			}
			return ""
		}) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showDraft(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	n := "approved"
	if decision == review.Reject {
		n = "rejected"
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n="+n, http.StatusSeeOther)
}

func (s *server) resubmit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.pathDraft(w, r)
	if !ok {
		return
	}
	mats, err := s.materials(r.Context(), r)
	var d review.Draft
	if err == nil {
		d, err = s.cfg.Review.Resubmit(r.Context(), actorOf(p), id, review.Resubmission{Materials: mats, Note: strings.TrimSpace(r.PostFormValue("note"))})
	}
	if err != nil {
		// A bad file is shown beside the field on the draft's page; anything else is an error page.
		v := s.staffView(w, r, p, "draft.title")
		if !showInvalid(v, err, formFieldOf(nil)) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showDraft(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=resubmitted", http.StatusSeeOther)
}

// material serves an original document of a draft, only if it is attached to that draft.
func (s *server) material(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := s.loadDraft(w, r)
	if !ok {
		return
	}
	sha := r.PathValue("sha")
	i := slices.IndexFunc(d.Materials, func(m review.Material) bool { return m.SHA256 == sha })
	if i < 0 {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	b, err := s.cfg.Review.ReadMaterial(r.Context(), sha)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	m := d.Materials[i]
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+pathEscape(m.Name))
	w.Header().Set("X-Content-SHA256", sha)
	w.Write(b)
}

func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// --- persons ---

// searchData is what the person search page shows.
type searchData struct {
	Purposes []string
	Results  []store.PersonListItem
	Searched bool
	Page     int // of the results by name, from 1; paged by the form itself, so that the name stays out of URLs
	Pages    int
	Total    int64
}

// namePage is how many persons a search by name lists at a time.
const namePage = 20

func (s *server) searchPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "search.title")
	v.Data = searchData{Purposes: Purposes}
	s.render(w, r, http.StatusOK, "search", v)
}

// search finds a person by ID number — sent in the POST body, never in a URL — and goes to their page by the
// opaque person key, with the stated purpose; or lists the persons registered under a name (names and ID
// numbers masked, each listed person logged as viewed, Q7).
func (s *server) search(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "search.title")
	d := searchData{Purposes: Purposes, Page: 1}
	v.Data = d
	v.Form = formValues(r, "purpose", "name")
	id := strings.ToUpper(strings.TrimSpace(r.PostFormValue("id_number")))
	name := v.Form["name"]
	purpose := v.Form["purpose"]
	if !slices.Contains(Purposes, purpose) {
		v.Errors["purpose"] = v.T("search.purpose_required")
	}
	switch {
	case id == "" && name == "":
		v.Errors["id_number"] = v.T("search.id_or_name")
	case id != "":
		if err := record.ValidateCitizenID("id_number", id, s.cfg.Now()); err != nil {
			showInvalid(v, err, func(string) string { return "id_number" })
		}
	default:
		if n := len([]rune(name)); n > 50 {
			v.Errors["name"] = ruleText(v.Lang, record.Invalid("name", "name_length", "name must be 1 to 50 characters"))
		}
	}
	if len(v.Errors) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "search", v)
		return
	}
	if id == "" {
		s.searchByName(w, r, p, v, d, name, purpose)
		return
	}
	key, err := s.cfg.Store.FindPerson(r.Context(), id)
	if record.ErrorCode(err) == record.ENotFound {
		v.Errors["id_number"] = v.T("search.not_found")
		s.render(w, r, http.StatusNotFound, "search", v)
		return
	}
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	http.Redirect(w, r, "/console/persons/"+key+"?purpose="+purpose, http.StatusSeeOther)
}

func (s *server) searchByName(w http.ResponseWriter, r *http.Request, p *auth.Principal, v *view, d searchData, name, purpose string) {
	ctx := r.Context()
	if n, err := strconv.Atoi(r.PostFormValue("page")); err == nil && n > 1 && n < 1<<20 {
		d.Page = n
	}
	list, total, err := s.cfg.Store.FindPersonsByName(ctx, name, (d.Page-1)*namePage, namePage)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for _, x := range list {
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: x.Person, Page: "console/search", Fields: "name,id_number_masked,sex,region,registered_on", Purpose: purpose}); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	d.Results, d.Searched, d.Total = list, true, total
	d.Pages = max(1, int((total+namePage-1)/namePage))
	v.Data = d
	status := http.StatusOK
	if total == 0 {
		v.Errors["name"] = v.T("search.name_not_found")
		status = http.StatusNotFound
	}
	s.render(w, r, status, "search", v)
}

// personFieldsShown names what a person page shows, for the query log.
const personFieldsShown = "registration,enrolments,contributions,subsidies,benefits,deemed_periods,account_transfers,other_records,account,contribution_years,pension_estimate"

func (s *server) personPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	purpose := r.URL.Query().Get("purpose")
	if !slices.Contains(Purposes, purpose) {
		http.Redirect(w, r, "/console/persons", http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	pv, err := s.cfg.Store.PersonRecord(ctx, r.PathValue("person"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	// Logged before anything is shown: a view that cannot be logged is not shown (Q7).
	if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
		Person: pv.Person, Page: "console/person", Fields: personFieldsShown, Purpose: purpose}); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v := s.staffView(w, r, p, "person.title")
	d := newPersonData(pv, v.Lang, "purpose."+purpose)
	d.Console, d.PurposeCode, d.CanCorrect = true, purpose, p.Has(auth.PostMaintainer)
	d.MaintLog = slices.ContainsFunc(draftSeen, p.Has)
	v.Data = d
	s.render(w, r, http.StatusOK, "person", v)
}

func (s *server) queryLogPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.queryLogSearch(w, r, p) // search, export and verification: queryuse_console.go
}

// openID returns the masked ID number of a sealed one.
func openMasked(st *store.Store, sealed []byte) string {
	id, err := st.Keys().OpenID(sealed)
	if err != nil {
		return "******************"
	}
	return record.MaskID(id)
}
