package rules

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"sirec/internal/record"
)

// NationalRegion is the region code of the built-in national default and of national rule sets.
const NationalRegion = "000000"

// Set is one rule set: a TOML document with a version, a region and the period it takes effect, holding the
// rules it states. A region override states only the fields it changes; Book.At merges it over the sets below
// it and returns a complete Set, which is what the calculations take. A Set never changes after it is parsed.
type Set struct {
	version string
	region  string
	from    record.Period
	title   string
	d       doc
	res     *resolved // the typed rules, for a complete set; nil for an override
}

// Version returns the set's version string (for a merged set, the versions of its layers joined by "+").
func (s *Set) Version() string { return s.version }

// Region returns the 6-digit region code the set is for ("000000" for national).
func (s *Set) Region() string { return s.region }

// EffectiveFrom returns the first period the set is in force.
func (s *Set) EffectiveFrom() record.Period { return s.from }

// Title returns the set's free-text title.
func (s *Set) Title() string { return s.title }

// Complete reports whether the set states every rule, so that calculations can use it: true for Default
// and every set Book.At returns.
func (s *Set) Complete() bool { return s.res != nil }

// Equal reports whether two sets state the same rules with the same identity.
func (s *Set) Equal(o *Set) bool { return string(s.Canonical()) == string(o.Canonical()) }

// doc is a rule set as written: every field is optional (nil or empty) so that an override can leave it out.
type doc struct {
	rounding        *string
	base            baseDoc
	rates           map[string]*partyDoc
	injuryClasses   map[int]Rate
	account         accountDoc
	pension         pensionDoc
	retirement      map[string]*retireDoc
	minContribution minDoc
	lateFeeDaily    *Rate
	averageWages    map[int]record.Fen
	benefitWages    map[int]record.Fen
}

type baseDoc struct {
	averageAnnual  *record.Fen
	averageMonthly *record.Fen
	floorPercent   *Rate
	ceilingPercent *Rate
	round          *string
	floor          *record.Fen
	ceiling        *record.Fen
}

type partyDoc struct{ employer, individual *Rate }

type accountDoc struct {
	interestMethod  *string
	unpublishedRate *string
	creditRatio     map[record.Period]Rate
	creditingRates  map[int]Rate
}

type pensionDoc struct {
	ageMonths   *string
	formula     *string
	coefficient *Rate
	payout      map[int]int
}

type retireDoc struct {
	startBirth  *record.Period
	originalAge *int
	maxDelay    *int
	perMonths   *int
}

type minDoc struct{ months, fromYear, perYear, max *int }

// Names of the settings with a fixed set of values.
var (
	insuranceParties     = []string{"employer", "individual"}
	interestMethods      = []string{"annual", "monthly"}
	unpublishedRateRules = []string{"error", "previous", "nearest"}
	ageMonthsRules       = []string{"whole_age", "linear"}
	transitionalFormulas = []string{"none", "c_i_deemed", "c_1pi_half_deemed"}
	baseRoundings        = []string{"yuan_half_up", "yuan_truncate", "yuan_up", "fen_half_up", "fen_truncate", "fen_up"}
	amountRoundings      = []string{"half_up", "truncate"}
	// RetirementCategories are the categories of the 2025 retirement-age reform.
	RetirementCategories = []string{"male", "female_55", "female_50"}
)

//go:embed national.toml
var nationalTOML []byte

var defaultSet = sync.OnceValue(func() *Set {
	s, err := ParseSet(nationalTOML)
	if err != nil {
		panic("rules: the built-in national.toml is invalid: " + err.Error())
	}
	if err := s.resolve(); err != nil {
		panic("rules: the built-in national.toml is incomplete: " + err.Error())
	}
	return s
})

// Default returns the built-in national default rule set (embedded national.toml), complete.
func Default() *Set { return defaultSet() }

