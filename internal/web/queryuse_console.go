package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/access"
	"sirec/internal/auth"
	"sirec/internal/certificate"
	"sirec/internal/export"
	"sirec/internal/objection"
	"sirec/internal/querylog"
	"sirec/internal/queryuse"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/statement"
	"sirec/internal/stats"
)

// Query and use in the staff console (Q1–Q7): objections, certificates on a person's behalf, the yearly
// statements, proxy authorisations, other bodies' applications, statistics and the query log.

// Post groups of these pages.
var (
	counterStaff = append(slices.Clone(business), auth.PostQuery) // who serve persons at the counter
	approvers    = []auth.Post{auth.PostApprover}
	runners      = []auth.Post{auth.PostCollector, auth.PostMaintainer} // who start the yearly statements
)

func (s *server) queryUseConsoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/objections", s.staffOnly(readers, s.objectionsPage))
	mux.HandleFunc("GET /console/objections/new", s.staffOnly(counterStaff, s.objectionForm))
	mux.HandleFunc("POST /console/objections/new", s.staffForm(counterStaff, s.fileObjectionAtCounter))
	mux.HandleFunc("GET /console/objections/{number}", s.staffOnly(readers, s.objectionPage))
	mux.HandleFunc("POST /console/objections/{number}/{action}", s.staffForm(maintainers, s.objectionAction))
	mux.HandleFunc("GET /console/objections/{number}/materials/{sha}", s.staffOnly(readers, s.useMaterialPage("objection")))
	mux.HandleFunc("GET /console/certificates", s.staffOnly(counterStaff, s.certificatesPage))
	mux.HandleFunc("POST /console/certificates", s.staffForm(counterStaff, s.issueCertificateForPerson))
	mux.HandleFunc("GET /console/certificates/{number}", s.staffOnly(readers, s.certificatePage))
	mux.HandleFunc("GET /console/certificates/{number}/pdf", s.staffOnly(readers, s.certificatePDF))
	mux.HandleFunc("POST /console/certificates/{number}/revoke", s.staffForm(maintainers, s.revokeCertificate))
	mux.HandleFunc("GET /console/statements", s.staffOnly(readers, s.statementsPage))
	mux.HandleFunc("POST /console/statements/runs", s.staffForm(runners, s.startStatementRun))
	mux.HandleFunc("POST /console/statements/print", s.staffForm(readers, s.printStatement))
	mux.HandleFunc("GET /console/proxies", s.staffOnly(readers, s.proxiesPage))
	mux.HandleFunc("POST /console/proxies", s.staffForm(counterStaff, s.recordProxy))
	mux.HandleFunc("GET /console/proxies/{number}", s.staffOnly(readers, s.proxyPage))
	mux.HandleFunc("POST /console/proxies/{number}/revoke", s.staffForm(counterStaff, s.revokeProxy))
	mux.HandleFunc("POST /console/proxies/{number}/query", s.staffForm(counterStaff, s.serveProxy))
	mux.HandleFunc("GET /console/proxies/{number}/materials/{sha}", s.staffOnly(readers, s.useMaterialPage("proxy")))
	mux.HandleFunc("GET /console/applications", s.staffOnly(readers, s.applicationsPage))
	mux.HandleFunc("POST /console/applications", s.staffForm(counterStaff, s.registerApplication))
	mux.HandleFunc("GET /console/applications/{number}", s.staffOnly(readers, s.applicationPage))
	mux.HandleFunc("POST /console/applications/{number}/decision", s.staffForm(approvers, s.decideApplication))
	mux.HandleFunc("POST /console/applications/{number}/query", s.staffForm(counterStaff, s.serveApplication))
	mux.HandleFunc("GET /console/applications/{number}/export", s.staffOnly(counterStaff, s.exportApplication))
	mux.HandleFunc("GET /console/applications/{number}/materials/{sha}", s.staffOnly(readers, s.useMaterialPage("application")))
	mux.HandleFunc("GET /console/statistics", s.staffOnly(auditors, s.statisticsPage))
	mux.HandleFunc("GET /console/statistics/export", s.staffOnly(auditors, s.statisticsExport))
	mux.HandleFunc("GET /console/querylog/export", s.staffOnly(auditors, s.queryLogExport))
}

// queryUseNav are the console's navigation entries of these pages.
var queryUseNav = []struct {
	href, label string
	posts       []auth.Post
}{
	{"/console/objections", "nav.objections", readers},
	{"/console/certificates", "nav.certificates", counterStaff},
	{"/console/statements", "nav.statements", readers},
	{"/console/proxies", "nav.proxies", readers},
	{"/console/applications", "nav.applications", readers},
	{"/console/statistics", "nav.statistics", auditors},
}

