package web

import (
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
	mux.HandleFunc("GET /portal/contributions", s.portalOnly(KindEmployer, s.portalContributions))
	mux.HandleFunc("GET /portal/contributions/export", s.portalOnly(KindEmployer, s.portalContributions))
	s.queryUsePortalRoutes(mux)
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
	if a.Kind == KindEmployer {
		v.Nav = append(v.Nav, navItem{Href: "/portal/contributions", Label: "nav.portal_contributions", Current: r.URL.Path == "/portal/contributions"})
	}
	v.Nav = withQueryUseNav(v.Nav, a.Kind, r.URL.Path)
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

func (s *server) employerHome(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	ctx := r.Context()
	e, err := s.cfg.Store.Employer(ctx, a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	pg := newPager(r, employeesPage)
	list, total, err := s.cfg.Store.Employees(ctx, a.Subject, store.EmployeesByName, pg.Offset(), pg.Size)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	pg.setTotal(total)
	for _, x := range list {
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorEmployer, Actor: a.Username,
			Person: x.Person, Page: "portal/employer", Fields: "name_masked,id_number_masked", Purpose: employerPurpose}); err != nil {
			s.failErr(w, r, "portal", err)
			return
		}
	}
	for i := range list {
		list[i].Name = MaskName(list[i].Name)
	}
	v := s.portalView(w, r, a, "portal.employer.title")
	v.Data = struct {
		E         store.EmployerView
		Employees []store.EmployeeView
		Pager     pager
	}{e, list, pg}
	s.render(w, r, http.StatusOK, "employer", v)
}

// portalContributions shows an employer its own contributions by period and insurance type (Q3): sums, with
// the filters, paging and export of the console's page.
func (s *server) portalContributions(w http.ResponseWriter, r *http.Request, a *PortalAccount) {
	e, err := s.cfg.Store.Employer(r.Context(), a.Subject)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	if r.URL.Path == "/portal/contributions/export" {
		s.exportContributions(w, r, "portal", e)
		return
	}
	d, err := s.employerContributions(r, e)
	if err != nil {
		s.failErr(w, r, "portal", err)
		return
	}
	v := s.portalView(w, r, a, "portal.contributions.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "employer_contributions", v)
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
