package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/export"
	"sirec/internal/record"
	"sirec/internal/store"
)

// The staff console's employer pages (用人单位): find an employer by credit code or name; its registration and
// its employees (names and ID numbers masked, paged, logged as views of each person listed, Q7); its
// contributions summed by period and insurance type, with totals, filters, paging and CSV/XLSX export.

// Page sizes.
const (
	employeesPage     = 25
	contributionsPage = 24
	employersPage     = 25
)

func (s *server) employerRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/employers", s.staffOnly(readers, s.employerSearch))
	mux.HandleFunc("GET /console/employers/{code}", s.staffOnly(readers, s.employerPage))
	mux.HandleFunc("GET /console/employers/{code}/contributions", s.staffOnly(readers, s.employerContributionsPage))
	mux.HandleFunc("GET /console/employers/{code}/contributions/export", s.staffOnly(readers, s.employerContributionsExport))
}

type employerSearchData struct {
	Purposes []string
	Query    string
	Found    []store.EmployerView
	Searched bool
	Pager    pager
}

// employerSearch finds employers by credit code (straight to its page when the code is registered) or by part
// of the name. Employers' codes and names are not personal data, so the search is a GET.
func (s *server) employerSearch(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "employer.search_title")
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	purpose := r.URL.Query().Get("purpose")
	v.Form["q"], v.Form["purpose"] = q, purpose
	d := employerSearchData{Purposes: Purposes, Query: q, Pager: newPager(r, employersPage)}
	if q == "" && purpose == "" {
		v.Data = d
		s.render(w, r, http.StatusOK, "employers", v)
		return
	}
	if !slices.Contains(Purposes, purpose) {
		v.Errors["purpose"] = v.T("search.purpose_required")
	}
	if q == "" {
		v.Errors["q"] = v.T("employer.query_required")
	}
	if len(v.Errors) > 0 {
		v.Data = d
		s.render(w, r, http.StatusUnprocessableEntity, "employers", v)
		return
	}
	code := strings.ToUpper(q)
	if record.ValidateUSCC("q", code) == nil {
		if _, err := s.cfg.Store.Employer(r.Context(), code); err == nil {
			http.Redirect(w, r, "/console/employers/"+code+"?purpose="+purpose, http.StatusSeeOther)
			return
		}
	}
	found, total, err := s.cfg.Store.FindEmployers(r.Context(), q, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Found, d.Searched = found, true
	d.Pager.setTotal(total)
	v.Data = d
	s.render(w, r, http.StatusOK, "employers", v)
}

// employerPath reads the employer in the path and the stated purpose; without a purpose it sends the user to
// the search, which asks for one.
func (s *server) employerPath(w http.ResponseWriter, r *http.Request) (store.EmployerView, string, bool) {
	purpose := r.URL.Query().Get("purpose")
	if !slices.Contains(Purposes, purpose) {
		http.Redirect(w, r, "/console/employers", http.StatusSeeOther)
		return store.EmployerView{}, "", false
	}
	code := r.PathValue("code")
	if record.ValidateUSCC("code", code) != nil {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return store.EmployerView{}, "", false
	}
	e, err := s.cfg.Store.Employer(r.Context(), code)
	if err != nil {
		s.failErr(w, r, "console", err)
		return e, "", false
	}
	return e, purpose, true
}

type employerPageData struct {
	E         store.EmployerView
	Purpose   string
	Tab       string // "employees" or "contributions"
	Employees []store.EmployeeView
	Sort      string
	Pager     pager
	// contributions
	Rows                  []store.EmployerPeriodView
	Sum                   store.EmployerPeriodView
	Year                  int
	Type                  string
	Years                 []int
	Types                 []string
	ExportCSV, ExportXLSX string
	Empty                 bool
	Area                  string // "console" or "portal": where the links go
}

// employerPage shows an employer's registration and its employees, a page at a time. Every person listed is
// logged as viewed (masked name and ID number) before the page is shown (Q7).
func (s *server) employerPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	e, purpose, ok := s.employerPath(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	sort := r.URL.Query().Get("sort")
	if sort != store.EmployeesByFrom {
		sort = store.EmployeesByName
	}
	d := employerPageData{E: e, Purpose: purpose, Tab: "employees", Sort: sort, Pager: newPager(r, employeesPage)}
	list, total, err := s.cfg.Store.Employees(ctx, e.CreditCode, sort, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Pager.setTotal(total)
	if err := s.logList(ctx, p.Username, list, "console/employer", purpose); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	for i := range list {
		list[i].Name = MaskName(list[i].Name)
	}
	d.Employees = list
	v := s.staffView(w, r, p, "employer.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "employer_console", v)
}

// logList logs each listed employee as viewed by user (Q7).
func (s *server) logList(ctx context.Context, user string, list []store.EmployeeView, page, purpose string) error {
	for _, x := range list {
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: user,
			Person: x.Person, Page: page, Fields: "name_masked,id_number_masked,enrolments_here", Purpose: purpose}); err != nil {
			return err
		}
	}
	return nil
}

