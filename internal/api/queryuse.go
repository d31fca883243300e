package api

import (
	"fmt"
	"net"
	"net/http"
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
	"sirec/internal/statement"
	"sirec/internal/stats"
)

// Query and use (Q1–Q7): yearly statements, certificates and their public check, objections, proxies, other
// bodies' applications, the query log and statistics.

// queryUseRoutes are the routes of query and use.
func (s *Server) queryUseRoutes() []route {
	counter := append(slices.Clone(business), auth.PostQuery) // staff who serve persons at the counter
	maint := []auth.Post{auth.PostMaintainer}
	approvers := []auth.Post{auth.PostApprover}
	runners := []auth.Post{auth.PostCollector, auth.PostMaintainer}
	return []route{
		{"GET", "/api/v1/statements/runs", "Runs of the yearly statement job, newest first (paged)", draftSeen, auth.ScopeDraftsRead, "", s.statementRuns},
		{"POST", "/api/v1/statements/runs", "Start the yearly statement job: {\"year\":2025,\"reissue\":false}; progress in the runs list", runners, auth.ScopeDraftsWrite, "json", s.startStatements},
		{"GET", "/api/v1/persons/{person}/statements", "The yearly statements issued to a person (logged)", readers, auth.ScopePersonsRead, "", s.personStatements},
		{"GET", "/api/v1/persons/{person}/statements/{year}", "A person's statement of a year as issued (?version=; logged)", readers, auth.ScopePersonsRead, "", s.personStatement},
		{"GET", "/api/v1/persons/{person}/statements/{year}/pdf", "A person's statement of a year, printed as PDF (logged)", readers, auth.ScopePersonsRead, "", s.personStatementPDF},
		{"POST", "/api/v1/certificates", "Issue a certificate on a person's behalf: {\"id_number\"|\"person\",\"kind\",\"from\",\"to\"} (logged)", counter, auth.ScopePersonsRead, "json", s.issueCertificate},
		{"GET", "/api/v1/certificates/{number}", "A certificate with its code (logged)", readers, auth.ScopePersonsRead, "", s.certificateGet},
		{"GET", "/api/v1/certificates/{number}/pdf", "A certificate printed as PDF with its QR code (logged)", readers, auth.ScopePersonsRead, "", s.certificatePDF},
		{"POST", "/api/v1/certificates/{number}/revoke", "Revoke a certificate: {\"reason\"}", maint, auth.ScopeMaintain, "json", s.revokeCertificate},
		{"POST", "/api/v1/certificates/verify", "Check a verification code (public): what the certificate asserts when genuine and current", nil, "", "json", s.verifyCertificate},
		{"POST", "/api/v1/objections", "File an objection at the counter on behalf of a person or employer, with evidence", counter, auth.ScopePersonsRead, "json", s.fileObjection},
		{"GET", "/api/v1/objections", "Objections: status (or active), person, assignee, overdue=true (paged)", readers, auth.ScopePersonsRead, "", s.objections},
		{"GET", "/api/v1/objections/{number}", "An objection with its history and evidence (logged)", readers, auth.ScopePersonsRead, "", s.objectionGet},
		{"POST", "/api/v1/objections/{number}/assign", "Take an objection for re-checking", maint, auth.ScopeMaintain, "", s.assignObjection},
		{"POST", "/api/v1/objections/{number}/correction", "Link the maintenance draft that corrects the record: {\"draft\":\"D000012\"}", maint, auth.ScopeMaintain, "json", s.linkCorrection},
		{"POST", "/api/v1/objections/{number}/answer", "Close an objection with a reasoned answer: {\"answer\"}", maint, auth.ScopeMaintain, "json", s.answerObjection},
		{"GET", "/api/v1/objections/{number}/materials/{sha256}", "An objection's evidence, checked against its SHA-256", readers, auth.ScopePersonsRead, "", s.useMaterial("objection")},
		{"POST", "/api/v1/proxies", "Record a written authorisation letting a proxy query a person, with its scan", counter, auth.ScopePersonsRead, "json", s.recordProxy},
		{"GET", "/api/v1/proxies", "Proxy authorisations: person, active=true (paged)", readers, auth.ScopePersonsRead, "", s.proxies},
		{"GET", "/api/v1/proxies/{number}", "A proxy authorisation", readers, auth.ScopePersonsRead, "", s.proxyGet},
		{"POST", "/api/v1/proxies/{number}/revoke", "Revoke a proxy authorisation: {\"reason\"}", counter, auth.ScopePersonsRead, "json", s.revokeProxy},
		{"POST", "/api/v1/proxies/{number}/query", "Serve a proxy at the counter: {\"proxy_id_number\"} → the fields authorised (logged as the proxy's)", counter, auth.ScopePersonsRead, "json", s.proxyQuery},
		{"GET", "/api/v1/proxies/{number}/materials/{sha256}", "The written authorisation on file", readers, auth.ScopePersonsRead, "", s.useMaterial("proxy")},
		{"POST", "/api/v1/applications", "Register another body's written application to query records", counter, auth.ScopePersonsRead, "json", s.registerApplication},
		{"GET", "/api/v1/applications", "Applications of other bodies: status (paged)", readers, auth.ScopePersonsRead, "", s.applications},
		{"GET", "/api/v1/applications/{number}", "An application with its decision and materials", readers, auth.ScopePersonsRead, "", s.applicationGet},
		{"POST", "/api/v1/applications/{number}/decision", "Approve (valid_until, fields) or refuse (reason) an application", approvers, auth.ScopeReviewApprove, "json", s.decideApplication},
		{"POST", "/api/v1/applications/{number}/query", "Serve an approved application: {\"id_number\"} → the fields granted (logged)", counter, auth.ScopePersonsRead, "json", s.applicationQuery},
		{"GET", "/api/v1/applications/{number}/export", "Bulk export under an approved application: format=csv or xlsx (every person logged)", counter, auth.ScopePersonsRead, "", s.applicationExport},
		{"GET", "/api/v1/applications/{number}/materials/{sha256}", "An application's documents", readers, auth.ScopePersonsRead, "", s.useMaterial("application")},
		{"GET", "/api/v1/querylog", "Search the query log: person, actor, actor_kind, purpose, application, from, to (paged)", audit, auth.ScopeLogsRead, "", s.queryLogSearch},
		{"GET", "/api/v1/querylog/export", "Export the query log as format=csv or xlsx, with the same filters", audit, auth.ScopeLogsRead, "", s.queryLogExport},
		{"GET", "/api/v1/querylog/verify", "Verify the query log's hash chain and signed seals", audit, auth.ScopeLogsRead, "", s.queryLogVerify},
		{"GET", "/api/v1/statistics", "Counts and sums by region, type, period without personal data; small cells suppressed", audit, auth.ScopeLogsRead, "", s.statistics},
		{"GET", "/api/v1/statistics/export", "The statistics as format=csv or xlsx", audit, auth.ScopeLogsRead, "", s.statisticsExport},
	}
}

