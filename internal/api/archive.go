package api

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"sirec/internal/archive"
	"sirec/internal/auth"
	"sirec/internal/export"
	"sirec/internal/record"
)

// The archive of original materials (R13) and outside helpers' confidentiality agreements (R11.2).

func (s *Server) archive() *archive.Service { return archive.New(s.Store) }

func archiveFilter(r *http.Request) (archive.Filter, error) {
	q := r.URL.Query()
	f := archive.Filter{Person: q.Get("person"), User: q.Get("user"), Type: q.Get("type"), Stage: q.Get("stage")}
	if v := q.Get("draft"); v != "" {
		id, err := parseDraft("draft", v)
		if err != nil {
			return f, err
		}
		f.Draft = id
	}
	var err error
	f.From, f.To, err = record.DayRange(q.Get("from"), q.Get("to"), time.UTC)
	return f, err
}

func (s *Server) archiveList(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := archiveFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Person != "" {
		// The materials of one person's drafts are that person's data (Q7).
		if err := s.logQuery(r, p, f.Person, "api/archive", "archived materials"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	es, total, err := s.archive().List(r.Context(), f, r.URL.Query().Get("sort"), offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"materials": es, "total": total, "offset": offset, "limit": limit})
}

func (s *Server) archiveExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := archiveFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	ctype := exportTypes[format]
	if ctype == "" {
		s.writeError(w, r, record.Invalid("format", "export_format", "format must be csv or xlsx"))
		return
	}
	const most = 50000
	es, total, err := s.archive().List(r.Context(), f, r.URL.Query().Get("sort"), 0, most)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if total > int64(len(es)) {
		s.writeError(w, r, record.Invalid("from", "export_size", "%d materials match; narrow the filters to at most %d per export", total, most))
		return
	}
	if f.Person != "" {
		if err := s.logQuery(r, p, f.Person, "api/archive/export", "archived materials"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="archive.`+format+`"`)
	if err := export.Write(w, format, export.Archive(es)); err != nil {
		s.Logger.Error("archive export", "err", err)
	}
}

// archiveMaterial serves an archived material after checking it against its SHA-256; one that no longer matches
// is refused with 409 and rule material_hash.
func (s *Server) archiveMaterial(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	var draft int64
	if v := r.URL.Query().Get("draft"); v != "" {
		id, err := parseDraft("draft", v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		draft = id
	}
	e, b, err := s.archive().Read(r.Context(), r.PathValue("sha256"), draft)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	serveMaterial(w, e.Name, e.SHA256, b)
}

func serveMaterial(w http.ResponseWriter, name, sha string, b []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+urlEscape(name))
	w.Header().Set("X-Content-SHA256", sha)
	w.Write(b)
}

func urlEscape(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b []byte
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b = append(b, c)
		} else {
			b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
		}
	}
	return string(b)
}

func (s *Server) retention(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	rs, err := s.archive().Retentions(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	changes, total, err := s.archive().RetentionLog(r.Context(), 0, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"types": rs, "changes": changes, "changes_total": total})
}

func (s *Server) setRetention(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		Years  *int   `json:"years"`
		Reason string `json:"reason"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Years == nil {
		s.writeError(w, r, record.Invalid("years", "required", "give years: 0 for permanent, or 1 to %d", archive.MaxYears))
		return
	}
	ret, err := s.archive().SetRetention(r.Context(), actor(p), r.PathValue("kind"), *in.Years, in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ret)
}

// --- users: outside helpers ---

func (s *Server) enableUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.Auth.Enable(r.Context(), r.PathValue("username"), p.Username, s.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setExternal(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in struct {
		External *bool `json:"external"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.External == nil {
		s.writeError(w, r, record.Invalid("external", "required", "give external: true (an outside helper) or false (the agency's own staff)"))
		return
	}
	u, err := s.Auth.SetExternal(r.Context(), r.PathValue("username"), *in.External, p.Username, s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) agreements(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	as, err := s.Auth.Agreements(r.Context(), r.PathValue("username"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"agreements": as})
}

// addAgreement files a signed confidentiality agreement: the document is the raw body; its name and dates are
// query parameters (name, signed_on, expires_on, content_type).
func (s *Server) addAgreement(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 50<<20+1))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	sum := sha256.Sum256(body)
	spec := auth.AgreementSpec{SHA256: hex.EncodeToString(sum[:]), Name: q.Get("name"), ContentType: q.Get("content_type"),
		SignedOn: q.Get("signed_on"), ExpiresOn: q.Get("expires_on")}
	if spec.ContentType == "" {
		spec.ContentType = r.Header.Get("Content-Type")
	}
	username := r.PathValue("username")
	// Everything but the document's storage is checked before the document is stored.
	if _, err := s.Auth.GetUser(r.Context(), username); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := spec.Validate(s.Auth.Today(s.Now())); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.Review.AddMaterial(r.Context(), body); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.Auth.AddAgreement(r.Context(), username, spec, p.Username, s.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) agreementDocument(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	a, err := s.Auth.Agreement(r.Context(), r.PathValue("username"), r.PathValue("sha256"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, b, err := s.archive().Read(r.Context(), a.SHA256, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	serveMaterial(w, a.Name, a.SHA256, b)
}