// contributionFilter reads the year and insurance type filters of the contributions page; bad values are
// dropped (the page then shows every year or type).
func contributionFilter(r *http.Request) store.EmployerContributionsFilter {
	var f store.EmployerContributionsFilter
	if y, err := strconv.Atoi(r.URL.Query().Get("year")); err == nil && y >= 1950 && y <= 2200 {
		f.Year = y
	}
	if t := r.URL.Query().Get("type"); slices.Contains(record.InsuranceTypes, t) {
		f.Type = t
	}
	return f
}

// employerContributionsPage shows the employer's contributions by period and insurance type: sums, filters by
// year and insurance type, paging. The figures are sums, naming no person.
func (s *server) employerContributionsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	e, purpose, ok := s.employerPath(w, r)
	if !ok {
		return
	}
	d, err := s.employerContributions(r, e)
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	d.Purpose = purpose
	v := s.staffView(w, r, p, "employer.title")
	v.Data = d
	s.render(w, r, http.StatusOK, "employer_console", v)
}

// employerContributions reads one page of an employer's contributions, for the console and the portal.
func (s *server) employerContributions(r *http.Request, e store.EmployerView) (employerPageData, error) {
	f := contributionFilter(r)
	d := employerPageData{E: e, Tab: "contributions", Year: f.Year, Type: f.Type, Types: record.InsuranceTypes, Pager: newPager(r, contributionsPage)}
	rows, total, sum, err := s.cfg.Store.EmployerContributions(r.Context(), e.CreditCode, f, d.Pager.Offset(), d.Pager.Size)
	if err != nil {
		return d, err
	}
	d.Rows, d.Sum, d.Empty = rows, sum, sum.Months == 0
	d.Pager.setTotal(total)
	for y := s.cfg.Now().In(s.cfg.Location).Year(); y >= 1992; y-- {
		d.Years = append(d.Years, y)
	}
	q := r.URL.Query()
	q.Del("page")
	q.Set("format", "csv")
	d.ExportCSV = r.URL.Path + "/export?" + q.Encode()
	q.Set("format", "xlsx")
	d.ExportXLSX = r.URL.Path + "/export?" + q.Encode()
	return d, nil
}

// maxExportRows bounds an export; the filters narrow a larger one.
const maxExportRows = 10000

// employerContributionsExport writes the contributions the filters select as CSV or XLSX.
func (s *server) employerContributionsExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	e, _, ok := s.employerPath(w, r)
	if !ok {
		return
	}
	s.exportContributions(w, r, "console", e)
}

func (s *server) exportContributions(w http.ResponseWriter, r *http.Request, area string, e store.EmployerView) {
	format := r.URL.Query().Get("format")
	ctype := map[string]string{"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[format]
	if ctype == "" {
		s.fail(w, r, area, http.StatusBadRequest, "err.export_format")
		return
	}
	rows, total, sum, err := s.cfg.Store.EmployerContributions(r.Context(), e.CreditCode, contributionFilter(r), 0, maxExportRows)
	if err != nil {
		s.failErr(w, r, area, err)
		return
	}
	if total > int64(len(rows)) {
		s.fail(w, r, area, http.StatusUnprocessableEntity, "err.export_too_big")
		return
	}
	lang := lang(r)
	t := export.Table{Sheet: e.CreditCode, Header: []string{text(lang, "person.period"), text(lang, "f.type"), text(lang, "employer.persons"),
		text(lang, "person.months"), text(lang, "person.arrears"), text(lang, "person.base"), text(lang, "person.employer_amt"),
		text(lang, "person.individual_amt"), text(lang, "person.late_fee")}}
	line := func(period, typ string, x store.EmployerPeriodView) []string {
		return []string{period, typ, strconv.FormatInt(x.Persons, 10), strconv.FormatInt(x.Months, 10), strconv.FormatInt(x.Arrears, 10),
			x.Base.String(), x.EmployerAmt.String(), x.IndividualAmt.String(), x.LateFee.String()}
	}
	for _, x := range rows {
		t.Rows = append(t.Rows, line(x.Period.String(), text(lang, "type."+x.Type), x))
	}
	t.Rows = append(t.Rows, line(text(lang, "person.total"), "", sum))
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="contributions-`+e.CreditCode+`.`+format+`"`)
	if err := export.Write(w, format, t); err != nil {
		s.cfg.Logger.Error("contributions export", "err", err)
	}
}
