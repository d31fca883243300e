package web

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/archive"
	"sirec/internal/auth"
	"sirec/internal/export"
	"sirec/internal/record"
)

// The archive pages (R13): every original material kept for collection and maintenance, per draft and per person,
// with its retention; downloads checked against the SHA-256; and the retention settings, which a system
// administrator sets. And the user pages where a system administrator manages outside helpers (R11.2): their
// confidentiality agreements, enabling and disabling.

const archivePageSize = 50

// retentionSeen may read the retention settings: the archive's readers and the system administrators who set them.
var retentionSeen = append(slices.Clone(draftSeen), auth.PostSysadmin)

func (s *server) archiveRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/archive", s.staffOnly(draftSeen, s.archivePage))
	mux.HandleFunc("POST /console/archive", s.staffForm(draftSeen, s.archiveSearch))
	mux.HandleFunc("GET /console/archive/export", s.staffOnly(draftSeen, s.archiveExport))
	mux.HandleFunc("GET /console/archive/materials/{sha}", s.staffOnly(draftSeen, s.archiveDownload))
	mux.HandleFunc("GET /console/archive/retention", s.staffOnly(retentionSeen, s.retentionPage))
	mux.HandleFunc("POST /console/archive/retention", s.staffForm(sysadmins, s.retentionSet))
}

func (s *server) archive() *archive.Service {
	a := archive.New(s.cfg.Store)
	a.Location, a.Now = s.cfg.Location, s.cfg.Now
	return a
}

type archiveData struct {
	Entries  []archive.Entry
	Types    []archive.Type
	Stages   []string
	Sorts    []option
	Purposes []string
	Person   string // person key of a listing by person
	Masked   string // and the person's masked ID number
	Purpose  string
	Draft    string
	Type     string
	Stage    string
	Sort     string
	Pager    pager
	Query    string
}

// archiveFilterOf reads the listing's filters from the query; person comes with the purpose it is viewed for.
func (s *server) archiveFilterOf(r *http.Request) (archive.Filter, archiveData) {
	q := r.URL.Query()
	d := archiveData{Types: archive.Types(), Stages: []string{archive.StageCollection, archive.StageMaintenance}, Purposes: Purposes,
		Sorts: []option{{"-added", "arc.sort.newest"}, {"added", "arc.sort.oldest"}, {"name", "arc.sort.name"}, {"type", "arc.sort.type"},
			{"-size", "arc.sort.size"}, {"draft", "arc.sort.draft"}}, Draft: q.Get("draft"), Type: q.Get("type"), Stage: q.Get("stage"),
		Sort: q.Get("sort"), Person: q.Get("person"), Purpose: q.Get("purpose")}
	var f archive.Filter
	if id, err := draftNumber(d.Draft); err == nil {
		f.Draft = id
	} else {
		d.Draft = ""
	}
	if slices.ContainsFunc(d.Types, func(t archive.Type) bool { return t.Name == d.Type }) {
		f.Type = d.Type
	} else {
		d.Type = ""
	}
	if slices.Contains(d.Stages, d.Stage) {
		f.Stage = d.Stage
	} else {
		d.Stage = ""
	}
	if _, _, err := archive.ParseSort(d.Sort); err != nil || d.Sort == "" {
		d.Sort = "-added"
	}
	if d.Person != "" && slices.Contains(Purposes, d.Purpose) {
		f.Person = d.Person
	} else {
		d.Person = ""
	}
	return f, d
}

func (s *server) archivePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.showArchive(w, r, p, nil, http.StatusOK)
}

func (s *server) showArchive(w http.ResponseWriter, r *http.Request, p *auth.Principal, v *view, status int) {
	ctx := r.Context()
	f, d := s.archiveFilterOf(r)
	d.Pager = newPager(r, archivePageSize)
	if f.Person != "" {
		// A listing by person shows that person's materials: logged first (Q7).
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: f.Person, Page: "console/archive", Fields: "archived materials", Purpose: d.Purpose}); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
		var sealed []byte
		if err := s.personSealed(r, f.Person, &sealed); err == nil {
			d.Masked = openMasked(s.cfg.Store, sealed)
		}
	}
	es, total, err := s.archive().List(ctx, f, d.Sort, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Entries = es
	d.Pager.setTotal(total)
	q := r.URL.Query()
	q.Del("page")
	d.Query = q.Encode()
	if v == nil {
		v = s.staffView(w, r, p, "arc.title")
	}
	v.Data = d
	s.render(w, r, status, "archive", v)
}