// ParseSet parses and validates a rule set written in TOML (see FORMAT.md). Unknown keys, values of the wrong
// kind and broken rules are *record.Error values naming the TOML field path, e.g. "rates.pension.employer".
func ParseSet(data []byte) (*Set, error) {
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, record.Invalid(pe.LastKey, "toml_syntax", "line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, record.Invalid("", "toml_syntax", "%s", err.Error())
	}
	rd := &reader{}
	s := rd.set(rd.root(m))
	if rd.err != nil {
		return nil, rd.err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// reader turns the decoded TOML tree into a doc, remembering the first error.
type reader struct{ err error }

func (rd *reader) fail(field, rule, format string, args ...any) {
	if rd.err == nil {
		rd.err = record.Invalid(field, rule, format, args...)
	}
}

func (rd *reader) set(t *table) *Set {
	s := &Set{}
	if v := t.str("version"); v != nil {
		s.version = *v
	}
	if v := t.str("region"); v != nil {
		s.region = *v
	}
	if v := t.str("title"); v != nil {
		s.title = *v
	}
	if v := t.period("effective_from"); v != nil {
		s.from = *v
	}
	d := &s.d
	d.rounding = t.enum("rounding", amountRoundings)
	if b := t.sub("contribution_base"); b != nil {
		d.base = baseDoc{
			averageAnnual:  b.money("average_wage_annual"),
			averageMonthly: b.money("average_wage_monthly"),
			floorPercent:   b.rate("floor_percent"),
			ceilingPercent: b.rate("ceiling_percent"),
			round:          b.enum("round", baseRoundings),
			floor:          b.money("floor"),
			ceiling:        b.money("ceiling"),
		}
		b.done()
	}
	if rt := t.sub("rates"); rt != nil {
		d.rates = map[string]*partyDoc{}
		for _, typ := range rt.keys() {
			if !contains(record.InsuranceTypes, typ) {
				rt.rd.fail(rt.field(typ), "insurance_type", "%q is not an insurance type (pension, medical, unemployment, work_injury, maternity)", typ)
				continue
			}
			p := rt.sub(typ)
			if p == nil {
				continue
			}
			d.rates[typ] = &partyDoc{employer: p.rate("employer"), individual: p.rate("individual")}
			p.done()
		}
	}
	if c := t.sub("work_injury_classes"); c != nil {
		d.injuryClasses = map[int]Rate{}
		for _, k := range c.keys() {
			class, ok := intKey(k, 1, 8)
			if !ok {
				c.rd.fail(c.field(k), "industry_class_range", "work-injury industry class must be 1 to 8, not %q", k)
				continue
			}
			if r := c.rate(k); r != nil {
				d.injuryClasses[class] = *r
			}
		}
	}
	if a := t.sub("account"); a != nil {
		d.account.interestMethod = a.enum("interest_method", interestMethods)
		d.account.unpublishedRate = a.enum("unpublished_rate", unpublishedRateRules)
		if cr := a.sub("credit_ratio"); cr != nil {
			d.account.creditRatio = map[record.Period]Rate{}
			for _, k := range cr.keys() {
				p, err := parsePeriodText(cr.field(k), k)
				if err != nil {
					cr.rd.failErr(err)
					continue
				}
				if r := cr.rate(k); r != nil {
					d.account.creditRatio[p] = *r
				}
			}
		}
		if cr := a.sub("crediting_rates"); cr != nil {
			d.account.creditingRates = map[int]Rate{}
			for _, k := range cr.keys() {
				y, ok := intKey(k, 1950, 2200)
				if !ok {
					cr.rd.fail(cr.field(k), "year_format", "%q is not a year 1950–2200", k)
					continue
				}
				if r := cr.rate(k); r != nil {
					d.account.creditingRates[y] = *r
				}
			}
		}
		a.done()
	}
	if p := t.sub("pension"); p != nil {
		d.pension.ageMonths = p.enum("age_months", ageMonthsRules)
		if tr := p.sub("transitional"); tr != nil {
			d.pension.formula = tr.enum("formula", transitionalFormulas)
			d.pension.coefficient = tr.rate("coefficient")
			tr.done()
		}
		if pm := p.sub("payout_months"); pm != nil {
			d.pension.payout = map[int]int{}
			for _, k := range pm.keys() {
				age, ok := intKey(k, 16, 100)
				if !ok {
					pm.rd.fail(pm.field(k), "age_range", "%q is not an age 16–100", k)
					continue
				}
				if v := pm.integer(k); v != nil {
					d.pension.payout[age] = *v
				}
			}
		}
		p.done()
	}
	if r := t.sub("retirement"); r != nil {
		d.retirement = map[string]*retireDoc{}
		for _, cat := range r.keys() {
			if !contains(RetirementCategories, cat) {
				r.rd.fail(r.field(cat), "retirement_category", "%q is not a retirement category (male, female_55, female_50)", cat)
				continue
			}
			c := r.sub(cat)
			if c == nil {
				continue
			}
			d.retirement[cat] = &retireDoc{
				startBirth:  c.period("start_birth"),
				originalAge: c.integer("original_age"),
				maxDelay:    c.integer("max_delay_months"),
				perMonths:   c.integer("birth_months_per_delay_month"),
			}
			c.done()
		}
	}
	if mc := t.sub("min_contribution"); mc != nil {
		d.minContribution = minDoc{
			months:   mc.integer("months"),
			fromYear: mc.integer("increase_from_year"),
			perYear:  mc.integer("increase_months_per_year"),
			max:      mc.integer("max_months"),
		}
		mc.done()
	}
	if lf := t.sub("late_fee"); lf != nil {
		d.lateFeeDaily = lf.rate("daily_rate")
		lf.done()
	}
	d.averageWages = t.yearMoney("average_wages")
	d.benefitWages = t.yearMoney("benefit_wages")
	t.done()
	return s
}

func (rd *reader) failErr(err error) {
	if rd.err == nil {
		rd.err = err
	}
}

func (rd *reader) root(m map[string]any) *table {
	return &table{rd: rd, m: m, seen: map[string]bool{}}
}

// table is one TOML table being read: it knows its path, for errors, and which keys were read, so that the
// rest can be refused as unknown.
type table struct {
	rd   *reader
	path string
	m    map[string]any
	seen map[string]bool
}

func (t *table) field(k string) string {
	if t.path == "" {
		return k
	}
	return t.path + "." + k
}

func (t *table) get(k string) (any, bool) {
	v, ok := t.m[k]
	if ok {
		t.seen[k] = true
	}
	return v, ok
}

// keys returns all keys, sorted, marking them read.
func (t *table) keys() []string {
	ks := make([]string, 0, len(t.m))
	for k := range t.m {
		ks = append(ks, k)
		t.seen[k] = true
	}
	sort.Strings(ks)
	return ks
}

func (t *table) done() {
	var unknown []string
	for k := range t.m {
		if !t.seen[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		t.rd.fail(t.field(unknown[0]), "unknown_field", "%s is not a rule-set field (see FORMAT.md)", t.field(unknown[0]))
	}
}

func (t *table) sub(k string) *table {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.rd.fail(t.field(k), "toml_table", "%s must be a table", t.field(k))
		return nil
	}
	return &table{rd: t.rd, path: t.field(k), m: m, seen: map[string]bool{}}
}

func (t *table) str(k string) *string {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.rd.fail(t.field(k), "toml_string", "%s must be a quoted string", t.field(k))
		return nil
	}
	return &s
}

func (t *table) enum(k string, allowed []string) *string {
	s := t.str(k)
	if s != nil && !contains(allowed, *s) {
		t.rd.fail(t.field(k), "setting_value", "%s is %q; it must be one of %s", t.field(k), *s, strings.Join(allowed, ", "))
		return nil
	}
	return s
}

func (t *table) rate(k string) *Rate {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.rd.fail(t.field(k), "rate_format", "%s must be a quoted rate such as \"16%%\" or \"0.16\", so that it stays exact", t.field(k))
		return nil
	}
	r, err := ParseRate(t.field(k), s)
	if err != nil {
		t.rd.failErr(err)
		return nil
	}
	return &r
}

