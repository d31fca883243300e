package api

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
)

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	cp, _, err := s.Store.LatestCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "events": cp.Size, "root": base64.StdEncoding.EncodeToString(cp.Root)})
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	_, signed, err := s.Store.LatestCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signed)
}

func (s *Server) calc(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.Calc(r.PathValue("name"), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.Auth.Login(r.Context(), in.Username, in.Password, s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": sess.Token, "username": sess.Username, "expires_at": sess.ExpiresAt})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := s.Auth.Logout(r.Context(), token, s.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, pr *auth.Principal) {
	var in struct {
		IDNumber string `json:"id_number"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := record.ValidateCitizenID("id_number", in.IDNumber, time.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.Store.FindPerson(r.Context(), in.IDNumber)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.Store.PersonRecord(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logQuery(r, pr, p, "api/persons/lookup", "whole record"); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) person(w http.ResponseWriter, r *http.Request, pr *auth.Principal) {
	v, err := s.Store.PersonRecord(r.Context(), r.PathValue("person"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.logQuery(r, pr, v.Person, "api/persons", "whole record"); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func actor(p *auth.Principal) review.Actor {
	a := review.Actor{User: p.Username, External: p.External}
	for _, post := range p.Posts {
		a.Posts = append(a.Posts, string(post))
	}
	return a
}

func (s *Server) addMaterial(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20+1))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sha, err := s.Review.AddMaterial(r.Context(), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"sha256": sha, "size": len(body)})
}

func (s *Server) material(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	b, err := s.Review.ReadMaterial(r.Context(), r.PathValue("sha256"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-SHA256", r.PathValue("sha256"))
	w.Write(b)
}

// draftView is a draft as staff see it: with its facts, ID numbers included, to check against the originals.
type draftView struct {
	review.Draft
	Facts []review.DraftFact `json:"facts"`
}

func view(d review.Draft) draftView { return draftView{Draft: d, Facts: d.Facts} }

func (s *Server) submit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Kind      string             `json:"kind"`
		Facts     []review.DraftFact `json:"facts"`
		Materials []review.Material  `json:"materials"`
		Summary   string             `json:"summary"`
		Reason    string             `json:"reason"`
		Method    string             `json:"method"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.Submit(r.Context(), actor(p), review.Submission{Kind: in.Kind, Facts: in.Facts, Materials: in.Materials,
		Summary: in.Summary, Reason: in.Reason, Method: in.Method})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, view(d))
}

func (s *Server) submitBatch(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	name := r.URL.Query().Get("name")
	if name == "" {
		s.writeError(w, r, record.Invalid("name", "required", "say the file's name, ending .csv or .xlsx, as ?name="))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 200<<20))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.SubmitBatch(r.Context(), actor(p), name, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, d)
}

func draftID(r *http.Request) (int64, error) {
	s := strings.TrimPrefix(strings.ToUpper(r.PathValue("id")), "D")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, record.Invalid("id", "draft_id", "%q is not a draft number such as D000042", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) draft(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := draftID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	seen := map[string]bool{}
	for _, f := range d.Facts {
		if f.IDNumber == "" || seen[f.IDNumber] {
			continue
		}
		seen[f.IDNumber] = true
		person, _, err := s.Store.PersonKeyOf(r.Context(), f.IDNumber) // not registered yet: the key a registration would give
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.logQuery(r, p, person, "api/drafts", "draft facts "+d.Number); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, view(d))
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := draftID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.Act(r.Context(), actor(p), id, in.Decision, in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) resubmit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := draftID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in review.Resubmission
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.Resubmit(r.Context(), actor(p), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view(d))
}

func (s *Server) withdraw(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, err := draftID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.Review.Withdraw(r.Context(), actor(p), id, in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func page(r *http.Request) (int, int, error) {
	offset, limit := 0, 50
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, record.Invalid("offset", "page_offset", "offset must be a whole number from 0")
		}
		offset = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 500")
		}
		limit = n
	}
	return offset, limit, nil
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, total, err := s.Review.Queue(r.Context(), actor(p), review.QueueQuery{Kind: r.URL.Query().Get("kind"), Offset: offset, Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"drafts": ds, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) chains(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	out := map[string][]string{}
	for name := range review.Kinds {
		c, err := s.Review.Chain(r.Context(), name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out[name] = c
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) setChain(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Stages []string `json:"stages"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Review.SetChain(r.Context(), actor(p), r.PathValue("kind"), in.Stages); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": r.PathValue("kind"), "stages": in.Stages})
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	us, total, err := s.Auth.ListUsers(r.Context(), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Username    string      `json:"username"`
		DisplayName string      `json:"display_name"`
		Password    string      `json:"password"`
		Posts       []auth.Post `json:"posts"`
		External    bool        `json:"external"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Auth.AddUser(r.Context(), auth.NewUser{Username: in.Username, DisplayName: in.DisplayName, Password: in.Password, Posts: in.Posts, External: in.External}, p.Username, s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) grant(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Post string `json:"post"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	post, err := auth.ParsePost("post", in.Post)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Auth.Grant(r.Context(), r.PathValue("username"), post, p.Username, s.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	post, err := auth.ParsePost("post", r.PathValue("post"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.Auth.Revoke(r.Context(), r.PathValue("username"), post, p.Username, s.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) disable(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.Auth.Disable(r.Context(), r.PathValue("username"), p.Username, s.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) authLog(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	entries, total, err := s.Auth.Log(r.Context(), auth.LogFilter{Actor: q.Get("actor"), Subject: q.Get("subject"), Action: q.Get("action")}, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "total": total, "offset": offset, "limit": limit})
}
