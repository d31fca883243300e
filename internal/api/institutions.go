package api

import (
	"io"
	"net/http"
	"time"

	"sirec/internal/auth"
	"sirec/internal/institution"
	"sirec/internal/record"
	"sirec/internal/workitem"
)

// institutionRoutes are the routes of service institutions under agreement (R5.3): registering them and their
// machine accounts (system administrators), their submissions (each kind by its own scope), and what staff read
// of them.
func (s *Server) institutionRoutes() []route {
	institutions := []auth.Post{auth.PostInstitution}
	readers := append(append([]auth.Post{}, draftSeen...), auth.PostInstitution)
	r := []route{
		{"POST", "/api/v1/institutions", "Register a service institution under agreement and open its machine account", admins, auth.ScopeUsersAdmin, "json", s.addInstitution},
		{"GET", "/api/v1/institutions", "The service institutions under agreement", admins, auth.ScopeUsersAdmin, "", s.listInstitutions},
		{"POST", "/api/v1/institutions/{code}/tokens", "Create an API token for an institution's machine account, scoped to its kind of submission (shown once)", admins, auth.ScopeUsersAdmin, "json", s.institutionToken},
		{"GET", "/api/v1/submissions", "Submissions of service institutions, newest first (institution, kind; paged)", draftSeen, auth.ScopeDraftsRead, "", s.listSubmissions},
		{"GET", "/api/v1/submissions/{id}", "A submission and the state of its draft; an institution reads only its own", readers, "", "", s.getSubmission},
		{"GET", "/api/v1/followups", "Benefit payments banks reported as failed, marked for follow-up (open=true: not yet dealt with; paged)", draftSeen, auth.ScopeDraftsRead, "", s.listFollowUps},
	}
	for _, k := range institution.Kinds {
		r = append(r, route{"POST", "/api/v1/submissions/" + k.Name, "Submit " + k.Submits + " (" + k.English + "): {\"rows\":[…]} with an Idempotency-Key header",
			institutions, k.Scope, "json", s.submitFor(k.Name)})
	}
	return r
}

func (s *Server) institutions() *institution.Service {
	return institution.New(s.Store, s.Auth, workitem.New(s.Store, s.Auth))
}

func (s *Server) addInstitution(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in institution.NewInstitution
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	inst, err := s.institutions().Add(r.Context(), in, p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inst)
}

func (s *Server) listInstitutions(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	list, err := s.institutions().List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"institutions": list})
}

func (s *Server) institutionToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Name      string `json:"name"`
		ExpiresAt string `json:"expires_at"` // YYYY-MM-DD; default 90 days from now
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	until := s.Now().AddDate(0, 0, 90)
	if in.ExpiresAt != "" {
		d, err := time.Parse("2006-01-02", in.ExpiresAt)
		if err != nil {
			s.writeError(w, r, record.Invalid("expires_at", "date_format", "%q is not a date written YYYY-MM-DD", in.ExpiresAt))
			return
		}
		until = d.Add(24*time.Hour - time.Millisecond)
	}
	secret, tok, err := s.institutions().Token(r.Context(), r.PathValue("code"), in.Name, until, p.Username)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": secret, "id": tok.ID, "username": tok.Username, "scopes": tok.Scopes, "expires_at": tok.ExpiresAt})
}

// submitFor takes in a submission of one kind: the Idempotency-Key header names it, and a repeat is answered as
// the first one was (with Idempotent-Replayed: true).
func (s *Server) submitFor(kind string) func(http.ResponseWriter, *http.Request, *auth.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20+1))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(body) > 16<<20 {
			s.writeError(w, r, record.Invalid("body", "body_size", "a submission may be at most 16 MiB; split it"))
			return
		}
		res, replayed, err := s.institutions().Submit(r.Context(), p.Username, kind, r.Header.Get("Idempotency-Key"), body)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Location", "/api/v1/submissions/"+res.Number)
		writeJSON(w, http.StatusCreated, res)
	}
}

func (s *Server) listSubmissions(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, total, err := s.institutions().Submissions(r.Context(), institution.SubmissionFilter{Institution: q.Get("institution"), Kind: q.Get("kind")}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"submissions": list, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) getSubmission(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	svc := s.institutions()
	own := ""
	if p.Has(auth.PostInstitution) {
		inst, err := svc.ByUsername(r.Context(), p.Username)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		own = inst.Code
	} else if err := p.Require(auth.ScopeDraftsRead); err != nil {
		s.writeError(w, r, err)
		return
	}
	sub, err := svc.GetSubmission(r.Context(), r.PathValue("id"), own)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) listFollowUps(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, total, err := s.institutions().FollowUps(r.Context(), r.URL.Query().Get("open") == "true", offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"followups": list, "total": total, "offset": offset, "limit": limit})
}
