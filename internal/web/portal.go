package web

import (
	"context"
	"errors"
	"net/http"

	"sirec/internal/record"
	"sirec/internal/store"
)

// employerPurpose is the purpose logged for an employer's views of its employees (Q3, Q7).
const employerPurpose = "employer_self_service"

type portalHandler func(w http.ResponseWriter, r *http.Request, a *PortalAccount)

func (s *server) portalRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /portal/{$}", s.portalOnly("", s.portalHome))
	mux.HandleFunc("GET /portal/login", s.loginPage("portal"))
	mux.HandleFunc("POST /portal/login", s.form("portal", s.portalLogin))
	mux.HandleFunc("POST /portal/logout", s.form("portal", s.portalLogout))
	mux.HandleFunc("POST /portal/lang", s.setLang("portal"))
	mux.HandleFunc("GET /portal/persons/{person}", s.portalOnly("", s.portalPerson))
	mux.HandleFunc("GET /portal/employees/{person}", s.portalOnly(KindEmployer, s.employee))
	mux.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, "portal", http.StatusNotFound, "err.not_found")
	})
}

// portalOnly serves a page to a signed-in portal account (of kind, when kind is not ""); others are sent to
// sign in or refused.
func (s *server) portalOnly(kind string, h portalHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := cookieValue(r, cookiePortal)
		if tok == "" {
			http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
			return
		}
		a, err := s.accounts.Authenticate(r.Context(), tok, s.cfg.Now())
		if err != nil {
			if record.ErrorCode(err) == record.EUnauthorized {
				http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
				return
			}
			s.failErr(w, r, "portal", err)
			return
		}
		if kind != "" && a.Kind != kind {
			s.fail(w, r, "portal", http.StatusForbidden, "err.forbidden")
			return
		}
		h(w, r, &a)
	}
}

func (s *server) portalView(w http.ResponseWriter, r *http.Request, a *PortalAccount, title string) *view {
	v := s.newView(w, r, "portal", title)
	v.User = a.Username
	v.Nav = []navItem{{Href: "/portal/", Label: "nav.portal_home", Current: r.URL.Path == "/portal/"}}
	return v
}

