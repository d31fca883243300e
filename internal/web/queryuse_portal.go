package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/access"
	"sirec/internal/certificate"
	"sirec/internal/objection"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/statement"
)

// Query and use in the self-service portal (Q1–Q5, Q7): an insured person's yearly statements, certificates,
// objections, who looked at their record, and the records others authorised them to query as a proxy; an
// employer's objections. The public check page of certificates is in queryuse_verify.go.

func (s *server) queryUsePortalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /portal/statements", s.portalOnly(KindPerson, s.portalStatements))
	mux.HandleFunc("GET /portal/statements/{year}", s.portalOnly(KindPerson, s.portalStatement))
	mux.HandleFunc("GET /portal/statements/{year}/pdf", s.portalOnly(KindPerson, s.portalStatementPDF))
	mux.HandleFunc("GET /portal/certificates", s.portalOnly(KindPerson, s.portalCertificates))
	mux.HandleFunc("POST /portal/certificates", s.form("portal", s.portalOnly(KindPerson, s.portalIssueCertificate)))
	mux.HandleFunc("GET /portal/certificates/{number}", s.portalOnly(KindPerson, s.portalCertificate))
	mux.HandleFunc("GET /portal/certificates/{number}/pdf", s.portalOnly(KindPerson, s.portalCertificatePDF))
	mux.HandleFunc("GET /portal/objections", s.portalOnly("", s.portalObjections))
	mux.HandleFunc("POST /portal/objections", s.form("portal", s.portalOnly("", s.portalFileObjection)))
	mux.HandleFunc("GET /portal/objections/{number}", s.portalOnly("", s.portalObjection))
	mux.HandleFunc("POST /portal/objections/{number}/withdraw", s.form("portal", s.portalOnly("", s.portalWithdrawObjection)))
	mux.HandleFunc("GET /portal/objections/{number}/materials/{sha}", s.portalOnly("", s.portalObjectionMaterial))
	mux.HandleFunc("GET /portal/access-log", s.portalOnly(KindPerson, s.portalAccessLog))
	mux.HandleFunc("GET /portal/proxy", s.portalOnly(KindPerson, s.portalProxies))
	mux.HandleFunc("GET /portal/proxy/{number}", s.portalOnly(KindPerson, s.portalProxyRecord))
}

// queryUsePortalNav are the portal's navigation entries of these pages, by account kind.
func queryUsePortalNav(kind string) []navItem {
	if kind == KindEmployer {
		return []navItem{{Href: "/portal/objections", Label: "nav.objections"}}
	}
	return []navItem{{Href: "/portal/statements", Label: "nav.statements"}, {Href: "/portal/certificates", Label: "nav.certificates"},
		{Href: "/portal/objections", Label: "nav.objections"}, {Href: "/portal/access-log", Label: "nav.access_log"},
		{Href: "/portal/proxy", Label: "nav.proxy"}}
}

// portalQUView is the portal view of these pages (portalView carries their navigation entries).
func (s *server) portalQUView(w http.ResponseWriter, r *http.Request, a *PortalAccount, title string) *view {
	return s.portalView(w, r, a, title)
}

// withQueryUseNav adds these pages' navigation entries to a portal view's, marking the current one.
func withQueryUseNav(nav []navItem, kind, path string) []navItem {
	for _, it := range queryUsePortalNav(kind) {
		if !slices.ContainsFunc(nav, func(n navItem) bool { return n.Href == it.Href }) {
			it.Current = path == it.Href || strings.HasPrefix(path, it.Href+"/")
			nav = append(nav, it)
		}
	}
	return nav
}

// --- statements ---