func (s *server) personSealed(r *http.Request, person string, into *[]byte) error {
	tx, err := s.cfg.Store.Driver().Begin(r.Context(), false)
	if err != nil {
		return err
	}
	defer tx.Rollback(r.Context())
	return tx.QueryRow(r.Context(), "SELECT id_sealed FROM persons WHERE person = $1", person).Scan(into)
}

// archiveSearch finds a person by ID number — in the POST body, never in a URL — and lists their materials by
// the opaque person key, with the stated purpose.
func (s *server) archiveSearch(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "arc.title")
	v.Form = formValues(r, "purpose")
	id := strings.ToUpper(strings.TrimSpace(r.PostFormValue("id_number")))
	if !slices.Contains(Purposes, v.Form["purpose"]) {
		v.Errors["purpose"] = v.T("search.purpose_required")
	}
	if err := record.ValidateCitizenID("id_number", id, s.cfg.Now()); err != nil {
		showInvalid(v, err, func(string) string { return "id_number" })
	}
	if len(v.Errors) == 0 {
		key, err := s.cfg.Store.FindPerson(r.Context(), id)
		if err == nil {
			http.Redirect(w, r, "/console/archive?"+url2("person", key, "purpose", v.Form["purpose"]), http.StatusSeeOther)
			return
		}
		if record.ErrorCode(err) != record.ENotFound {
			s.failErr(w, r, "console", err)
			return
		}
		v.Errors["id_number"] = v.T("search.not_found")
	}
	s.showArchive(w, r, p, v, http.StatusUnprocessableEntity)
}

func url2(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + pathEscape(kv[i+1]))
	}
	return b.String()
}

func (s *server) archiveExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, d := s.archiveFilterOf(r)
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "xlsx" {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "err.invalid")
		return
	}
	const most = 50000
	es, total, err := s.archive().List(r.Context(), f, d.Sort, 0, most)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if total > int64(len(es)) {
		s.fail(w, r, "console", http.StatusUnprocessableEntity, "wi.export_too_big")
		return
	}
	if f.Person != "" {
		if err := AppendQuery(r.Context(), s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: f.Person, Page: "console/archive/export", Fields: "archived materials", Purpose: d.Purpose}); err != nil {
			s.failErr(w, r, "console", err)
			return
		}
	}
	w.Header().Set("Content-Type", map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format])
	w.Header().Set("Content-Disposition", `attachment; filename="archive.`+format+`"`)
	if err := export.Write(w, format, export.Archive(es)); err != nil {
		s.cfg.Logger.Error("archive export", "err", err)
	}
}

// archiveDownload serves an archived material, checked against its SHA-256 first; a changed one is refused.
func (s *server) archiveDownload(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	var draft int64
	if v := r.URL.Query().Get("draft"); v != "" {
		id, err := draftNumber(v)
		if err != nil {
			s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
			return
		}
		draft = id
	}
	e, b, err := s.archive().Read(r.Context(), r.PathValue("sha"), draft)
	if err != nil {
		var re *record.Error
		if asRecordError(err, &re) && re.Rule == archive.ErrHashMismatch {
			s.cfg.Logger.Error("archived material changed", "sha256", r.PathValue("sha"))
			s.fail(w, r, "console", http.StatusConflict, "arc.hash_mismatch")
			return
		}
		if record.ErrorCode(err) == record.EInvalid {
			s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
			return
		}
		s.failErr(w, r, "console", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+pathEscape(e.Name))
	w.Header().Set("X-Content-SHA256", e.SHA256)
	w.Write(b)
}

// --- retention ---

type retentionData struct {
	Types   []archive.Retention
	Changes []archive.RetentionChange
	CanSet  bool
	Max     int
}

func (s *server) retentionPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "arc.retention_title")
	if r.URL.Query().Get("n") == "set" {
		v.Notice = "arc.retention_set"
	}
	s.showRetention(w, r, p, v, http.StatusOK)
}

