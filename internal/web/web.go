// Package web is the server-rendered user interface: the staff console under /console/ and the self-service
// portal under /portal/, with their stylesheet under /static/. Pages are Go html/template files embedded in the
// binary; all their text comes from one message catalogue (messages.go), Simplified Chinese by default and
// English by the "lang" cookie.
//
// It calls the same services as the JSON API (auth, review, store) and applies the same post rules: who may see
// what is decided by the user's posts, and administrators read no records (S1). Every view of a person's data
// by someone other than that person is written to the query log first (Q7). Every form carries a per-session
// CSRF token; cookies are HttpOnly and SameSite=Strict (and Secure over TLS); the Content-Security-Policy allows
// only this origin's own files, so no inline script or style runs. Citizen ID numbers travel only in POST
// bodies, never in URLs, and never reach the log.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"sirec/internal/auth"
	"sirec/internal/check"
	"sirec/internal/custody"
	"sirec/internal/queryuse"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the web interface needs.
type Config struct {
	Store  *store.Store
	Auth   *auth.Service
	Review *review.Service
	// Accounts keeps portal accounts; nil means NewAccounts on the store with the auth settings.
	Accounts *Accounts
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location is the agency's time zone, for "today"; nil means time.Local.
	Location *time.Location
	// Secret keys the CSRF tokens; nil means a random secret for this process (forms then do not survive a
	// restart, which only asks the user to submit again).
	Secret []byte
	// Context ends the background work (verifications); nil means context.Background().
	Context context.Context
	// VerifyEvery, when more than 0, verifies the journal and projections at that interval (the first run
	// one interval after the start); every run's outcome is kept and shown on the console.
	VerifyEvery time.Duration
	// Custody is the backup and drill schedule serve runs, nil for none; the custody page shows the custody log
	// either way.
	Custody *custody.Scheduler
	// Checks runs the data checks (shared with serve's scheduler); nil means a runner of its own on Store.
	Checks *check.Runner
	// QueryUse are statements, certificates, objections, proxies, applications and statistics (Q1–Q7); nil
	// means the defaults on Store (queryuse.For).
	QueryUse *queryuse.Services
}

type server struct {
	cfg      Config
	verify   *verifyJob
	accounts *Accounts
	pages    map[string]*template.Template
	static   http.Handler
}

// Cookie names.
const (
	cookieConsole = "sirec_console" // staff session token (auth)
	cookiePortal  = "sirec_portal"  // portal session token
	cookiePre     = "sirec_pre"     // a random value binding the sign-in forms' CSRF token before any session
	cookieLang    = "lang"
)

// NewHandler returns the handler of /console/, /portal/ and /static/.
func NewHandler(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			panic(err)
		}
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	s := &server{cfg: cfg, accounts: cfg.Accounts, verify: &verifyJob{}}
	if cfg.VerifyEvery > 0 {
		go s.scheduleVerify(cfg.Context, cfg.VerifyEvery)
	}
	if s.accounts == nil {
		s.accounts = NewAccounts(cfg.Store.Driver(), cfg.Auth.Config())
	}
	s.pages = parsePages()
	sub, _ := fs.Sub(staticFS, "static")
	s.static = http.StripPrefix("/static/", http.FileServer(http.FS(sub)))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/", s.serveStatic)
	s.consoleRoutes(mux)
	s.portalRoutes(mux)
	s.verifyRoutes(mux)
	return s.secure(s.logRequests(mux))
}

// Mount returns the whole site: the web interface under /console/, /portal/ and /static/, a redirect from / to
// the console, and everything else to api.
func Mount(cfg Config, api http.Handler) http.Handler {
	w := NewHandler(cfg)
	mux := http.NewServeMux()
	mux.Handle("/console/", w)
	mux.Handle("/portal/", w)
	mux.Handle("/verify/", w) // the public check page of certificates
	mux.Handle("/static/", w)
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, "/console/", http.StatusSeeOther)
	})
	mux.Handle("/", api)
	return mux
}

func (s *server) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	s.static.ServeHTTP(w, r)
}