func (t *table) money(k string) *record.Fen {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	var f record.Fen
	switch x := v.(type) {
	case string:
		var err error
		if f, err = record.ParseYuan(t.field(k), x); err != nil {
			t.rd.failErr(err)
			return nil
		}
	case int64:
		if x > 1e13 || x < -1e13 {
			t.rd.fail(t.field(k), "money_range", "%s is too large", t.field(k))
			return nil
		}
		f = record.Fen(x * 100)
	default:
		t.rd.fail(t.field(k), "money_format", "%s must be yuan as a quoted string such as \"7162\" or \"5448.58\"", t.field(k))
		return nil
	}
	return &f
}

func (t *table) integer(k string) *int {
	v, ok := t.get(k)
	if !ok {
		return nil
	}
	x, ok := v.(int64)
	if !ok || x < -1e6 || x > 1e6 {
		t.rd.fail(t.field(k), "toml_integer", "%s must be a whole number", t.field(k))
		return nil
	}
	n := int(x)
	return &n
}

func (t *table) period(k string) *record.Period {
	s := t.str(k)
	if s == nil {
		return nil
	}
	p, err := parsePeriodText(t.field(k), *s)
	if err != nil {
		t.rd.failErr(err)
		return nil
	}
	return &p
}

func (t *table) yearMoney(k string) map[int]record.Fen {
	y := t.sub(k)
	if y == nil {
		return nil
	}
	out := map[int]record.Fen{}
	for _, k := range y.keys() {
		yr, ok := intKey(k, 1950, 2200)
		if !ok {
			y.rd.fail(y.field(k), "year_format", "%q is not a year 1950–2200", k)
			continue
		}
		if f := y.money(k); f != nil {
			out[yr] = *f
		}
	}
	return out
}