func (s *server) showRetention(w http.ResponseWriter, r *http.Request, p *auth.Principal, v *view, status int) {
	ar := s.archive()
	rs, err := ar.Retentions(r.Context())
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	changes, _, err := ar.RetentionLog(r.Context(), 0, 50)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v.Data = retentionData{Types: rs, Changes: changes, CanSet: p.Has(auth.PostSysadmin), Max: archive.MaxYears}
	s.render(w, r, status, "retention", v)
}

// retentionSet sets one material type's retention period. Shortening it must be confirmed.
func (s *server) retentionSet(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "arc.retention_title")
	v.Form = formValues(r, "type", "years", "reason")
	typ := v.Form["type"]
	years, err := strconv.Atoi(v.Form["years"])
	if err != nil {
		problem(v, record.Invalid("years", "retention_years", "years must be a whole number: 0 for permanent, or 1 to %d", archive.MaxYears))
		s.showRetention(w, r, p, v, http.StatusUnprocessableEntity)
		return
	}
	rs, err := s.archive().Retentions(r.Context())
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for _, ret := range rs {
		shorter := ret.Years == 0 && years > 0 || years > 0 && years < ret.Years
		if ret.Name == typ && shorter && r.PostFormValue("confirm") == "" {
			v.General = append(v.General, v.T("arc.confirm_shorter"))
			s.showRetention(w, r, p, v, http.StatusUnprocessableEntity)
			return
		}
	}
	if _, err := s.archive().SetRetention(r.Context(), actorOf(p), typ, years, v.Form["reason"]); err != nil {
		if !problem(v, err) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showRetention(w, r, p, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/console/archive/retention?n=set", http.StatusSeeOther)
}

// --- users: outside helpers ---

func (s *server) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/users", s.staffOnly(sysadmins, s.usersPage))
	mux.HandleFunc("GET /console/users/{username}", s.staffOnly(sysadmins, s.userPage))
	mux.HandleFunc("POST /console/users/{username}/agreements", s.staffForm(sysadmins, s.userAgreement))
	mux.HandleFunc("GET /console/users/{username}/agreements/{sha}", s.staffOnly(sysadmins, s.userAgreementDocument))
	mux.HandleFunc("POST /console/users/{username}/enable", s.staffForm(sysadmins, s.userState("enable")))
	mux.HandleFunc("POST /console/users/{username}/disable", s.staffForm(sysadmins, s.userState("disable")))
	mux.HandleFunc("POST /console/users/{username}/external", s.staffForm(sysadmins, s.userState("external")))
	mux.HandleFunc("POST /console/users/{username}/internal", s.staffForm(sysadmins, s.userState("internal")))
}

type userRow struct {
	auth.User
	AgreementValid bool
}

type usersData struct {
	Users []userRow
	Pager pager
}

func (s *server) userRow(u auth.User) userRow {
	today := s.cfg.Auth.Today(s.cfg.Now())
	return userRow{User: u, AgreementValid: u.AgreementExpires != "" && u.AgreementExpires >= today}
}

func (s *server) usersPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d := usersData{Pager: newPager(r, 50)}
	users, total, err := s.cfg.Auth.ListUsers(r.Context(), d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for _, u := range users {
		d.Users = append(d.Users, s.userRow(u))
	}
	d.Pager.setTotal(int64(total))
	v := s.staffView(w, r, p, "usr.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "users", v)
}

type userData struct {
	U          userRow
	Agreements []auth.Agreement
	Today      string
}

func (s *server) userPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "usr.user_title")
	if n := r.URL.Query().Get("n"); slices.Contains([]string{"agreement", "enable", "disable", "external", "internal"}, n) {
		v.Notice = "usr.done_" + n
	}
	s.showUser(w, r, p, v, http.StatusOK)
}