func (s *server) qu() *queryuse.Services {
	if s.cfg.QueryUse != nil {
		return s.cfg.QueryUse
	}
	return queryuse.For(s.cfg.Store, s.cfg.Review)
}

// fieldOf maps a domain error's field to a form field: "fields[2]" → "fields", "id_numbers[0]" → "id_numbers".
func fieldOf(f string) string {
	if i := strings.IndexByte(f, '['); i > 0 {
		return f[:i]
	}
	return f
}

// invalidOr shows a validation error next to its field on page (rendered with status 422), or any other error as
// the error page.
func (s *server) invalidOr(w http.ResponseWriter, r *http.Request, v *view, page string, err error) {
	if !showInvalid(v, err, fieldOf) {
		s.failErr(w, r, v.Area, err)
		return
	}
	if len(v.General) == 0 && len(v.Errors) > 0 {
		v.General = []string{v.T("qu.fix_fields")}
	}
	s.render(w, r, http.StatusUnprocessableEntity, page, v)
}

// logRead writes a staff member's read of a person's data to the query log before it is shown (Q7).
func (s *server) logRead(ctx context.Context, p *auth.Principal, person, page, fields, purpose string) error {
	return querylog.Append(ctx, s.cfg.Store.Driver(), querylog.Entry{At: s.cfg.Now(), ActorKind: querylog.ActorStaff, Actor: p.Username,
		Person: person, Page: page, Fields: fields, Purpose: purpose})
}

// personLine is who a page is about: masked name and ID number.
type personLine struct {
	Person, Name, IDMasked string
}

func (s *server) personLine(ctx context.Context, person string) personLine {
	v, err := s.cfg.Store.PersonRecord(ctx, person)
	if err != nil {
		return personLine{Person: person}
	}
	return personLine{Person: person, Name: MaskName(v.Name), IDMasked: v.IDMasked}
}

// useMaterialPage serves an attached material only through what it belongs to, checked against its hash.
func (s *server) useMaterialPage(kind string) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		s.serveUseMaterial(w, r, "console", kind+":"+strings.ToUpper(r.PathValue("number")), r.PathValue("sha"))
	}
}

func (s *server) serveUseMaterial(w http.ResponseWriter, r *http.Request, area, owner, sha string) {
	ok, err := access.HasMaterial(r.Context(), s.cfg.Store.Driver(), owner, sha)
	if err != nil {
		s.failErr(w, r, area, err)
		return
	}
	if !ok {
		s.fail(w, r, area, http.StatusNotFound, "err.not_found")
		return
	}
	b, err := s.cfg.Review.ReadMaterial(r.Context(), sha)
	if err != nil {
		s.failErr(w, r, area, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+sha[:12])
	w.Header().Set("X-Content-SHA256", sha)
	w.Write(b)
}

func writePDF(w http.ResponseWriter, name string, doc []byte) {
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write(doc)
}

// --- objections ---

type objectionsData struct {
	List     []objection.Objection
	Pager    pager
	Status   string
	Overdue  bool
	Statuses []string
	Count    int // overdue objections
	Counter  bool
}

func (s *server) objectionsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	q := r.URL.Query()
	d := objectionsData{Status: q.Get("status"), Overdue: q.Get("overdue") == "1", Statuses: append([]string{"active"}, objection.Statuses...),
		Counter: slices.ContainsFunc(counterStaff, p.Has)}
	if d.Status == "" && !q.Has("status") {
		d.Status = "active"
	}
	d.Pager = newPager(r, 50)
	list, total, err := s.qu().Objections.List(ctx, objection.Filter{Status: d.Status, Overdue: d.Overdue}, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.List = list
	d.Pager.setTotal(int64(total))
	if d.Count, err = s.qu().Objections.OverdueCount(ctx); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v := s.staffView(w, r, p, "qu.objections.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "qu_objections", v)
}

func (s *server) objectionForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "qu.objection.new")
	s.render(w, r, http.StatusOK, "qu_objection_new", v)
}

func (s *server) fileObjectionAtCounter(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "qu.objection.new")
	v.Form = formValues(r, "id_number", "employer", "subject", "description", "event")
	n := objection.New{IDNumber: v.Form["id_number"], Employer: v.Form["employer"], Subject: v.Form["subject"], Description: v.Form["description"]}
	if e := v.Form["event"]; e != "" {
		seq, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			s.invalidOr(w, r, v, "qu_objection_new", record.Invalid("event", "integer", "the event number is a whole number"))
			return
		}
		n.EventSeq = &seq
	}
	mats, err := s.materials(ctx, r)
	if err != nil {
		s.invalidOr(w, r, v, "qu_objection_new", err)
		return
	}
	n.Materials = mats
	o, err := s.qu().Objections.File(ctx, objection.Filer{Kind: objection.FilerCounter, Name: p.Username}, n)
	if err != nil {
		s.invalidOr(w, r, v, "qu_objection_new", err)
		return
	}
	http.Redirect(w, r, "/console/objections/"+o.Number+"?n=filed", http.StatusSeeOther)
}