func (s *server) portalLogin(w http.ResponseWriter, r *http.Request) {
	tok, _, err := s.accounts.Login(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"), s.cfg.Now())
	if err != nil {
		if record.ErrorCode(err) != record.EUnauthorized {
			s.failErr(w, r, "portal", err)
			return
		}
		v := s.newView(w, r, "portal", "portal.login.title")
		v.Form["username"] = r.PostFormValue("username")
		v.General = []string{v.T("login.failed")}
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	setCookie(w, r, cookiePortal, tok, "/portal/", 0)
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

func (s *server) portalLogout(w http.ResponseWriter, r *http.Request) {
	if tok := cookieValue(r, cookiePortal); tok != "" {
		if err := s.accounts.Logout(r.Context(), tok); err != nil {
			s.failErr(w, r, "portal", err)
			return
		}
	}
	setCookie(w, r, cookiePortal, "", "/portal/", -1)
	http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
}

func (s *server) portalHome(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	if a.Kind == KindEmployer {
		s.employerHome(w, r, a)
		return
	}
	s.ownRecord(w, r, a)
}

// portalPerson serves a person's page to that person only; anyone else is refused.
func (s *server) portalPerson(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	if a.Kind != KindPerson || r.PathValue("person") != a.Subject {
		s.fail(w, r, "portal", http.StatusForbidden, "err.own_record_only")
		return
	}
	s.ownRecord(w, r, a)
}

// ownRecord shows an insured person their own record. It is not logged: the person is the subject (Q7).
func (s *server) ownRecord(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	pv, err := s.cfg.Store.PersonRecord(r.Context(), a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalView(w, r, a, "portal.own.title")
	v.Data = newPersonData(pv, v.Lang, "")
	s.render(w, r, http.StatusOK, "person", v)
}

// EmployerView is an employer's own registration.
type EmployerView struct {
	CreditCode    string
	Name          string
	Region        string
	IndustryClass int
	RegisteredOn  string
	Status        string
}

type employeeRow struct {
	Person, Name, IDMasked string
}

func (s *server) employerOf(ctx context.Context, code string) (EmployerView, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return EmployerView{}, err
	}
	defer tx.Rollback(ctx)
	e := EmployerView{CreditCode: code}
	err = tx.QueryRow(ctx, "SELECT name, region, industry_class, registered_on, status FROM employers WHERE credit_code = $1", code).
		Scan(&e.Name, &e.Region, &e.IndustryClass, &e.RegisteredOn, &e.Status)
	if errors.Is(err, store.ErrNoRows) {
		return e, record.Errorf(record.ENotFound, "employer not registered")
	}
	return e, err
}

// maxEmployees bounds the employees listed on an employer's page.
const maxEmployees = 200

// employees lists the persons with an enrolment through the employer, by person key, names and ID numbers
// masked.
func (s *server) employees(ctx context.Context, code string) ([]employeeRow, error) {
	tx, err := s.cfg.Store.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT p.person, p.name, p.id_sealed FROM persons p
		WHERE p.person IN (SELECT person FROM enrolments WHERE employer = $1) ORDER BY p.person LIMIT $2`, code, maxEmployees)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []employeeRow
	for rows.Next() {
		var e employeeRow
		var sealed []byte
		if err := rows.Scan(&e.Person, &e.Name, &sealed); err != nil {
			return nil, err
		}
		e.Name = MaskName(e.Name)
		e.IDMasked = openMasked(s.cfg.Store, sealed)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *server) employerHome(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	ctx := r.Context()
	e, err := s.employerOf(ctx, a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	list, err := s.employees(ctx, a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	for _, x := range list {
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorEmployer, Actor: a.Username,
			Person: x.Person, Page: "portal/employer", Fields: "name_masked,id_number_masked", Purpose: employerPurpose}); err != nil {
			s.failErr(w, r, "portal", err)
			return
		}
	}
	v := s.portalView(w, r, a, "portal.employer.title")
	v.Data = struct {
		E         EmployerView
		Employees []employeeRow
		Limit     int
	}{e, list, maxEmployees}
	s.render(w, r, http.StatusOK, "employer", v)
}

// employee shows an employer one employee's registration and the enrolments and contributions through this
// employer — nothing else (Q3). A person who never had an enrolment through it is refused.
func (s *server) employee(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	ctx := r.Context()
	pv, err := s.cfg.Store.PersonRecord(ctx, r.PathValue("person"))
	if record.ErrorCode(err) == record.ENotFound {
		s.fail(w, r, "portal", http.StatusForbidden, "err.not_employee")
		return
	}
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	var enrol []store.EnrolmentView
	for _, e := range pv.Enrolments {
		if e.Employer == a.Subject {
			enrol = append(enrol, e)
		}
	}
	if len(enrol) == 0 {
		s.fail(w, r, "portal", http.StatusForbidden, "err.not_employee")
		return
	}
	var contribs []store.ContributionView
	for _, c := range pv.Contributions {
		if c.Employer == a.Subject {
			contribs = append(contribs, c)
		}
	}
	if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorEmployer, Actor: a.Username,
		Person: pv.Person, Page: "portal/employee", Fields: "registration,enrolments_here,contributions_here", Purpose: employerPurpose}); err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalView(w, r, a, "portal.employee.title")
	v.Data = struct {
		Name, IDMasked, Sex, RegisteredOn string
		Enrolments                        []store.EnrolmentView
		Years                             []yearRow
		Contributions                     []store.ContributionView
	}{MaskName(pv.Name), pv.IDMasked, pv.Sex, pv.RegisteredOn, enrol, contributionYears(contribs), contribs}
	s.render(w, r, http.StatusOK, "employee", v)
}