func intKey(k string, lo, hi int) (int, bool) {
	if k == "" || len(k) > 4 || !allDigits(k) {
		return 0, false
	}
	n, _ := strconv.Atoi(k)
	return n, n >= lo && n <= hi
}

// parsePeriodText reads a month written "YYYY-MM" (as in the TOML files) or "YYYYMM".
func parsePeriodText(field, s string) (record.Period, error) {
	t := s
	if len(s) == 7 && s[4] == '-' {
		t = s[:4] + s[5:]
	}
	p, err := record.ParsePeriod(field, t)
	if err != nil {
		return 0, record.Invalid(field, "month_format", "%q is not a month written YYYY-MM, e.g. \"2025-07\"", s)
	}
	return p, nil
}

// formatMonth writes a period as "YYYY-MM".
func formatMonth(p record.Period) string { return fmt.Sprintf("%04d-%02d", p.Year(), p.Month()) }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Validate checks the set on its own: its identity, and every rule it states, each within its bounds. A
// complete set (Default, or one returned by Book.At) is also checked for completeness and consistency (floor not
// above ceiling, a contiguous, non-increasing payout table, …). Errors are *record.Error naming the TOML field.
func (s *Set) Validate() error {
	if s.version == "" {
		return record.Invalid("version", "required", "version is required, e.g. \"beijing-2025.1\"")
	}
	if len(s.version) > 100 || strings.ContainsAny(s.version, "\n\r\t") {
		return record.Invalid("version", "version_format", "version must be at most 100 characters on one line")
	}
	if err := record.ValidateRegion("region", s.region); err != nil {
		return err
	}
	if s.from == 0 {
		return record.Invalid("effective_from", "required", "effective_from is required, written YYYY-MM")
	}
	if len([]rune(s.title)) > 200 {
		return record.Invalid("title", "text_length", "title must be at most 200 characters")
	}
	if err := s.d.validate(); err != nil {
		return err
	}
	if s.res != nil {
		return s.d.validateComplete()
	}
	return nil
}