func (s *server) portalStatements(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	list, err := s.qu().Statements.List(r.Context(), a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalQUView(w, r, a, "qu.statements.mine")
	v.Data = list
	s.render(w, r, http.StatusOK, "qu_portal_statements", v)
}

func (s *server) ownStatement(w http.ResponseWriter, r *http.Request, a *PortalAccount) (*statement.Statement, statement.Issued, bool) {
	year, err := strconv.Atoi(r.PathValue("year"))
	if err != nil {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
		return nil, statement.Issued{}, false
	}
	version, _ := strconv.Atoi(r.URL.Query().Get("version"))
	st, issued, err := s.qu().Statements.Get(r.Context(), a.Subject, year, max(version, 0))
	if err != nil {
		s.failErr(w, r, "portal", err)
		return nil, issued, false
	}
	return st, issued, true
}

type statementData struct {
	S      *statement.Statement
	I      statement.Issued
	PDF    string
	Others []statement.Issued // the year's other versions
}

func (s *server) portalStatement(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	st, issued, ok := s.ownStatement(w, r, a)
	if !ok {
		return
	}
	all, err := s.qu().Statements.List(r.Context(), a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	var others []statement.Issued
	for _, i := range all {
		if i.Year == issued.Year && i.Version != issued.Version {
			others = append(others, i)
		}
	}
	v := s.portalQUView(w, r, a, "qu.statement.title")
	v.Data = statementData{S: st, I: issued, PDF: fmt.Sprintf("/portal/statements/%d/pdf?version=%d", issued.Year, issued.Version), Others: others}
	s.render(w, r, http.StatusOK, "qu_statement", v)
}

func (s *server) portalStatementPDF(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	st, issued, ok := s.ownStatement(w, r, a)
	if !ok {
		return
	}
	doc, err := s.qu().Statements.PDF(st)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	writePDF(w, fmt.Sprintf("权益记录单-%d-v%d.pdf", issued.Year, issued.Version), doc)
}

// --- certificates ---

type portalCertificatesData struct {
	Kinds []string
	List  []certificate.Certificate
}

func (s *server) portalCertificates(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	s.showPortalCertificates(w, r, a, http.StatusOK, nil)
}

func (s *server) showPortalCertificates(w http.ResponseWriter, r *http.Request, a *PortalAccount, status int, v *view) {
	list, err := s.qu().Certificates.List(r.Context(), a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	if v == nil {
		v = s.portalQUView(w, r, a, "qu.certificates.mine")
		now := s.cfg.Now().In(s.cfg.Location)
		v.Form = map[string]string{"kind": certificate.KindContributions, "from": fmt.Sprintf("%04d01", now.Year()-1), "to": now.Format("200601")}
	}
	v.Data = portalCertificatesData{Kinds: certificate.Kinds, List: list}
	s.render(w, r, status, "qu_portal_certificates", v)
}

func (s *server) portalIssueCertificate(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	v := s.portalQUView(w, r, a, "qu.certificates.mine")
	v.Form = formValues(r, "kind", "from", "to")
	var errs record.Errors
	from, err := record.ParsePeriod("from", v.Form["from"])
	errs.Append("", err)
	to, err := record.ParsePeriod("to", v.Form["to"])
	errs.Append("", err)
	err = errs.Err()
	if err == nil {
		var c certificate.Certificate
		c, err = s.qu().Certificates.Issue(r.Context(), certificate.Request{Person: a.Subject, Kind: v.Form["kind"], From: from, To: to,
			IssuerKind: certificate.IssuerPerson, Issuer: a.Username})
		if err == nil {
			http.Redirect(w, r, "/portal/certificates/"+c.Number+"?n=issued", http.StatusSeeOther)
			return
		}
	}
	if !showInvalid(v, err, fieldOf) {
		s.failErr(w, r, "portal", err)
		return
	}
	s.showPortalCertificates(w, r, a, http.StatusUnprocessableEntity, v)
}

// ownCertificate loads a certificate of the signed-in person; anyone else's answers 404.
func (s *server) ownCertificate(w http.ResponseWriter, r *http.Request, a *PortalAccount) (certificate.Certificate, bool) {
	c, ok := s.loadCertificate(w, r, "portal")
	if ok && c.Person != a.Subject {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
		return c, false
	}
	return c, ok
}

func (s *server) portalCertificate(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	c, ok := s.ownCertificate(w, r, a)
	if !ok {
		return
	}
	v := s.portalQUView(w, r, a, "qu.certificate.title")
	if r.URL.Query().Get("n") == "issued" {
		v.Notice = "qu.notice.certificate_issued"
	}
	v.Data = s.certificateData(r, c, "/portal/certificates/"+c.Number)
	s.render(w, r, http.StatusOK, "qu_certificate", v)
}

func (s *server) portalCertificatePDF(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	c, ok := s.ownCertificate(w, r, a)
	if !ok {
		return
	}
	doc, err := s.qu().Certificates.PDF(c, s.baseURL(r))
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	writePDF(w, c.Number+".pdf", doc)
}

// --- objections ---

type portalObjectionsData struct {
	List     []objection.Objection
	Employer bool
}

func (s *server) portalObjections(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	s.showPortalObjections(w, r, a, http.StatusOK, nil)
}

func (s *server) showPortalObjections(w http.ResponseWriter, r *http.Request, a *PortalAccount, status int, v *view) {
	list, _, err := s.qu().Objections.List(r.Context(), objection.Filter{Filer: a.Username}, 0, 200)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	if v == nil {
		v = s.portalQUView(w, r, a, "qu.objections.mine")
	}
	v.Data = portalObjectionsData{List: list, Employer: a.Kind == KindEmployer}
	s.render(w, r, status, "qu_portal_objections", v)
}

func (s *server) portalFileObjection(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	ctx := r.Context()
	v := s.portalQUView(w, r, a, "qu.objections.mine")
	v.Form = formValues(r, "id_number", "subject", "description")
	f := objection.Filer{Kind: objection.FilerPerson, Name: a.Username}
	n := objection.New{Person: a.Subject, Subject: v.Form["subject"], Description: v.Form["description"]}
	fail := func(err error) {
		if !showInvalid(v, err, fieldOf) {
			s.failErr(w, r, "portal", err)
			return
		}
		s.showPortalObjections(w, r, a, http.StatusUnprocessableEntity, v)
	}
	if a.Kind == KindEmployer {
		// An employer names the employee by ID number; the objection service checks that they are its employee.
		f = objection.Filer{Kind: objection.FilerEmployer, Name: a.Username, Employer: a.Subject}
		id := strings.ToUpper(v.Form["id_number"])
		if err := record.ValidateCitizenID("id_number", id, s.cfg.Now()); err != nil {
			fail(err)
			return
		}
		p, err := s.cfg.Store.FindPerson(ctx, id)
		if record.ErrorCode(err) == record.ENotFound {
			fail(record.Invalid("id_number", "person_registered", "no registered person has this ID number"))
			return
		}
		if err != nil {
			s.failErr(w, r, "portal", err)
			return
		}
		n.Person = p
	}
	mats, err := s.materials(ctx, r)
	if err != nil {
		fail(err)
		return
	}
	n.Materials = mats
	o, err := s.qu().Objections.File(ctx, f, n)
	if record.ErrorCode(err) == record.EForbidden {
		fail(record.Invalid("id_number", "employee", "%s", err.Error()))
		return
	}
	if err != nil {
		fail(err)
		return
	}
	http.Redirect(w, r, "/portal/objections/"+o.Number+"?n=filed", http.StatusSeeOther)
}

// ownObjection loads an objection the signed-in account filed; any other answers 404.
func (s *server) ownObjection(w http.ResponseWriter, r *http.Request, a *PortalAccount) (objection.Objection, bool) {
	o, ok := s.loadObjection(w, r, "portal")
	if ok && (o.Filer != a.Username || o.FilerKind == objection.FilerCounter) {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
		return o, false
	}
	return o, ok
}

func (s *server) portalObjection(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	o, ok := s.ownObjection(w, r, a)
	if !ok {
		return
	}
	v := s.portalQUView(w, r, a, "qu.objection.title")
	if n := r.URL.Query().Get("n"); n == "filed" || n == "withdrawn" {
		v.Notice = "qu.notice." + n
	}
	v.Data = objectionData{O: o, Base: "/portal/objections/" + o.Number}
	s.render(w, r, http.StatusOK, "qu_objection", v)
}

func (s *server) portalWithdrawObjection(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	o, ok := s.ownObjection(w, r, a)
	if !ok {
		return
	}
	if r.PostFormValue("confirm") == "" {
		s.fail(w, r, "portal", http.StatusUnprocessableEntity, "qu.err.confirm")
		return
	}
	if _, err := s.qu().Objections.Withdraw(r.Context(), a.Username, o.ID, r.PostFormValue("reason")); err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	http.Redirect(w, r, "/portal/objections/"+o.Number+"?n=withdrawn", http.StatusSeeOther)
}

func (s *server) portalObjectionMaterial(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	o, ok := s.ownObjection(w, r, a)
	if !ok {
		return
	}
	s.serveUseMaterial(w, r, "portal", "objection:"+o.Number, r.PathValue("sha"))
}

// --- who looked at my record ---

type accessLogData struct {
	Entries []querylog.Entry
	Pager   pager
}

func (s *server) portalAccessLog(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	d := accessLogData{Pager: newPager(r, 50)}
	es, total, err := querylog.List(r.Context(), s.cfg.Store.Driver(), querylog.Filter{Person: a.Subject}, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	d.Entries = es
	d.Pager.setTotal(int64(total))
	v := s.portalQUView(w, r, a, "qu.access_log.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "qu_access_log", v)
}

// --- records others authorised me to query ---

type portalProxyData struct {
	List   []access.Authorisation
	A      *access.Authorisation
	Result *shown
}

func (s *server) portalProxies(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	list, _, err := s.qu().Access.Authorisations(r.Context(), access.AuthorisationFilter{Proxy: a.Subject, Active: true}, 0, 100)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalQUView(w, r, a, "qu.proxy.mine")
	v.Data = portalProxyData{List: list}
	s.render(w, r, http.StatusOK, "qu_portal_proxy", v)
}

// portalProxyRecord shows a proxy the record an authorisation naming them grants: logged as the proxy's read.
func (s *server) portalProxyRecord(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	id, err := access.ParseNumber("number", "P", r.PathValue("number"))
	if err != nil {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
		return
	}
	view, auth, err := s.qu().Access.ProxyRead(r.Context(), id, access.Proxy{Key: a.Subject, Account: a.Username}, "portal/proxy")
	if record.ErrorCode(err) == record.ENotFound {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
		return
	}
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalQUView(w, r, a, "qu.proxy.mine")
	v.Data = portalProxyData{A: &auth, Result: s.shownOf(r.Context(), auth.Person, auth.Fields, view)}
	s.render(w, r, http.StatusOK, "qu_portal_proxy", v)
}