func (s *Server) qu() *queryuse.Services {
	if s.QueryUse != nil {
		return s.QueryUse
	}
	return queryuse.For(s.Store, s.Review)
}

// --- statements ---

func (s *Server) statementRuns(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	runs, total, err := s.qu().Statements.Runs(r.Context(), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) startStatements(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Year    int  `json:"year"`
		Reissue bool `json:"reissue"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	run, err := s.qu().Statements.Start(r.Context(), statement.RunOptions{Year: in.Year, Reissue: in.Reissue, Actor: p.Username})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, run)
}

func pathYear(r *http.Request) (int, error) {
	y, err := strconv.Atoi(r.PathValue("year"))
	if err != nil || y < 1990 || y > 2200 {
		return 0, record.Invalid("year", "statement_year", "%q is not a year", r.PathValue("year"))
	}
	return y, nil
}

func (s *Server) personStatements(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	person := r.PathValue("person")
	if _, err := s.Store.PersonRecord(r.Context(), person); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.qu().Statements.List(r.Context(), person)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logQuery(r, p, person, "api/persons/statements", "statement list"); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"statements": list})
}

func (s *Server) statementOf(w http.ResponseWriter, r *http.Request, p *auth.Principal, page string) (*statement.Statement, statement.Issued, bool) {
	year, err := pathYear(r)
	if err != nil {
		s.writeError(w, r, err)
		return nil, statement.Issued{}, false
	}
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			s.writeError(w, r, record.Invalid("version", "version", "version must be a whole number from 1"))
			return nil, statement.Issued{}, false
		}
	}
	st, issued, err := s.qu().Statements.Get(r.Context(), r.PathValue("person"), year, version)
	if err != nil {
		s.writeError(w, r, err)
		return nil, issued, false
	}
	if err := s.logQuery(r, p, st.Person, page, "statement "+strconv.Itoa(year)); err != nil {
		s.writeError(w, r, err)
		return nil, issued, false
	}
	return st, issued, true
}

func (s *Server) personStatement(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	st, issued, ok := s.statementOf(w, r, p, "api/persons/statement")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"issued": issued, "statement": st})
}

func (s *Server) personStatementPDF(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	st, issued, ok := s.statementOf(w, r, p, "api/persons/statement.pdf")
	if !ok {
		return
	}
	doc, err := s.qu().Statements.PDF(st)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePDF(w, fmt.Sprintf("statement-%d-v%d.pdf", issued.Year, issued.Version), doc)
}

func writePDF(w http.ResponseWriter, name string, doc []byte) {
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write(doc)
}

// --- certificates ---

func (s *Server) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return s.qu().Base(scheme, r.Host)
}

func (s *Server) issueCertificate(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		IDNumber string        `json:"id_number"`
		Person   string        `json:"person"`
		Kind     string        `json:"kind"`
		From     record.Period `json:"from"`
		To       record.Period `json:"to"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	person := in.Person
	if person == "" {
		id := strings.ToUpper(strings.TrimSpace(in.IDNumber))
		if err := record.ValidateCitizenID("id_number", id, s.Now()); err != nil {
			s.writeError(w, r, err)
			return
		}
		var err error
		if person, err = s.Store.FindPerson(r.Context(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	purpose := r.Header.Get("X-Purpose")
	c, err := s.qu().Certificates.Issue(r.Context(), certificate.Request{Person: person, Kind: in.Kind, From: in.From, To: in.To,
		IssuerKind: certificate.IssuerStaff, Issuer: p.Username, Purpose: purpose})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

func (s *Server) certificateOf(w http.ResponseWriter, r *http.Request, p *auth.Principal, page string) (certificate.Certificate, bool) {
	c, err := s.qu().Certificates.Get(r.Context(), r.PathValue("number"))
	if err != nil {
		s.writeError(w, r, err)
		return c, false
	}
	if err := s.logQuery(r, p, c.Person, page, "certificate "+c.Number); err != nil {
		s.writeError(w, r, err)
		return c, false
	}
	return c, true
}

func (s *Server) certificateGet(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if c, ok := s.certificateOf(w, r, p, "api/certificates"); ok {
		writeJSON(w, http.StatusOK, c)
	}
}

func (s *Server) certificatePDF(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	c, ok := s.certificateOf(w, r, p, "api/certificates.pdf")
	if !ok {
		return
	}
	doc, err := s.qu().Certificates.PDF(c, s.base(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePDF(w, c.Number+".pdf", doc)
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.qu().Certificates.Revoke(r.Context(), p.Username, r.PathValue("number"), in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// clientAddr is the client's address for the check page's limit. Behind a reverse proxy, configure the proxy to
// limit instead: every request then comes from its address.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) verifyCertificate(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	if !s.qu().Limiter.Allow(clientAddr(r), s.Now()) {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusTooManyRequests, Problem{Type: "about:blank", Title: "Too Many Requests", Status: http.StatusTooManyRequests,
			Detail: "too many checks from this address; wait a little"})
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.qu().Certificates.Check(r.Context(), in.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// --- objections ---

func (s *Server) objectionNumber(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := objection.ParseNumber(r.PathValue("number"))
	if err != nil {
		s.writeError(w, r, err)
		return 0, false
	}
	return id, true
}

func (s *Server) fileObjection(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in objection.New
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.qu().Objections.File(r.Context(), objection.Filer{Kind: objection.FilerCounter, Name: p.Username}, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) objections(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, total, err := s.qu().Objections.List(r.Context(), objection.Filter{Status: q.Get("status"), Person: q.Get("person"), Assignee: q.Get("assignee"),
		Overdue: q.Get("overdue") == "true"}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	overdue, err := s.qu().Objections.OverdueCount(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"objections": list, "total": total, "overdue": overdue, "offset": offset, "limit": limit})
}

func (s *Server) objectionGet(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.objectionNumber(w, r)
	if !ok {
		return
	}
	o, err := s.qu().Objections.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logQuery(r, p, o.Person, "api/objections", "objection "+o.Number); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) objectionStep(w http.ResponseWriter, r *http.Request, step func(id int64) (objection.Objection, error)) {
	id, ok := s.objectionNumber(w, r)
	if !ok {
		return
	}
	o, err := step(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) assignObjection(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.objectionStep(w, r, func(id int64) (objection.Objection, error) {
		return s.qu().Objections.Assign(r.Context(), p.Username, id)
	})
}

func (s *Server) linkCorrection(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Draft string `json:"draft"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.objectionStep(w, r, func(id int64) (objection.Objection, error) {
		return s.qu().Objections.LinkCorrection(r.Context(), p.Username, id, in.Draft)
	})
}

func (s *Server) answerObjection(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Answer string `json:"answer"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.objectionStep(w, r, func(id int64) (objection.Objection, error) {
		return s.qu().Objections.Answer(r.Context(), p.Username, id, in.Answer)
	})
}

// useMaterial serves a material only through what it is attached to (owner kind objection, proxy or
// application, with the number in the path), checked against its hash.
func (s *Server) useMaterial(kind string) func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		number := strings.ToUpper(r.PathValue("number"))
		ok, err := access.HasMaterial(r.Context(), s.Store.Driver(), kind+":"+number, r.PathValue("sha256"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !ok {
			s.writeError(w, r, record.Errorf(record.ENotFound, "%s %s has no such material", kind, number))
			return
		}
		b, err := s.Review.ReadMaterial(r.Context(), r.PathValue("sha256"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Content-SHA256", r.PathValue("sha256"))
		w.Write(b)
	}
}

// --- proxies ---

// accessNumber parses the path's {number}: a proxy authorisation's ("P…") or an application's ("A…"),
// answering a malformed one itself.
func (s *Server) accessNumber(w http.ResponseWriter, r *http.Request, prefix string) (int64, bool) {
	id, err := access.ParseNumber("number", prefix, r.PathValue("number"))
	if err != nil {
		s.writeError(w, r, err)
		return 0, false
	}
	return id, true
}

func (s *Server) recordProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in access.NewAuthorisation
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.qu().Access.RecordAuthorisation(r.Context(), p.Username, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) proxies(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, total, err := s.qu().Access.Authorisations(r.Context(), access.AuthorisationFilter{Person: q.Get("person"), Active: q.Get("active") == "true"}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"authorisations": list, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) proxyGet(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, ok := s.accessNumber(w, r, "P")
	if !ok {
		return
	}
	a, err := s.qu().Access.Authorisation(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) revokeProxy(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.accessNumber(w, r, "P")
	if !ok {
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.qu().Access.RevokeAuthorisation(r.Context(), p.Username, id, in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) proxyQuery(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.accessNumber(w, r, "P")
	if !ok {
		return
	}
	var in struct {
		ProxyIDNumber string `json:"proxy_id_number"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.ProxyIDNumber == "" {
		s.writeError(w, r, record.Invalid("proxy_id_number", "required", "give the ID number the proxy presents"))
		return
	}
	view, a, err := s.qu().Access.ProxyRead(r.Context(), id, access.Proxy{IDNumber: in.ProxyIDNumber, Via: p.Username}, "api/proxies/query")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"authorisation": a.Number, "valid_until": a.ValidUntil, "record": view})
}

// --- applications ---

func (s *Server) registerApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in access.NewApplication
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.qu().Access.RegisterApplication(r.Context(), p.Username, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) applications(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, total, err := s.qu().Access.Applications(r.Context(), r.URL.Query().Get("status"), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applications": list, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) applicationGet(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id, ok := s.accessNumber(w, r, "A")
	if !ok {
		return
	}
	a, err := s.qu().Access.Application(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) decideApplication(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.accessNumber(w, r, "A")
	if !ok {
		return
	}
	var in access.Decision
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.qu().Access.Decide(r.Context(), p.Username, id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) applicationQuery(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.accessNumber(w, r, "A")
	if !ok {
		return
	}
	var in struct {
		IDNumber string `json:"id_number"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	view, a, err := s.qu().Access.BodyRead(r.Context(), id, in.IDNumber, p.Username, "api/applications/query")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"application": a.Number, "valid_until": a.ValidUntil, "record": view})
}

func exportFormat(r *http.Request) (string, string, error) {
	format := r.URL.Query().Get("format")
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ctype == "" {
		return "", "", record.Invalid("format", "export_format", "format must be csv or xlsx")
	}
	return format, ctype, nil
}

func (s *Server) writeExport(w http.ResponseWriter, r *http.Request, name, format, ctype string, t export.Table) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.`+format+`"`)
	if err := export.Write(w, format, t); err != nil {
		s.Logger.Error("export", "name", name, "err", err)
	}
}

func (s *Server) applicationExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.accessNumber(w, r, "A")
	if !ok {
		return
	}
	format, ctype, err := exportFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, a, err := s.qu().Access.BodyExport(r.Context(), id, p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExport(w, r, a.Number, format, ctype, t)
}

// --- query log ---

func queryLogFilter(r *http.Request) (querylog.Filter, error) {
	q := r.URL.Query()
	f := querylog.Filter{Person: q.Get("person"), Actor: q.Get("actor"), ActorKind: q.Get("actor_kind"), Purpose: q.Get("purpose"), Application: q.Get("application")}
	var err error
	if f.From, f.To, err = record.DayRange(q.Get("from"), q.Get("to"), time.UTC); err != nil {
		return f, err
	}
	if f.ActorKind != "" && !slices.Contains(querylog.ActorKinds, f.ActorKind) {
		return f, record.Invalid("actor_kind", "actor_kind", "actor_kind must be one of %s", strings.Join(querylog.ActorKinds, ", "))
	}
	return f, nil
}

func (s *Server) queryLogSearch(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	f, err := queryLogFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	es, total, err := querylog.List(r.Context(), s.Store.Driver(), f, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) queryLogExport(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	f, err := queryLogFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format, ctype, err := exportFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	es, err := querylog.Export(r.Context(), s.Store.Driver(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExport(w, r, "query-log", format, ctype, querylog.Table(es))
}

func (s *Server) queryLogVerify(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	rep, err := querylog.Verify(r.Context(), s.Store.Driver(), s.Store.Keys().Verifier)
	if err != nil {
		if rep.Entries > 0 || strings.Contains(err.Error(), "tampered") {
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": err.Error(), "report": rep})
			return
		}
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "report": rep})
}

// --- statistics ---

func statsQuery(r *http.Request) (stats.Query, error) {
	q := r.URL.Query()
	sq := stats.Query{Measure: q.Get("measure"), Granularity: q.Get("granularity")}
	if by := q.Get("by"); by != "" {
		sq.By = strings.Split(by, ",")
	}
	var errs record.Errors
	for _, p := range []struct {
		name string
		into *record.Period
	}{{"from", &sq.From}, {"to", &sq.To}} {
		v := q.Get(p.name)
		if v == "" {
			errs.Append("", record.Invalid(p.name, "required", "%s is required, written YYYYMM", p.name))
			continue
		}
		per, err := record.ParsePeriod(p.name, v)
		errs.Append("", err)
		*p.into = per
	}
	return sq, errs.Err()
}

func (s *Server) statistics(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	q, err := statsQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := stats.Make(r.Context(), s.Store.Driver(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) statisticsExport(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	q, err := statsQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format, ctype, err := exportFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := stats.Make(r.Context(), s.Store.Driver(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeExport(w, r, "statistics-"+t.Query.Measure, format, ctype, stats.Export(t))
}