func checkRate(field string, r *Rate, max Rate) error {
	if r != nil && (*r < 0 || *r > max) {
		return record.Invalid(field, "rate_range", "%s is %s; it must be between 0%% and %s", field, *r, max)
	}
	return nil
}

func checkMoney(field string, f *record.Fen) error {
	if f != nil && (*f <= 0 || *f > MaxWage) {
		return record.Invalid(field, "money_range", "%s must be more than 0 and at most %s yuan", field, MaxWage)
	}
	return nil
}

func checkInt(field string, v *int, lo, hi int) error {
	if v != nil && (*v < lo || *v > hi) {
		return record.Invalid(field, "number_range", "%s is %d; it must be %d to %d", field, *v, lo, hi)
	}
	return nil
}

// validate checks each stated rule against its bounds.
func (d *doc) validate() error {
	b := &d.base
	for _, c := range []struct {
		f string
		v *record.Fen
	}{{"contribution_base.average_wage_annual", b.averageAnnual}, {"contribution_base.average_wage_monthly", b.averageMonthly},
		{"contribution_base.floor", b.floor}, {"contribution_base.ceiling", b.ceiling}} {
		if err := checkMoney(c.f, c.v); err != nil {
			return err
		}
	}
	if b.averageAnnual != nil && b.averageMonthly != nil {
		return record.Invalid("contribution_base.average_wage_monthly", "one_of", "give average_wage_annual or average_wage_monthly, not both")
	}
	if err := checkRate("contribution_base.floor_percent", b.floorPercent, 10*RateScale); err != nil {
		return err
	}
	if err := checkRate("contribution_base.ceiling_percent", b.ceilingPercent, 10*RateScale); err != nil {
		return err
	}
	if b.floorPercent != nil && b.ceilingPercent != nil && *b.floorPercent > *b.ceilingPercent {
		return record.Invalid("contribution_base.floor_percent", "floor_not_above_ceiling", "floor_percent %s is above ceiling_percent %s", *b.floorPercent, *b.ceilingPercent)
	}
	if b.floor != nil && b.ceiling != nil && *b.floor > *b.ceiling {
		return record.Invalid("contribution_base.floor", "floor_not_above_ceiling", "floor %s is above ceiling %s", *b.floor, *b.ceiling)
	}
	for _, typ := range record.InsuranceTypes {
		p := d.rates[typ]
		if p == nil {
			continue
		}
		if err := checkRate("rates."+typ+".employer", p.employer, RateScale); err != nil {
			return err
		}
		if err := checkRate("rates."+typ+".individual", p.individual, RateScale); err != nil {
			return err
		}
	}
	for c, r := range d.injuryClasses {
		if err := checkRate("work_injury_classes."+strconv.Itoa(c), &r, RateScale); err != nil {
			return err
		}
	}
	for p, r := range d.account.creditRatio {
		if err := checkRate("account.credit_ratio."+formatMonth(p), &r, RateScale); err != nil {
			return err
		}
	}
	for y, r := range d.account.creditingRates {
		if err := checkRate("account.crediting_rates."+strconv.Itoa(y), &r, RateScale); err != nil {
			return err
		}
	}
	if err := checkRate("pension.transitional.coefficient", d.pension.coefficient, RateScale); err != nil {
		return err
	}
	for age, m := range d.pension.payout {
		if m < 1 || m > 600 {
			return record.Invalid("pension.payout_months."+strconv.Itoa(age), "number_range", "payout months must be 1 to 600, not %d", m)
		}
	}
	for cat, r := range d.retirement {
		f := "retirement." + cat + "."
		if err := checkInt(f+"original_age", r.originalAge, 40, 80); err != nil {
			return err
		}
		if err := checkInt(f+"max_delay_months", r.maxDelay, 0, 240); err != nil {
			return err
		}
		if err := checkInt(f+"birth_months_per_delay_month", r.perMonths, 1, 24); err != nil {
			return err
		}
	}
	mc := d.minContribution
	if err := checkInt("min_contribution.months", mc.months, 0, 600); err != nil {
		return err
	}
	if err := checkInt("min_contribution.increase_from_year", mc.fromYear, 1950, 2200); err != nil {
		return err
	}
	if err := checkInt("min_contribution.increase_months_per_year", mc.perYear, 0, 120); err != nil {
		return err
	}
	if err := checkInt("min_contribution.max_months", mc.max, 0, 600); err != nil {
		return err
	}
	if err := checkRate("late_fee.daily_rate", d.lateFeeDaily, RateScale/100); err != nil {
		return err
	}
	for y, f := range d.averageWages {
		if err := checkMoney("average_wages."+strconv.Itoa(y), &f); err != nil {
			return err
		}
	}
	for y, f := range d.benefitWages {
		if err := checkMoney("benefit_wages."+strconv.Itoa(y), &f); err != nil {
			return err
		}
	}
	return nil
}