type objectionData struct {
	O        objection.Objection
	Who      personLine
	Maintain bool   // the user may re-check it
	Base     string // where its materials are served
}

func (s *server) loadObjection(w http.ResponseWriter, r *http.Request, area string) (objection.Objection, bool) {
	id, err := objection.ParseNumber(r.PathValue("number"))
	if err != nil {
		s.fail(w, r, area, http.StatusNotFound, "err.not_found")
		return objection.Objection{}, false
	}
	o, err := s.qu().Objections.Get(r.Context(), id)
	if err != nil {
		s.failErr(w, r, area, err)
		return o, false
	}
	return o, true
}

func (s *server) objectionPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showObjection(w, r, p, http.StatusOK, nil)
}

func (s *server) showObjection(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	o, ok := s.loadObjection(w, r, "console")
	if !ok {
		return
	}
	// The page names the person: logged before it is shown.
	if err := s.logRead(r.Context(), p, o.Person, "console/objection", "identity_masked,objection "+o.Number, "objection"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if v == nil {
		v = s.staffView(w, r, p, "qu.objection.title")
	}
	if n := r.URL.Query().Get("n"); slices.Contains([]string{"filed", "assign", "correction", "answer"}, n) {
		v.Notice = "qu.notice." + n
	}
	v.Data = objectionData{O: o, Who: s.personLine(r.Context(), o.Person), Maintain: p.Has(auth.PostMaintainer), Base: "/console/objections/" + o.Number}
	s.render(w, r, status, "qu_objection", v)
}

func (s *server) objectionAction(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := objection.ParseNumber(r.PathValue("number"))
	if err != nil {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	ctx := r.Context()
	svc := s.qu().Objections
	action := r.PathValue("action")
	v := s.staffView(w, r, p, "qu.objection.title")
	v.Form = formValues(r, "draft", "answer", "confirm")
	switch action {
	case "assign":
		_, err = svc.Assign(ctx, p.Username, id)
	case "correction":
		_, err = svc.LinkCorrection(ctx, p.Username, id, v.Form["draft"])
	case "answer":
		if v.Form["confirm"] == "" {
			err = record.Invalid("confirm", "confirm", "confirm that the answer closes the objection")
		} else {
			_, err = svc.Answer(ctx, p.Username, id, v.Form["answer"])
		}
	default:
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showObjection(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/objections/"+objection.Number(id)+"?n="+action, http.StatusSeeOther)
}

// --- certificates ---

type certificatesData struct {
	Kinds  []string
	Recent []certificate.Certificate
}

func (s *server) certificatesPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "qu.certificates.title")
	now := s.cfg.Now().In(s.cfg.Location)
	v.Form = map[string]string{"kind": certificate.KindContributions, "from": fmt.Sprintf("%04d01", now.Year()-1), "to": now.Format("200601")}
	v.Data = certificatesData{Kinds: certificate.Kinds}
	s.render(w, r, http.StatusOK, "qu_certificates", v)
}

func (s *server) issueCertificateForPerson(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "qu.certificates.title")
	v.Form = formValues(r, "id_number", "kind", "from", "to", "purpose")
	v.Data = certificatesData{Kinds: certificate.Kinds}
	var errs record.Errors
	id := strings.ToUpper(v.Form["id_number"])
	var person string
	if err := record.ValidateCitizenID("id_number", id, s.cfg.Now()); err != nil {
		errs.Append("", err)
	} else if person, err = s.cfg.Store.FindPerson(ctx, id); err != nil {
		if record.ErrorCode(err) != record.ENotFound {
			s.failErr(w, r, "console", err)
			return
		}
		errs.Append("", record.Invalid("id_number", "person_registered", "no registered person has this ID number"))
	}
	from, err := record.ParsePeriod("from", v.Form["from"])
	errs.Append("", err)
	to, err := record.ParsePeriod("to", v.Form["to"])
	errs.Append("", err)
	if len(errs) > 0 {
		s.invalidOr(w, r, v, "qu_certificates", errs)
		return
	}
	c, err := s.qu().Certificates.Issue(ctx, certificate.Request{Person: person, Kind: v.Form["kind"], From: from, To: to,
		IssuerKind: certificate.IssuerStaff, Issuer: p.Username, Purpose: "certificate"})
	if err != nil {
		s.invalidOr(w, r, v, "qu_certificates", err)
		return
	}
	http.Redirect(w, r, "/console/certificates/"+c.Number+"?n=issued", http.StatusSeeOther)
}

type certificateData struct {
	C        certificate.Certificate
	QR       template.HTML
	CheckURL string
	Base     string // this certificate's pages
	Revoke   bool   // the user may revoke it
}

func (s *server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return s.qu().Base(scheme, r.Host)
}

func (s *server) certificateData(r *http.Request, c certificate.Certificate, base string) certificateData {
	code, _ := certificate.NormalizeCode(c.Code)
	u := certificate.CheckURL(s.baseURL(r), code)
	svg, _ := certificate.QRSVG(u, "QR")
	return certificateData{C: c, QR: template.HTML(svg), CheckURL: u, Base: base}
}

func (s *server) loadCertificate(w http.ResponseWriter, r *http.Request, area string) (certificate.Certificate, bool) {
	c, err := s.qu().Certificates.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		s.failErr(w, r, area, err)
		return c, false
	}
	return c, true
}

