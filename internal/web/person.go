package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"

	"sirec/internal/record"
	"sirec/internal/rules"
	"sirec/internal/store"
)

// personData is a person's record arranged for the person page.
type personData struct {
	V       *store.PersonView
	Years   []yearRow
	Chart   template.HTML
	Purpose string // message key of the stated purpose; "" on the person's own portal page
	// The console's page links a year to its months, and shows maintainers the event numbers to correct.
	Console     bool
	PurposeCode string
	CanCorrect  bool
	// MaintLog links staff who may read the maintenance log to the person's entries in it.
	MaintLog bool
}

// yearRow sums one year of one insurance type's contributions.
type yearRow struct {
	Year                                    int
	Type                                    string
	Months, Arrears                         int
	Base, Employer, Individual, Credit, Fee record.Fen
}

func newPersonData(v *store.PersonView, lang, purpose string) personData {
	d := personData{V: v, Purpose: purpose}
	d.Years = contributionYears(v.Contributions)
	if v.Derived != nil {
		d.Chart = accountChart(v.Derived.AccountYears, lang)
	}
	return d
}

// contributionYears sums contributions by year and insurance type, newest year first.
func contributionYears(cs []store.ContributionView) []yearRow {
	type key struct {
		year int
		typ  string
	}
	rows := map[key]*yearRow{}
	for _, c := range cs {
		k := key{c.Period.Year(), c.Type}
		r := rows[k]
		if r == nil {
			r = &yearRow{Year: k.year, Type: k.typ}
			rows[k] = r
		}
		r.Months++
		if c.Status == record.StatusArrears {
			r.Arrears++
		}
		r.Base += c.Base
		r.Employer += c.EmployerAmt
		r.Individual += c.IndividualAmt
		r.Credit += c.AccountCredit
		r.Fee += c.LateFee
	}
	out := make([]yearRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b yearRow) int {
		if a.Year != b.Year {
			return b.Year - a.Year
		}
		return slices.Index(record.InsuranceTypes, a.Type) - slices.Index(record.InsuranceTypes, b.Type)
	})
	return out
}

// accountChart draws the personal account's closing balance year by year as an inline SVG bar chart, made here
// on the server: no script, and no inline style (the stylesheet colours it through its classes).
func accountChart(years []rules.AccountYear, lang string) template.HTML {
	if len(years) == 0 {
		return ""
	}
	const (
		width, height = 640, 240
		left, bottom  = 80, 30
		top           = 16
	)
	var maxV int64 = 1
	for _, y := range years {
		maxV = max(maxV, int64(y.Closing))
	}
	// A round top of the scale: 1, 2 or 5 times a power of ten.
	scale := int64(1)
	for scale*10 <= maxV {
		scale *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if scale*m >= maxV {
			scale *= m
			break
		}
	}
	plotH := float64(height - bottom - top)
	slot := float64(width-left-10) / float64(len(years))
	bar := slot * 0.6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">`, width, height)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, template.HTMLEscapeString(text(lang, "person.chart_title")))
	for i := 0; i <= 4; i++ {
		v := scale * int64(i) / 4
		y := float64(top) + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, left, y, width-10, y)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, left-6, y+4, record.Fen(v).String())
	}
	for i, y := range years {
		h := plotH * float64(y.Closing) / float64(scale)
		x := float64(left) + slot*float64(i) + (slot-bar)/2
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d: %s</title></rect>`,
			x, float64(top)+plotH-h, bar, h, y.Year, y.Closing.String())
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="middle">%d</text>`, x+bar/2, height-bottom+18, y.Year)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// personMonths lists one year of a person's contributions month by month, with the event behind each row
// (a maintainer corrects it from here). It is logged as a view of the person's record (Q7).
func (s *server) personMonths(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	purpose := r.URL.Query().Get("purpose")
	if !slices.Contains(Purposes, purpose) {
		http.Redirect(w, r, "/console/persons", http.StatusSeeOther)
		return
	}
	year, err := strconv.Atoi(r.URL.Query().Get("year"))
	if err != nil || year < 1950 || year > 2200 {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	ctx := r.Context()
	pv, err := s.cfg.Store.PersonRecord(ctx, r.PathValue("person"))
	if err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
		Person: pv.Person, Page: "console/person_contributions", Fields: "contributions " + strconv.Itoa(year), Purpose: purpose}); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	var rows []store.ContributionView
	for _, c := range pv.Contributions {
		if c.Period.Year() == year {
			rows = append(rows, c)
		}
	}
	slices.SortStableFunc(rows, func(a, b store.ContributionView) int {
		if a.Period != b.Period {
			return int(a.Period) - int(b.Period)
		}
		return slices.Index(record.InsuranceTypes, a.Type) - slices.Index(record.InsuranceTypes, b.Type)
	})
	v := s.staffView(w, r, p, "person.months_title")
	v.Data = struct {
		Person, Name, IDMasked, Purpose string
		Year                            int
		Rows                            []store.ContributionView
		Years                           []yearRow
		CanCorrect                      bool
	}{pv.Person, pv.Name, pv.IDMasked, purpose, year, rows, contributionYears(rows), p.Has(auth.PostMaintainer)}
	s.render(w, r, http.StatusOK, "person_months", v)
}