func required(field string) error {
	return record.Invalid(field, "required", "%s is required in a complete rule set (the national default states it)", field)
}

// validateComplete checks that a merged set states every rule the calculations need, consistently.
func (d *doc) validateComplete() error {
	if d.rounding == nil {
		return required("rounding")
	}
	b := &d.base
	hasAverage := b.averageAnnual != nil || b.averageMonthly != nil
	if b.floor == nil && (!hasAverage || b.floorPercent == nil) {
		return record.Invalid("contribution_base.floor", "required", "give floor, or an average wage and floor_percent")
	}
	if b.ceiling == nil && (!hasAverage || b.ceilingPercent == nil) {
		return record.Invalid("contribution_base.ceiling", "required", "give ceiling, or an average wage and ceiling_percent")
	}
	if b.round == nil {
		return required("contribution_base.round")
	}
	for _, typ := range record.InsuranceTypes {
		p := d.rates[typ]
		if p == nil || p.employer == nil {
			return required("rates." + typ + ".employer")
		}
		if p.individual == nil {
			return required("rates." + typ + ".individual")
		}
	}
	if len(d.account.creditRatio) == 0 {
		return required("account.credit_ratio")
	}
	if d.account.interestMethod == nil {
		return required("account.interest_method")
	}
	if d.account.unpublishedRate == nil {
		return required("account.unpublished_rate")
	}
	if d.pension.ageMonths == nil {
		return required("pension.age_months")
	}
	if d.pension.formula == nil {
		return required("pension.transitional.formula")
	}
	if *d.pension.formula != "none" && d.pension.coefficient == nil {
		return required("pension.transitional.coefficient")
	}
	if len(d.pension.payout) == 0 {
		return required("pension.payout_months")
	}
	lo, hi := 1000, 0
	for age := range d.pension.payout {
		lo, hi = min(lo, age), max(hi, age)
	}
	for age := lo; age <= hi; age++ {
		m, ok := d.pension.payout[age]
		if !ok {
			return record.Invalid("pension.payout_months."+strconv.Itoa(age), "payout_contiguous", "payout months for age %d are missing; the table covers every age from %d to %d", age, lo, hi)
		}
		if age > lo && m > d.pension.payout[age-1] {
			return record.Invalid("pension.payout_months."+strconv.Itoa(age), "payout_non_increasing", "payout months for age %d (%d) are more than for age %d (%d)", age, m, age-1, d.pension.payout[age-1])
		}
	}
	for _, cat := range RetirementCategories {
		r := d.retirement[cat]
		f := "retirement." + cat + "."
		switch {
		case r == nil || r.startBirth == nil:
			return required(f + "start_birth")
		case r.originalAge == nil:
			return required(f + "original_age")
		case r.maxDelay == nil:
			return required(f + "max_delay_months")
		case r.perMonths == nil:
			return required(f + "birth_months_per_delay_month")
		}
	}
	mc := d.minContribution
	switch {
	case mc.months == nil:
		return required("min_contribution.months")
	case mc.fromYear == nil:
		return required("min_contribution.increase_from_year")
	case mc.perYear == nil:
		return required("min_contribution.increase_months_per_year")
	case mc.max == nil:
		return required("min_contribution.max_months")
	case *mc.max < *mc.months:
		return record.Invalid("min_contribution.max_months", "number_range", "max_months %d is below months %d", *mc.max, *mc.months)
	}
	if d.lateFeeDaily == nil {
		return required("late_fee.daily_rate")
	}
	return nil
}