func (s *server) certificatePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showCertificate(w, r, p, http.StatusOK, nil)
}

func (s *server) showCertificate(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	c, ok := s.loadCertificate(w, r, "console")
	if !ok {
		return
	}
	if err := s.logRead(r.Context(), p, c.Person, "console/certificate", "certificate "+c.Number, "certificate"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if v == nil {
		v = s.staffView(w, r, p, "qu.certificate.title")
	}
	if n := r.URL.Query().Get("n"); n == "issued" || n == "revoked" {
		v.Notice = "qu.notice.certificate_" + n
	}
	d := s.certificateData(r, c, "/console/certificates/"+c.Number)
	d.Revoke = p.Has(auth.PostMaintainer) && c.RevokedAt.IsZero()
	v.Data = d
	s.render(w, r, status, "qu_certificate", v)
}

func (s *server) certificatePDF(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	c, ok := s.loadCertificate(w, r, "console")
	if !ok {
		return
	}
	if err := s.logRead(r.Context(), p, c.Person, "console/certificate.pdf", "certificate "+c.Number, "certificate"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	doc, err := s.qu().Certificates.PDF(c, s.baseURL(r))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writePDF(w, c.Number+".pdf", doc)
}

func (s *server) revokeCertificate(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "qu.certificate.title")
	v.Form = formValues(r, "reason", "confirm")
	var err error
	if v.Form["confirm"] == "" {
		err = record.Invalid("confirm", "confirm", "confirm the revocation")
	} else {
		_, err = s.qu().Certificates.Revoke(r.Context(), p.Username, r.PathValue("number"), v.Form["reason"])
	}
	if err != nil {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showCertificate(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/certificates/"+strings.ToUpper(r.PathValue("number"))+"?n=revoked", http.StatusSeeOther)
}

// --- statements ---

type statementsData struct {
	Runs    []statement.RunInfo
	Pager   pager
	Runner  bool
	Running bool
	Year    int
}

func (s *server) statementsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showStatements(w, r, p, http.StatusOK, nil)
}

func (s *server) showStatements(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	d := statementsData{Pager: newPager(r, 20), Runner: slices.ContainsFunc(runners, p.Has), Year: s.cfg.Now().In(s.cfg.Location).Year() - 1}
	runs, total, err := s.qu().Statements.Runs(r.Context(), d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Runs = runs
	d.Pager.setTotal(int64(total))
	for _, run := range runs {
		d.Running = d.Running || run.Status == statement.RunRunning
	}
	if v == nil {
		v = s.staffView(w, r, p, "qu.statements.title")
		v.Form = map[string]string{"year": strconv.Itoa(d.Year), "print_year": strconv.Itoa(d.Year)}
	}
	if d.Running {
		v.Refresh = 5
	}
	if r.URL.Query().Get("n") == "started" {
		v.Notice = "qu.notice.run_started"
	}
	v.Data = d
	s.render(w, r, status, "qu_statements", v)
}

func (s *server) startStatementRun(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "qu.statements.title")
	v.Form = formValues(r, "year", "reissue", "confirm")
	year, err := strconv.Atoi(v.Form["year"])
	if err != nil {
		err = record.Invalid("year", "statement_year", "give the year, e.g. 2025")
	} else if v.Form["confirm"] == "" {
		err = record.Invalid("confirm", "confirm", "confirm the run")
	} else {
		_, err = s.qu().Statements.Start(r.Context(), statement.RunOptions{Year: year, Reissue: v.Form["reissue"] != "", Actor: p.Username})
	}
	if err != nil {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showStatements(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/statements?n=started", http.StatusSeeOther)
}

// printStatement prints a person's statement of a year at the counter: the ID number comes in the form body and
// the read is logged.
func (s *server) printStatement(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "qu.statements.title")
	v.Form = formValues(r, "id_number", "print_year", "year")
	id := strings.ToUpper(v.Form["id_number"])
	fail := func(err error) {
		if !showInvalid(v, err, func(f string) string {
			if f == "year" {
				return "print_year"
			}
			return fieldOf(f)
		}) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showStatements(w, r, p, http.StatusUnprocessableEntity, v)
	}
	if err := record.ValidateCitizenID("id_number", id, s.cfg.Now()); err != nil {
		fail(err)
		return
	}
	year, err := strconv.Atoi(v.Form["print_year"])
	if err != nil {
		fail(record.Invalid("print_year", "statement_year", "give the year, e.g. 2025"))
		return
	}
	person, err := s.cfg.Store.FindPerson(ctx, id)
	if record.ErrorCode(err) == record.ENotFound {
		fail(record.Invalid("id_number", "person_registered", "no registered person has this ID number"))
		return
	}
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	st, issued, err := s.qu().Statements.Get(ctx, person, year, 0)
	if record.ErrorCode(err) == record.ENotFound {
		fail(record.Invalid("print_year", "statement_issued", "no statement of %d has been issued to this person; run the year's statements first", year))
		return
	}
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if err := s.logRead(ctx, p, person, "console/statement.pdf", "statement "+strconv.Itoa(year), "counter"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	doc, err := s.qu().Statements.PDF(st)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writePDF(w, fmt.Sprintf("statement-%d-v%d.pdf", year, issued.Version), doc)
}

// --- proxies ---

type proxiesData struct {
	List    []access.Authorisation
	Pager   pager
	Active  bool
	Fields  []string
	Counter bool
	Checked map[string]bool
}

func (s *server) proxiesPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showProxies(w, r, p, http.StatusOK, nil)
}

func (s *server) showProxies(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	d := proxiesData{Pager: newPager(r, 50), Active: r.URL.Query().Get("active") == "1", Fields: access.FieldGroups,
		Counter: slices.ContainsFunc(counterStaff, p.Has), Checked: map[string]bool{}}
	list, total, err := s.qu().Access.Authorisations(r.Context(), access.AuthorisationFilter{Active: d.Active}, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.List = list
	d.Pager.setTotal(int64(total))
	if v == nil {
		v = s.staffView(w, r, p, "qu.proxies.title")
		now := s.cfg.Now().In(s.cfg.Location)
		v.Form = map[string]string{"valid_from": now.Format("2006-01-02"), "valid_until": now.AddDate(0, 3, 0).Format("2006-01-02")}
	}
	for _, f := range r.PostForm["fields"] {
		d.Checked[f] = true
	}
	v.Data = d
	s.render(w, r, status, "qu_proxies", v)
}

func (s *server) recordProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "qu.proxies.title")
	v.Form = formValues(r, "person_id_number", "proxy_id_number", "proxy_name", "valid_from", "valid_until")
	n := access.NewAuthorisation{PersonIDNumber: v.Form["person_id_number"], ProxyIDNumber: v.Form["proxy_id_number"], ProxyName: v.Form["proxy_name"],
		Fields: r.PostForm["fields"], ValidFrom: v.Form["valid_from"], ValidUntil: v.Form["valid_until"]}
	mats, err := s.materials(ctx, r)
	if err == nil {
		n.Materials = mats
		var a access.Authorisation
		if a, err = s.qu().Access.RecordAuthorisation(ctx, p.Username, n); err == nil {
			http.Redirect(w, r, "/console/proxies/"+a.Number+"?n=recorded", http.StatusSeeOther)
			return
		}
	}
	if !showInvalid(v, err, fieldOf) {
		s.failErr(w, r, "console", err)
		return
	}
	s.showProxies(w, r, p, http.StatusUnprocessableEntity, v)
}

type proxyData struct {
	A       access.Authorisation
	Who     personLine
	Counter bool
	Result  *shown // what a proxy was just shown
	Base    string
}

func (s *server) loadProxy(w http.ResponseWriter, r *http.Request, area string) (access.Authorisation, bool) {
	id, err := access.ParseNumber("number", "P", r.PathValue("number"))
	if err != nil {
		s.fail(w, r, area, http.StatusNotFound, "err.not_found")
		return access.Authorisation{}, false
	}
	a, err := s.qu().Access.Authorisation(r.Context(), id)
	if err != nil {
		s.failErr(w, r, area, err)
		return a, false
	}
	return a, true
}

func (s *server) proxyPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showProxy(w, r, p, http.StatusOK, nil, nil)
}

func (s *server) showProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view, result *shown) {
	a, ok := s.loadProxy(w, r, "console")
	if !ok {
		return
	}
	if err := s.logRead(r.Context(), p, a.Person, "console/proxy", "identity_masked,authorisation "+a.Number, "proxy_management"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if v == nil {
		v = s.staffView(w, r, p, "qu.proxy.title")
	}
	if n := r.URL.Query().Get("n"); n == "recorded" || n == "revoked" {
		v.Notice = "qu.notice.proxy_" + n
	}
	v.Data = proxyData{A: a, Who: s.personLine(r.Context(), a.Person), Counter: slices.ContainsFunc(counterStaff, p.Has), Result: result,
		Base: "/console/proxies/" + a.Number}
	s.render(w, r, status, "qu_proxy", v)
}

func (s *server) revokeProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := s.loadProxy(w, r, "console")
	if !ok {
		return
	}
	v := s.staffView(w, r, p, "qu.proxy.title")
	v.Form = formValues(r, "reason", "confirm")
	var err error
	if v.Form["confirm"] == "" {
		err = record.Invalid("confirm", "confirm", "confirm the revocation")
	} else {
		_, err = s.qu().Access.RevokeAuthorisation(r.Context(), p.Username, a.ID, v.Form["reason"])
	}
	if err != nil {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showProxy(w, r, p, http.StatusUnprocessableEntity, v, nil)
		return
	}
	http.Redirect(w, r, "/console/proxies/"+a.Number+"?n=revoked", http.StatusSeeOther)
}

