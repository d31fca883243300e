// Package api is the HTTP JSON API under /api/v1. Every route is declared once, in routes(), with who may call
// it; the router and the OpenAPI document are both built from that table, so they cannot disagree. Errors are
// RFC 9457 problem documents naming the field and the rule; record.Error codes map to statuses in exactly one
// place (writeError).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/custody"
	"sirec/internal/queryuse"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/transfer"
)

// Calculator runs one named calculation on a JSON input (the rules engine's calculator).
type Calculator func(name string, input []byte) ([]byte, error)

// Server serves the API.
type Server struct {
	Store  *store.Store
	Auth   *auth.Service
	Review *review.Service
	Calc   Calculator
	Logger *slog.Logger
	Now    func() time.Time
	// QueryLog registers a read of a person's data by the caller (Q7) before it is answered; a read that cannot
	// be registered is not answered.
	QueryLog func(ctx context.Context, actor, person, page, fields, purpose string) error
	// Transfer runs transfers between regions; nil means one with the default settings on Store.
	Transfer *transfer.Service
	// Custody is the backup and drill schedule serve runs, nil for none; the custody routes show the custody log
	// either way.
	Custody *custody.Scheduler
	// Checks runs the data checks (shared with serve's scheduler); nil means a runner of its own on Store.
	Checks *check.Runner
	// QueryUse are statements, certificates, objections, proxies, applications and statistics (Q1–Q7); nil
	// means the defaults on Store (queryuse.For).
	QueryUse *queryuse.Services
}

// logQuery registers a read of person's data; without a query log configured every read is refused.
func (s *Server) logQuery(r *http.Request, p *auth.Principal, person, page, fields string) error {
	if s.QueryLog == nil {
		return record.Errorf(record.EInternal, "no query log is configured; personal data is not served without one")
	}
	purpose := r.Header.Get("X-Purpose")
	if purpose == "" {
		purpose = "api"
	}
	return s.QueryLog(r.Context(), p.Username, person, page, fields, purpose)
}

// route is one operation: its method and path, who may call it and what it does.
type route struct {
	method, path string
	summary      string
	// posts may call the route (any one suffices) and, for API tokens, scope is needed too. Both empty: public.
	posts  []auth.Post
	scope  auth.Scope
	body   string // the request body, for the document: "json", "file" or ""
	handle func(w http.ResponseWriter, r *http.Request, p *auth.Principal)
}

func (rt route) public() bool { return len(rt.posts) == 0 }

// Post groups.
var (
	business  = []auth.Post{auth.PostCollector, auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover, auth.PostMaintainer}
	readers   = append(slices.Clone(business), auth.PostSupervisor, auth.PostQuery)
	reviewers = []auth.Post{auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover}
	draftSeen = append(slices.Clone(business), auth.PostSupervisor)
	anyone    = []auth.Post{auth.PostCollector, auth.PostInitialReviewer, auth.PostReviewer, auth.PostRechecker, auth.PostApprover,
		auth.PostMaintainer, auth.PostSupervisor, auth.PostSysadmin, auth.PostDBAdmin, auth.PostQuery, auth.PostInstitution}
	makers = []auth.Post{auth.PostCollector, auth.PostMaintainer}
	admins = []auth.Post{auth.PostSysadmin}
	audit  = []auth.Post{auth.PostSupervisor}
)

