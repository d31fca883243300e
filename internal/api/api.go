// Package api is the HTTP JSON API under /api/v1. Errors are RFC 9457 problem documents naming the field and
// the rule; record.Error codes map to statuses in exactly one place (writeError).
package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Calculator runs one named calculation on a JSON input (the rules engine's calculator).
type Calculator func(name string, input []byte) ([]byte, error)

// Server serves the API.
type Server struct {
	Store  *store.Store
	Calc   Calculator
	Logger *slog.Logger
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /api/v1/checkpoint", s.checkpoint)
	mux.HandleFunc("GET /api/v1/persons/{person}", s.person)
	mux.HandleFunc("POST /api/v1/persons/lookup", s.lookup)
	mux.HandleFunc("POST /api/v1/calc/{name}", s.calc)
	return s.logRequests(mux)
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

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	cp, _, err := s.Store.LatestCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "events": cp.Size, "root": base64.StdEncoding.EncodeToString(cp.Root)})
}

func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	_, signed, err := s.Store.LatestCheckpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signed)
}

func (s *Server) person(w http.ResponseWriter, r *http.Request) {
	v, err := s.Store.PersonRecord(r.Context(), r.PathValue("person"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) calc(w http.ResponseWriter, r *http.Request) {
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

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
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
		for _, e := range es {
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
	return Problem{Type: "about:blank", Title: http.StatusText(500), Status: 500, Detail: err.Error()}
}