// serveProxy serves a proxy at the counter: the ID number they present is checked against the authorisation,
// and what it grants is shown (logged as the proxy's read).
func (s *server) serveProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := s.loadProxy(w, r, "console")
	if !ok {
		return
	}
	v := s.staffView(w, r, p, "qu.proxy.title")
	v.Form = formValues(r, "proxy_id_number")
	view, _, err := s.qu().Access.ProxyRead(r.Context(), a.ID, access.Proxy{IDNumber: v.Form["proxy_id_number"], Via: p.Username}, "console/proxy/query")
	if err != nil {
		if record.ErrorCode(err) == record.EForbidden {
			v.Errors["proxy_id_number"] = err.Error()
		} else if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showProxy(w, r, p, http.StatusUnprocessableEntity, v, nil)
		return
	}
	s.showProxy(w, r, p, http.StatusOK, v, s.shownOf(r.Context(), a.Person, a.Fields, view))
}

// --- applications ---

type applicationsData struct {
	List      []access.Application
	Pager     pager
	Status    string
	Fields    []string
	BodyKinds []string
	Counter   bool
	Checked   map[string]bool
}

func (s *server) applicationsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showApplications(w, r, p, http.StatusOK, nil)
}

func (s *server) showApplications(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view) {
	d := applicationsData{Pager: newPager(r, 50), Status: r.URL.Query().Get("status"), Fields: access.FieldGroups, BodyKinds: access.BodyKinds,
		Counter: slices.ContainsFunc(counterStaff, p.Has), Checked: map[string]bool{}}
	list, total, err := s.qu().Access.Applications(r.Context(), d.Status, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.List = list
	d.Pager.setTotal(int64(total))
	if v == nil {
		v = s.staffView(w, r, p, "qu.applications.title")
		v.Form = map[string]string{"requested_until": s.cfg.Now().In(s.cfg.Location).AddDate(0, 3, 0).Format("2006-01-02")}
	}
	for _, f := range r.PostForm["fields"] {
		d.Checked[f] = true
	}
	v.Data = d
	s.render(w, r, status, "qu_applications", v)
}

func (s *server) registerApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "qu.applications.title")
	v.Form = formValues(r, "body_name", "body_kind", "credential", "contact", "purpose", "legal_basis", "id_numbers", "employer", "requested_until")
	n := access.NewApplication{BodyName: v.Form["body_name"], BodyKind: v.Form["body_kind"], Credential: v.Form["credential"], Contact: v.Form["contact"],
		Purpose: v.Form["purpose"], LegalBasis: v.Form["legal_basis"], Fields: r.PostForm["fields"], Employer: v.Form["employer"],
		RequestedUntil: v.Form["requested_until"], IDNumbers: strings.Fields(strings.NewReplacer(",", " ", "，", " ", ";", " ").Replace(v.Form["id_numbers"]))}
	mats, err := s.materials(ctx, r)
	if err == nil {
		n.Materials = mats
		var a access.Application
		if a, err = s.qu().Access.RegisterApplication(ctx, p.Username, n); err == nil {
			http.Redirect(w, r, "/console/applications/"+a.Number+"?n=registered", http.StatusSeeOther)
			return
		}
	}
	if !showInvalid(v, err, fieldOf) {
		s.failErr(w, r, "console", err)
		return
	}
	s.showApplications(w, r, p, http.StatusUnprocessableEntity, v)
}