// overlay returns base with every rule o states replacing base's. Tables keyed by year, age, class or month
// are merged key by key. A layer that states an average wage but no explicit floor or ceiling drops the explicit
// floor and ceiling it inherits, so that they are derived from the new wage.
func overlay(base, o doc) doc {
	d := base
	pick(&d.rounding, o.rounding)
	ob := o.base
	if (ob.averageAnnual != nil || ob.averageMonthly != nil) && ob.floor == nil && ob.ceiling == nil {
		d.base.floor, d.base.ceiling = nil, nil
	}
	if ob.averageAnnual != nil || ob.averageMonthly != nil {
		d.base.averageAnnual, d.base.averageMonthly = ob.averageAnnual, ob.averageMonthly
	}
	pick(&d.base.floorPercent, ob.floorPercent)
	pick(&d.base.ceilingPercent, ob.ceilingPercent)
	pick(&d.base.round, ob.round)
	pick(&d.base.floor, ob.floor)
	pick(&d.base.ceiling, ob.ceiling)
	if len(o.rates) > 0 {
		d.rates = make(map[string]*partyDoc, len(base.rates)+len(o.rates))
		for k, v := range base.rates {
			c := *v
			d.rates[k] = &c
		}
		for k, v := range o.rates {
			c := d.rates[k]
			if c == nil {
				c = &partyDoc{}
				d.rates[k] = c
			}
			pick(&c.employer, v.employer)
			pick(&c.individual, v.individual)
		}
	}
	d.injuryClasses = mergeMap(base.injuryClasses, o.injuryClasses)
	pick(&d.account.interestMethod, o.account.interestMethod)
	pick(&d.account.unpublishedRate, o.account.unpublishedRate)
	d.account.creditRatio = mergeMap(base.account.creditRatio, o.account.creditRatio)
	d.account.creditingRates = mergeMap(base.account.creditingRates, o.account.creditingRates)
	pick(&d.pension.ageMonths, o.pension.ageMonths)
	pick(&d.pension.formula, o.pension.formula)
	pick(&d.pension.coefficient, o.pension.coefficient)
	d.pension.payout = mergeMap(base.pension.payout, o.pension.payout)
	if len(o.retirement) > 0 {
		d.retirement = make(map[string]*retireDoc, len(base.retirement)+len(o.retirement))
		for k, v := range base.retirement {
			c := *v
			d.retirement[k] = &c
		}
		for k, v := range o.retirement {
			c := d.retirement[k]
			if c == nil {
				c = &retireDoc{}
				d.retirement[k] = c
			}
			pick(&c.startBirth, v.startBirth)
			pick(&c.originalAge, v.originalAge)
			pick(&c.maxDelay, v.maxDelay)
			pick(&c.perMonths, v.perMonths)
		}
	}
	pick(&d.minContribution.months, o.minContribution.months)
	pick(&d.minContribution.fromYear, o.minContribution.fromYear)
	pick(&d.minContribution.perYear, o.minContribution.perYear)
	pick(&d.minContribution.max, o.minContribution.max)
	pick(&d.lateFeeDaily, o.lateFeeDaily)
	d.averageWages = mergeMap(base.averageWages, o.averageWages)
	d.benefitWages = mergeMap(base.benefitWages, o.benefitWages)
	return d
}

func pick[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

func mergeMap[K comparable, V any](base, o map[K]V) map[K]V {
	if len(o) == 0 {
		return base
	}
	m := make(map[K]V, len(base)+len(o))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range o {
		m[k] = v
	}
	return m
}

func sortedKeys[K int | record.Period, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}