func (s *server) showUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal, v *view, status int) {
	u, err := s.cfg.Auth.GetUser(r.Context(), r.PathValue("username"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	as, err := s.cfg.Auth.Agreements(r.Context(), u.Username)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if v.Form["signed_on"] == "" {
		v.Form["signed_on"] = s.cfg.Auth.Today(s.cfg.Now())
	}
	v.Data = userData{U: s.userRow(u), Agreements: as, Today: s.cfg.Auth.Today(s.cfg.Now())}
	s.render(w, r, status, "user", v)
}

// userAgreement files a confidentiality agreement uploaded with the form: the document is stored by its SHA-256
// with the original materials, after the dates have been checked.
func (s *server) userAgreement(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ctx := r.Context()
	v := s.staffView(w, r, p, "usr.user_title")
	v.Form = formValues(r, "signed_on", "expires_on")
	username := r.PathValue("username")
	if _, err := s.cfg.Auth.GetUser(ctx, username); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	var fh *multipart.FileHeader
	if r.MultipartForm != nil && len(r.MultipartForm.File["document"]) > 0 {
		fh = r.MultipartForm.File["document"][0]
	}
	if fh == nil || fh.Filename == "" {
		v.Errors["document"] = v.T("usr.document_required")
		s.showUser(w, r, p, v, http.StatusUnprocessableEntity)
		return
	}
	b, err := readPart(fh)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	sum := sha256.Sum256(b)
	ct := fh.Header.Get("Content-Type")
	spec := auth.AgreementSpec{SHA256: hex.EncodeToString(sum[:]), Name: cleanName(fh.Filename), ContentType: ct,
		SignedOn: v.Form["signed_on"], ExpiresOn: v.Form["expires_on"]}
	fields := func(f string) string {
		switch f {
		case "signed_on", "expires_on":
			return f
		case "":
			return ""
		}
		return "document"
	}
	err = spec.Validate(s.cfg.Auth.Today(s.cfg.Now()))
	if err == nil {
		if _, err = s.cfg.Review.AddMaterial(ctx, b); err == nil {
			_, err = s.cfg.Auth.AddAgreement(ctx, username, spec, p.Username, s.cfg.Now())
		}
	}
	if err != nil {
		if !showInvalid(v, err, fields) && !problem(v, err) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showUser(w, r, p, v, statusOf(err))
		return
	}
	http.Redirect(w, r, "/console/users/"+username+"?n=agreement", http.StatusSeeOther)
}

func (s *server) userAgreementDocument(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	a, err := s.cfg.Auth.Agreement(r.Context(), r.PathValue("username"), r.PathValue("sha"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	_, b, err := s.archive().Read(r.Context(), a.SHA256, 0)
	if err != nil {
		var re *record.Error
		if asRecordError(err, &re) && re.Rule == archive.ErrHashMismatch {
			s.fail(w, r, "console", http.StatusConflict, "arc.hash_mismatch")
			return
		}
		s.failErr(w, r, "console", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+pathEscape(a.Name))
	w.Header().Set("X-Content-SHA256", a.SHA256)
	w.Write(b)
}

// userState enables, disables or marks a user; disabling and marking external (which disables a user without an
// agreement in force) must be confirmed.
func (s *server) userState(action string) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		ctx := r.Context()
		username := r.PathValue("username")
		now := s.cfg.Now()
		var err error
		if (action == "disable" || action == "external") && r.PostFormValue("confirm") == "" {
			err = record.Invalid("confirm", "confirm", "tick the box to confirm")
		} else {
			switch action {
			case "enable":
				err = s.cfg.Auth.Enable(ctx, username, p.Username, now)
			case "disable":
				err = s.cfg.Auth.Disable(ctx, username, p.Username, now)
			case "external", "internal":
				_, err = s.cfg.Auth.SetExternal(ctx, username, action == "external", p.Username, now)
			}
		}
		if err != nil {
			v := s.staffView(w, r, p, "usr.user_title")
			if !problem(v, err) {
				s.failErr(w, r, "console", err)
				return
			}
			s.showUser(w, r, p, v, statusOf(err))
			return
		}
		http.Redirect(w, r, "/console/users/"+username+"?n="+action, http.StatusSeeOther)
	}
}

func asRecordError(err error, target **record.Error) bool {
	var es record.Errors
	if errors.As(err, &es) && len(es) > 0 {
		*target = es[0]
		return true
	}
	return errors.As(err, target)
}