type applicationData struct {
	A       access.Application
	Approve bool // the user may decide it
	Counter bool // the user may serve it
	Result  *shown
	Fields  []string
	Base    string
	Until   string // the last day of access, or of the period asked for
}

func (s *server) loadApplication(w http.ResponseWriter, r *http.Request) (access.Application, bool) {
	id, err := access.ParseNumber("number", "A", r.PathValue("number"))
	if err != nil {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return access.Application{}, false
	}
	a, err := s.qu().Access.Application(r.Context(), id)
	if err != nil {
		s.failErr(w, r, "console", err)
		return a, false
	}
	return a, true
}

func (s *server) applicationPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showApplication(w, r, p, http.StatusOK, nil, nil)
}

func (s *server) showApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, v *view, result *shown) {
	a, ok := s.loadApplication(w, r)
	if !ok {
		return
	}
	if v == nil {
		v = s.staffView(w, r, p, "qu.application.title")
		v.Form = map[string]string{"valid_until": s.qu().Access.Day(a.RequestedUntil, true)}
	}
	if n := r.URL.Query().Get("n"); n == "registered" || n == "decided" {
		v.Notice = "qu.notice.application_" + n
	}
	d := applicationData{A: a, Approve: p.Has(auth.PostApprover) && a.Status == access.AppPending && a.RegisteredBy != p.Username,
		Counter: slices.ContainsFunc(counterStaff, p.Has), Result: result, Fields: a.Fields, Base: "/console/applications/" + a.Number,
		Until: s.qu().Access.Day(a.RequestedUntil, true)}
	if a.Status == access.AppApproved {
		d.Until = s.qu().Access.Day(a.ValidUntil, true)
	}
	v.Data = d
	s.render(w, r, status, "qu_application", v)
}