// ContentSecurityPolicy is sent with every response: only this origin's own files, no inline script or style,
// no framing, forms only to this origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secure adds the security headers to every response.
func (s *server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
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

// logRequests logs method, path and status. Paths carry no personal data: persons are named by their opaque
// key, ID numbers travel only in POST bodies, which are never logged.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		next.ServeHTTP(sw, r)
		s.cfg.Logger.Info("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}

// --- cookies and CSRF ---

func setCookie(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// csrfBase is what a form's CSRF token is bound to: the session of the area when there is one, otherwise the
// pre-session cookie (set here when missing, for the sign-in forms).
func (s *server) csrfBase(w http.ResponseWriter, r *http.Request, area string) string {
	sessionCookie := cookieConsole
	if area == "portal" {
		sessionCookie = cookiePortal
	}
	if v := cookieValue(r, sessionCookie); v != "" {
		return "s:" + v
	}
	if v := cookieValue(r, cookiePre); v != "" {
		return "p:" + v
	}
	if w == nil {
		return ""
	}
	v := newToken()
	setCookie(w, r, cookiePre, v, "/", 0)
	// Later calls in this request see it too.
	r.AddCookie(&http.Cookie{Name: cookiePre, Value: v})
	return "p:" + v
}

func (s *server) csrfToken(w http.ResponseWriter, r *http.Request, area string) string {
	base := s.csrfBase(w, r, area)
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(area + "\x00" + base))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether a POST carries the token of its session (or pre-session cookie).
func (s *server) checkCSRF(r *http.Request, area string) bool {
	if s.csrfBase(nil, r, area) == "" {
		return false
	}
	got := r.PostFormValue("csrf")
	want := s.csrfToken(nil, r, area)
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

// maxBody bounds a form: uploads of a batch file and its materials.
const maxBody = 210 << 20

// form wraps a POST handler: it bounds the body, parses the form and refuses a missing or wrong CSRF token
// with 403 before anything else happens.
func (s *server) form(area string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(32 << 20); err != nil {
				s.fail(w, r, area, http.StatusBadRequest, "err.bad_form")
				return
			}
		} else if err := r.ParseForm(); err != nil {
			s.fail(w, r, area, http.StatusBadRequest, "err.bad_form")
			return
		}
		if !s.checkCSRF(r, area) {
			s.fail(w, r, area, http.StatusForbidden, "err.csrf")
			return
		}
		next(w, r)
	}
}

// --- language ---

func lang(r *http.Request) string {
	if cookieValue(r, cookieLang) == "en" {
		return "en"
	}
	return "zh"
}

// setLang is the POST of the language switch: it sets the lang cookie and goes back to the page it came from
// (only a path of this site's own areas).
func (s *server) setLang(area string) http.HandlerFunc {
	return s.form(area, func(w http.ResponseWriter, r *http.Request) {
		l := r.PostFormValue("lang")
		if l != "en" {
			l = "zh"
		}
		http.SetCookie(w, &http.Cookie{Name: cookieLang, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
		back := r.PostFormValue("back")
		if !strings.HasPrefix(back, "/"+area+"/") || strings.ContainsAny(back, "\\?#") || strings.Contains(back, "//") {
			back = "/" + area + "/"
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
	})
}

// --- rendering ---

// view is what every page template gets.
type view struct {
	Lang    string
	Area    string // "console" or "portal"
	Title   string
	CSRF    string
	Path    string // the current path, for the language switch
	User    string // who is signed in, for the header; "" when nobody
	Nav     []navItem
	Notice  string            // a message key shown above the content
	Errors  map[string]string // field → message, shown next to the field
	General []string          // messages not tied to a field
	Form    map[string]string // the submitted values, to fill the form again
	Data    any
	Refresh int // seconds after which the page reloads itself (a job in progress); 0 for never

	loc *time.Location
}

type navItem struct {
	Href, Label string
	Current     bool
}

// T returns the text of key in the page's language.
func (v *view) T(key string) string { return text(v.Lang, key) }

// When writes a time in the agency's time zone.
func (v *view) When(t time.Time) string { return t.In(v.loc).Format("2006-01-02 15:04") }

// Err returns the message for a field, "" when it has none.
func (v *view) Err(field string) string { return v.Errors[field] }

// Val returns the submitted value of a field.
func (v *view) Val(field string) string { return v.Form[field] }

func (s *server) newView(w http.ResponseWriter, r *http.Request, area, title string) *view {
	return &view{Lang: lang(r), Area: area, Title: title, CSRF: s.csrfToken(w, r, area), Path: r.URL.Path,
		Errors: map[string]string{}, Form: map[string]string{}, loc: s.cfg.Location}
}

func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := s.pages[name]
	if !ok {
		panic("web: no page " + name)
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.cfg.Logger.Error("render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

// fail shows an error page with the message of key.
func (s *server) fail(w http.ResponseWriter, r *http.Request, area string, status int, key string) {
	v := s.newView(w, r, area, "err.title")
	v.Data = key
	s.render(w, r, status, "error", v)
}

// failErr shows an error page for err: its code decides the status; internal errors are logged once, here,
// and shown without detail.
func (s *server) failErr(w http.ResponseWriter, r *http.Request, area string, err error) {
	switch record.ErrorCode(err) {
	case record.ENotFound:
		s.fail(w, r, area, http.StatusNotFound, "err.not_found")
	case record.EForbidden:
		s.fail(w, r, area, http.StatusForbidden, "err.forbidden")
	case record.EUnauthorized:
		s.fail(w, r, area, http.StatusUnauthorized, "err.unauthorized")
	case record.EConflict:
		s.fail(w, r, area, http.StatusConflict, "err.conflict")
	case record.EInvalid:
		s.fail(w, r, area, http.StatusUnprocessableEntity, "err.invalid")
	default:
		if errors.Is(err, context.Canceled) {
			return
		}
		s.cfg.Logger.Error("internal error", "path", r.URL.Path, "err", err)
		s.fail(w, r, area, http.StatusInternalServerError, "err.internal")
	}
}

var funcs = template.FuncMap{
	"maskName": MaskName,
	"yuan":     func(f record.Fen) string { return f.String() },
	"list":     func(s ...string) []string { return s },
	"yearsOf": func(v *view, years []yearRow) any {
		return struct {
			V     *view
			Years []yearRow
		}{v, years}
	},
	"field": func(v *view, f intakeField) formField { return formField{V: v, F: f} },
	"int64": func(n int) int64 { return int64(n) },
	"short": shortRoot,
	"add": func(a int64, more ...int64) int64 {
		for _, b := range more {
			a += b
		}
		return a
	},
	"pagerOf": func(v *view, p pager) any {
		return struct {
			V *view
			P pager
		}{v, p}
	},
}

func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	// Files named _*.html hold parts (defined templates) that any page may use; layout.html is every page's frame.
	parts, err := fs.Glob(templateFS, "templates/_*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		files := append([]string{"templates/layout.html"}, parts...)
		pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFS, append(files, n)...))
	}
	return pages
}

// MaskName masks a person's name for lists: the surname stays, each other character becomes "*" (张三丰 → 张**).
func MaskName(name string) string {
	r := []rune(name)
	if len(r) <= 1 {
		return name
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}