func (s *Server) routes() []route {
	return append([]route{
		{"GET", "/healthz", "Service health and journal size", nil, "", "", s.health},
		{"GET", "/api/v1/openapi.json", "This OpenAPI 3 document", nil, "", "", s.openapi},
		{"GET", "/api/v1/checkpoint", "The latest signed checkpoint of the journal (C2SP signed note)", nil, "", "", s.checkpoint},
		{"POST", "/api/v1/calc/{name}", "The calculator: pension, account, contribution, retirement", nil, "", "json", s.calc},
		{"POST", "/api/v1/session", "Sign in with user name and password; returns a bearer token", nil, "", "json", s.login},
		{"DELETE", "/api/v1/session", "Sign out: end this session", anyone, "", "", s.logout},
		{"GET", "/api/v1/me", "Who the credentials belong to, with posts and scopes", anyone, "", "", s.me},
		{"POST", "/api/v1/persons/lookup", "A person's whole record, found by citizen ID number (in the body, never the URL)", readers, auth.ScopePersonsRead, "json", s.lookup},
		{"GET", "/api/v1/persons/{person}", "A person's whole record by person key", readers, auth.ScopePersonsRead, "", s.person},
		{"POST", "/api/v1/materials", "Store an original document (scan, file); returns its SHA-256", makers, auth.ScopeDraftsWrite, "file", s.addMaterial},
		{"GET", "/api/v1/materials/{sha256}", "An original document, checked against its SHA-256", draftSeen, auth.ScopeDraftsRead, "", s.material},
		{"POST", "/api/v1/drafts", "Submit a draft of any business type, with materials (maintenance drafts: maintainers)", makers, auth.ScopeDraftsWrite, "json", s.submit},
		{"POST", "/api/v1/drafts/batch", "Upload a monthly contribution batch (CSV or XLSX; ?name=FILE)", []auth.Post{auth.PostCollector}, auth.ScopeDraftsWrite, "file", s.submitBatch},
		{"GET", "/api/v1/drafts/{id}", "A draft with its facts, history and materials", draftSeen, auth.ScopeDraftsRead, "", s.draft},
		{"POST", "/api/v1/drafts/{id}/decision", "Approve or reject a draft at the stage it waits at", reviewers, "", "json", s.decide},
		{"POST", "/api/v1/drafts/{id}/resubmit", "Resubmit a returned draft, corrected (its maker only)", makers, auth.ScopeDraftsWrite, "json", s.resubmit},
		{"POST", "/api/v1/drafts/{id}/withdraw", "Withdraw a draft not yet approved (its maker only)", makers, auth.ScopeDraftsWrite, "json", s.withdraw},
		{"GET", "/api/v1/review/queue", "Drafts waiting for the caller's stage, oldest first (filter: kind; paged: offset, limit; with the total)", reviewers, auth.ScopeDraftsRead, "", s.queue},
		{"GET", "/api/v1/review/chains", "The review chain of every business type", admins, auth.ScopeUsersAdmin, "", s.chains},
		{"PUT", "/api/v1/review/chains/{kind}", "Configure a business type's review chain", admins, auth.ScopeUsersAdmin, "json", s.setChain},
		{"GET", "/api/v1/users", "Users with their posts (paged: offset, limit)", admins, auth.ScopeUsersAdmin, "", s.users},
		{"POST", "/api/v1/users", "Add a user", admins, auth.ScopeUsersAdmin, "json", s.addUser},
		{"POST", "/api/v1/users/{username}/posts", "Grant a post", admins, auth.ScopeUsersAdmin, "json", s.grant},
		{"DELETE", "/api/v1/users/{username}/posts/{post}", "Revoke a post", admins, auth.ScopeUsersAdmin, "", s.revoke},
		{"POST", "/api/v1/users/{username}/disable", "Disable a user: ends their sessions and tokens at once", admins, auth.ScopeUsersAdmin, "", s.disable},
		{"GET", "/api/v1/auth/log", "The authentication and user-management log (paged)", audit, auth.ScopeLogsRead, "", s.authLog},
		{"GET", "/api/v1/maintenance/log", "Search the maintenance log: person, user, type, from, to (YYYY-MM-DD); paged", draftSeen, auth.ScopeDraftsRead, "", s.maintenanceLog},
		{"GET", "/api/v1/maintenance/log/export", "Export the maintenance log as format=csv or xlsx, with the same filters", draftSeen, auth.ScopeDraftsRead, "", s.maintenanceExport},
	}, append(append(append(append(append(s.transferRoutes(), s.custodyRoutes()...), s.maintenanceRoutes()...), s.feedRoutes()...), s.queryUseRoutes()...), s.institutionRoutes()...)...)
}

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, s.guard(rt))
	}
	return s.logRequests(mux)
}

// guard authenticates and authorises a request for a route: 401 without valid credentials, 403 without a post
// (and, for a token, a scope) the route allows.
func (s *Server) guard(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.public() {
			rt.handle(w, r, nil)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sirec"`)
			s.writeError(w, r, record.Errorf(record.EUnauthorized, "sign in first: send Authorization: Bearer <token>"))
			return
		}
		p, err := s.Auth.Authenticate(r.Context(), token, s.Now())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sirec"`)
			s.writeError(w, r, err)
			return
		}
		if !slices.ContainsFunc(rt.posts, p.Has) || (rt.scope != "" && !p.Can(rt.scope)) {
			s.writeError(w, r, record.Errorf(record.EForbidden, "%s %s is not open to your posts", rt.method, rt.path))
			return
		}
		rt.handle(w, r, &p)
	}
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		// The path carries no personal data: persons are named by their opaque key, ID numbers only in bodies.
		s.Logger.Info("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 256<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var e *record.Error
		if errors.As(err, &e) {
			return err
		}
		return record.Invalid("body", "json", "request body is not the expected JSON: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// Problem is an RFC 9457 problem document, extended with the field and rule of a validation error.
type Problem struct {
	Type   string    `json:"type"`
	Title  string    `json:"title"`
	Status int       `json:"status"`
	Detail string    `json:"detail,omitempty"`
	Field  string    `json:"field,omitempty"`
	Rule   string    `json:"rule,omitempty"`
	Errors []Problem `json:"errors,omitempty"`
}

var statuses = map[string]int{
	record.EInvalid:      http.StatusUnprocessableEntity,
	record.ENotFound:     http.StatusNotFound,
	record.EConflict:     http.StatusConflict,
	record.EForbidden:    http.StatusForbidden,
	record.EUnauthorized: http.StatusUnauthorized,
	record.EInternal:     http.StatusInternalServerError,
}

// writeError is the one place where errors become HTTP statuses.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Status == http.StatusInternalServerError {
		s.Logger.Error("internal error", "path", r.URL.Path, "err", err)
		p.Detail = "internal error; it has been logged"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func problemOf(err error) Problem {
	var es record.Errors
	if errors.As(err, &es) {
		p := Problem{Type: "about:blank", Title: "invalid input", Status: http.StatusUnprocessableEntity, Detail: es.Error()}
		for i, e := range es {
			if i == 1000 {
				break
			}
			p.Errors = append(p.Errors, problemOf(e))
		}
		return p
	}
	var e *record.Error
	if errors.As(err, &e) {
		st := statuses[e.Code]
		if st == 0 {
			st = http.StatusInternalServerError
		}
		return Problem{Type: "about:blank", Title: http.StatusText(st), Status: st, Detail: e.Message, Field: e.Field, Rule: e.Rule}
	}
	if errors.Is(err, context.Canceled) {
		return Problem{Type: "about:blank", Title: "Request canceled", Status: 499}
	}
	return Problem{Type: "about:blank", Title: http.StatusText(500), Status: 500, Detail: err.Error()}
}