func (s *server) decideApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := s.loadApplication(w, r)
	if !ok {
		return
	}
	v := s.staffView(w, r, p, "qu.application.title")
	v.Form = formValues(r, "decision", "reason", "valid_until")
	_, err := s.qu().Access.Decide(r.Context(), p.Username, a.ID, access.Decision{Decision: v.Form["decision"], Reason: v.Form["reason"],
		ValidUntil: v.Form["valid_until"], Fields: r.PostForm["fields"]})
	if err != nil {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showApplication(w, r, p, http.StatusUnprocessableEntity, v, nil)
		return
	}
	http.Redirect(w, r, "/console/applications/"+a.Number+"?n=decided", http.StatusSeeOther)
}

func (s *server) serveApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := s.loadApplication(w, r)
	if !ok {
		return
	}
	v := s.staffView(w, r, p, "qu.application.title")
	v.Form = formValues(r, "id_number")
	view, _, err := s.qu().Access.BodyRead(r.Context(), a.ID, v.Form["id_number"], p.Username, "console/application/query")
	if err != nil {
		if code := record.ErrorCode(err); code == record.EForbidden || code == record.ENotFound {
			v.Errors["id_number"] = err.Error()
		} else if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showApplication(w, r, p, http.StatusUnprocessableEntity, v, nil)
		return
	}
	person, _ := view["person"].(string)
	s.showApplication(w, r, p, http.StatusOK, v, s.shownOf(r.Context(), person, a.Fields, view))
}

func (s *server) exportApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	a, ok := s.loadApplication(w, r)
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	t, _, err := s.qu().Access.BodyExport(r.Context(), a.ID, p.Username)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writeTable(w, a.Number, format, t)
}

func writeTable(w http.ResponseWriter, name, format string, t export.Table) {
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.`+format+`"`)
	export.Write(w, format, t)
}

// --- statistics ---

type statisticsData struct {
	T     *stats.Table
	Query string
}

func statsForm(r *http.Request) (stats.Query, map[string]string, error) {
	q := r.URL.Query()
	form := map[string]string{"measure": q.Get("measure"), "granularity": q.Get("granularity"), "from": q.Get("from"), "to": q.Get("to")}
	sq := stats.Query{Measure: form["measure"], Granularity: form["granularity"], By: q["by"]}
	for _, d := range sq.By {
		form["by_"+d] = "on"
	}
	var errs record.Errors
	var err error
	sq.From, err = record.ParsePeriod("from", form["from"])
	errs.Append("", err)
	sq.To, err = record.ParsePeriod("to", form["to"])
	errs.Append("", err)
	return sq, form, errs.Err()
}

func (s *server) statisticsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "qu.statistics.title")
	if !r.URL.Query().Has("from") {
		y := s.cfg.Now().In(s.cfg.Location).Year() - 1
		v.Form = map[string]string{"measure": stats.Contributions, "granularity": "year", "from": fmt.Sprintf("%d01", y), "to": fmt.Sprintf("%d12", y),
			"by_region": "on", "by_type": "on", "by_period": "on"}
		v.Data = statisticsData{}
		s.render(w, r, http.StatusOK, "qu_statistics", v)
		return
	}
	q, form, err := statsForm(r)
	v.Form = form
	var t stats.Table
	if err == nil {
		t, err = stats.Make(r.Context(), s.cfg.Store.Driver(), q)
	}
	if err != nil {
		v.Data = statisticsData{}
		s.invalidOr(w, r, v, "qu_statistics", err)
		return
	}
	v.Data = statisticsData{T: &t, Query: r.URL.RawQuery}
	s.render(w, r, http.StatusOK, "qu_statistics", v)
}

func (s *server) statisticsExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q, _, err := statsForm(r)
	format := r.URL.Query().Get("format")
	if err != nil || format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	t, err := stats.Make(r.Context(), s.cfg.Store.Driver(), q)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writeTable(w, "statistics-"+t.Query.Measure, format, stats.Export(t))
}

// --- query log ---

type queryLogData struct {
	Entries []querylog.Entry
	Pager   pager
	Total   int
	Kinds   []string
	Query   string
	Report  querylog.Report
	Broken  string // what verification found wrong, "" when the log is intact
}

func queryLogFilterOf(r *http.Request, loc *time.Location) (querylog.Filter, map[string]string, error) {
	q := r.URL.Query()
	form := map[string]string{}
	for _, k := range []string{"person", "actor", "actor_kind", "purpose", "application", "from", "to"} {
		form[k] = strings.TrimSpace(q.Get(k))
	}
	f := querylog.Filter{Person: form["person"], Actor: form["actor"], ActorKind: form["actor_kind"], Purpose: form["purpose"], Application: form["application"]}
	var err error
	f.From, f.To, err = record.DayRange(form["from"], form["to"], loc)
	return f, form, err
}

// queryLogSearch is the supervisor's query log page: search, paging, export, and whether the log verifies.
func (s *server) queryLogSearch(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "querylog.title")
	f, form, err := queryLogFilterOf(r, s.cfg.Location)
	v.Form = form
	d := queryLogData{Pager: newPager(r, 100), Kinds: querylog.ActorKinds}
	if err != nil {
		v.Data = d
		s.invalidOr(w, r, v, "querylog", err)
		return
	}
	es, total, err := querylog.List(ctx, s.cfg.Store.Driver(), f, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Entries, d.Total = es, total
	d.Pager.setTotal(int64(total))
	q := url.Values{}
	for k, val := range form {
		if val != "" {
			q.Set(k, val)
		}
	}
	d.Query = q.Encode()
	d.Report, err = querylog.Verify(ctx, s.cfg.Store.Driver(), s.cfg.Store.Keys().Verifier)
	if err != nil {
		d.Broken = err.Error()
		s.cfg.Logger.Error("query log verification", "err", err)
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "querylog", v)
}

func (s *server) queryLogExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, _, err := queryLogFilterOf(r, s.cfg.Location)
	format := r.URL.Query().Get("format")
	if err != nil || format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	es, err := querylog.Export(r.Context(), s.cfg.Store.Driver(), f)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	writeTable(w, "query-log", format, querylog.Table(es))
}

// shown is what a proxy or another body was shown: the granted fields as label and value, and the granted
// record in full (JSON), for the counter to print or read out.
type shown struct {
	Pairs []kv
	JSON  string
}

func (s *server) shownOf(ctx context.Context, person string, fields []string, granted map[string]any) *shown {
	out := &shown{}
	if b, err := json.MarshalIndent(granted, "", "  "); err == nil {
		out.JSON = string(b)
	}
	v, err := s.cfg.Store.PersonRecord(ctx, person)
	if err != nil {
		return out
	}
	cols, row := access.Columns(fields), access.Row(v, fields)
	for i := range cols {
		if i < len(row) {
			out.Pairs = append(out.Pairs, kv{K: cols[i], V: row[i]})
		}
	}
	return out
}

// quField is a form field of these pages' templates (qu_text, qu_area, qu_confirm).
type quField struct {
	V                       *view
	Name, Label, Hint, Type string
}

func init() {
	funcs["qf"] = func(v *view, name, label, hint string) quField {
		return quField{V: v, Name: name, Label: label, Hint: hint}
	}
	funcs["qfd"] = func(v *view, name, label, hint, typ string) quField {
		return quField{V: v, Name: name, Label: label, Hint: hint, Type: typ}
	}
	funcs["qconfirm"] = func(v *view, name, label string) quField { return quField{V: v, Name: name, Label: label} }
	funcs["qfields"] = func(v *view, fields []string, checked map[string]bool) any {
		return struct {
			V       *view
			Fields  []string
			Checked map[string]bool
		}{v, fields, checked}
	}
	funcs["checkedAll"] = func(fields []string) map[string]bool {
		m := map[string]bool{}
		for _, f := range fields {
			m[f] = true
		}
		return m
	}
	funcs["qmat"] = func(v *view, base string, ms []review.Material) any {
		return struct {
			V    *view
			Base string
			M    []review.Material
		}{v, base, ms}
	}
}
