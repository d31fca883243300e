package rules

import (
	"sort"

	"sirec/internal/record"
)

// InterestMethod is one of the two published ways to credit a year's interest (Ministry of Labour 1997 No. 116).
type InterestMethod uint8

const (
	// Annual: closing = opening × (1 + r) + credits × (1 + r × 1.083 × 1/2) (年度计算法).
	Annual InterestMethod = iota + 1
	// Monthly: closing = opening × (1 + r) + credits + Σ credit_n × (12 − n + 1) × r / 12 (月积数法).
	Monthly
)

func (m InterestMethod) String() string {
	switch m {
	case Annual:
		return "annual"
	case Monthly:
		return "monthly"
	}
	return "unknown"
}

// ParseInterestMethod reads "annual" or "monthly".
func ParseInterestMethod(field, s string) (InterestMethod, error) {
	switch s {
	case "annual":
		return Annual, nil
	case "monthly":
		return Monthly, nil
	}
	return 0, record.Invalid(field, "interest_method", "method %q is not one of annual, monthly", s)
}

// PartyRates are the rates of one insurance type for the employer (单位) and the individual (个人).
type PartyRates struct {
	Employer, Individual Rate
}

// RetirementRule is one category's rule under the 2025 retirement-age reform: people born from StartBirth on
// retire one month later for every BirthMonthsPerDelayMonth months of birth after it, up to MaxDelayMonths;
// people born before retire at OriginalAge.
type RetirementRule struct {
	StartBirth               record.Period
	OriginalAge              int
	MaxDelayMonths           int
	BirthMonthsPerDelayMonth int
}

// Insurance type indexes, in the order of record.InsuranceTypes.
const (
	tPension = iota
	tMedical
	tUnemployment
	tWorkInjury
	tMaternity
	numTypes
)

// typeIndex returns the index of an insurance type, or -1.
func typeIndex(t string) int {
	switch t {
	case record.Pension:
		return tPension
	case record.Medical:
		return tMedical
	case record.Unemployment:
		return tUnemployment
	case record.WorkInjury:
		return tWorkInjury
	case record.Maternity:
		return tMaternity
	}
	return -1
}

type ratioFrom struct {
	from  record.Period
	ratio Rate
}

type yearRate struct {
	year int
	rate Rate
}

// resolved is a complete set's rules, typed and precomputed for the calculations.
type resolved struct {
	rounding       Rounding
	floor, ceiling record.Fen
	averageMonthly record.Fen // 0 when the set states no average wage
	rates          [numTypes]PartyRates
	injury         [9]Rate
	injuryOK       [9]bool
	creditRatio    []ratioFrom // by from, ascending
	crediting      []yearRate  // by year, ascending
	method         InterestMethod
	unpublished    string
	linearAge      bool
	formula        string
	coefficient    Rate
	payoutLo       int
	payout         []int
	retire         map[string]RetirementRule
	minMonths      int
	minFrom        int
	minStep        int
	minMax         int
	lateFee        Rate
	averageWages   map[int]record.Fen
	benefitWages   map[int]record.Fen
}

// resolve checks that the set is complete and consistent and computes its typed rules.
func (s *Set) resolve() error {
	d := &s.d
	if err := d.validate(); err != nil {
		return err
	}
	if err := d.validateComplete(); err != nil {
		return err
	}
	r := &resolved{}
	r.rounding, _ = parseRounding(*d.rounding)
	b := &d.base
	unit, mode := int64(100), HalfUp
	switch *b.round {
	case "yuan_truncate":
		mode = Truncate
	case "yuan_up":
		mode = roundUp
	case "fen_half_up":
		unit = 1
	case "fen_truncate":
		unit, mode = 1, Truncate
	case "fen_up":
		unit, mode = 1, roundUp
	}
	derive := func(pct Rate) record.Fen {
		if b.averageAnnual != nil {
			return record.Fen(mulDiv(int64(*b.averageAnnual), uint64(pct), uint64(12*int64(RateScale)*unit), mode) * unit)
		}
		return record.Fen(mulDiv(int64(*b.averageMonthly), uint64(pct), uint64(int64(RateScale)*unit), mode) * unit)
	}
	if b.floor != nil {
		r.floor = *b.floor
	} else {
		r.floor = derive(*b.floorPercent)
	}
	if b.ceiling != nil {
		r.ceiling = *b.ceiling
	} else {
		r.ceiling = derive(*b.ceilingPercent)
	}
	if r.floor > r.ceiling {
		return record.Invalid("contribution_base.floor", "floor_not_above_ceiling", "the floor in force (%s) is above the ceiling in force (%s)", r.floor, r.ceiling)
	}
	switch {
	case b.averageAnnual != nil:
		r.averageMonthly = record.Fen(roundPos(uint64(*b.averageAnnual), 12, HalfUp))
	case b.averageMonthly != nil:
		r.averageMonthly = *b.averageMonthly
	}
	for i, typ := range record.InsuranceTypes {
		p := d.rates[typ]
		r.rates[i] = PartyRates{Employer: *p.employer, Individual: *p.individual}
	}
	for c, rate := range d.injuryClasses {
		r.injury[c], r.injuryOK[c] = rate, true
	}
	for _, p := range sortedKeys(d.account.creditRatio) {
		r.creditRatio = append(r.creditRatio, ratioFrom{p, d.account.creditRatio[p]})
	}
	for _, y := range sortedKeys(d.account.creditingRates) {
		r.crediting = append(r.crediting, yearRate{y, d.account.creditingRates[y]})
	}
	r.method, _ = ParseInterestMethod("", *d.account.interestMethod)
	r.unpublished = *d.account.unpublishedRate
	r.linearAge = *d.pension.ageMonths == "linear"
	r.formula = *d.pension.formula
	if d.pension.coefficient != nil {
		r.coefficient = *d.pension.coefficient
	}
	ages := sortedKeys(d.pension.payout)
	r.payoutLo = ages[0]
	for _, a := range ages {
		r.payout = append(r.payout, d.pension.payout[a])
	}
	r.retire = make(map[string]RetirementRule, len(RetirementCategories))
	for _, cat := range RetirementCategories {
		x := d.retirement[cat]
		r.retire[cat] = RetirementRule{StartBirth: *x.startBirth, OriginalAge: *x.originalAge, MaxDelayMonths: *x.maxDelay, BirthMonthsPerDelayMonth: *x.perMonths}
	}
	mc := d.minContribution
	r.minMonths, r.minFrom, r.minStep, r.minMax = *mc.months, *mc.fromYear, *mc.perYear, *mc.max
	r.lateFee = *d.lateFeeDaily
	r.averageWages, r.benefitWages = d.averageWages, d.benefitWages
	s.res = r
	return nil
}

func (s *Set) r() *resolved {
	if s.res == nil {
		panic("rules: rule set " + s.version + " is an override, not a complete set; take the set in force from Book.At")
	}
	return s.res
}

// Rounding returns how amounts are rounded to the fen.
func (s *Set) Rounding() Rounding { return s.r().rounding }

// Floor returns the contribution base floor (缴费基数下限).
func (s *Set) Floor() record.Fen { return s.r().floor }

// Ceiling returns the contribution base ceiling (缴费基数上限).
func (s *Set) Ceiling() record.Fen { return s.r().ceiling }

// AverageMonthlyWage returns the set's average monthly wage (社平工资, an annual figure ÷ 12 rounded half-up to
// the fen), or 0 when the set states floor and ceiling only.
func (s *Set) AverageMonthlyWage() record.Fen { return s.r().averageMonthly }

// Rates returns the rates of an insurance type; ok is false for an unknown type.
func (s *Set) Rates(typ string) (r PartyRates, ok bool) {
	i := typeIndex(typ)
	if i < 0 {
		return PartyRates{}, false
	}
	return s.r().rates[i], true
}

// IndustryRate returns the employer's work-injury rate for an industry class (1–8), if the set states one.
func (s *Set) IndustryRate(class int) (Rate, bool) {
	r := s.r()
	if class < 1 || class > 8 || !r.injuryOK[class] {
		return 0, false
	}
	return r.injury[class], true
}

// CreditRatio returns the share of the base credited to the personal account for a month (11 % 1998–2005,
// 8 % from 2006 in the default): the ratio of the latest era starting on or before p, 0 before the first era.
func (s *Set) CreditRatio(p record.Period) Rate {
	cr := s.r().creditRatio
	for i := len(cr) - 1; i >= 0; i-- {
		if cr[i].from <= p {
			return cr[i].ratio
		}
	}
	return 0
}

// CreditingRate returns the crediting rate (记账利率) for a year. When the year's rate is not in the set, the
// set's unpublished_rate rule decides: "previous" lends the latest earlier year's rate, "nearest" that or else the
// earliest later year's, both marked provisional; "error" (or nothing to lend) gives ok false.
func (s *Set) CreditingRate(year int) (rate Rate, provisional, ok bool) {
	r := s.r()
	cr := r.crediting
	i := sort.Search(len(cr), func(i int) bool { return cr[i].year >= year })
	if i < len(cr) && cr[i].year == year {
		return cr[i].rate, false, true
	}
	switch r.unpublished {
	case "previous":
		if i > 0 {
			return cr[i-1].rate, true, true
		}
	case "nearest":
		if i > 0 {
			return cr[i-1].rate, true, true
		}
		if i < len(cr) {
			return cr[i].rate, true, true
		}
	}
	return 0, false, false
}

// InterestMethod returns the method the set credits interest by.
func (s *Set) InterestMethod() InterestMethod { return s.r().method }

// LateFeeDailyRate returns the late fee per day of arrears (滞纳金, 0.05 % in the default).
func (s *Set) LateFeeDailyRate() Rate { return s.r().lateFee }

// IndexWage returns the average monthly wage that a month's base of the given year is divided by for the
// contribution index: average_wages[year] when stated, else the set's own average monthly wage.
func (s *Set) IndexWage(year int) (record.Fen, bool) {
	r := s.r()
	if w, ok := r.averageWages[year]; ok {
		return w, true
	}
	return r.averageMonthly, r.averageMonthly > 0
}

// BenefitWage returns the average monthly wage used for benefits (计发基数 C) for retirements in a year.
func (s *Set) BenefitWage(year int) (record.Fen, bool) {
	w, ok := s.r().benefitWages[year]
	return w, ok
}

// Transitional returns the transitional pension formula's name and coefficient.
func (s *Set) Transitional() (formula string, coefficient Rate) {
	r := s.r()
	return r.formula, r.coefficient
}

// RetirementRule returns a category's retirement-age rule.
func (s *Set) RetirementRule(category string) (RetirementRule, bool) {
	r, ok := s.r().retire[category]
	return r, ok
}

// MinContributionMonths returns the minimum months of contribution for a pension when retiring in a year
// (180 until 2029, then 6 more a year from 2030, 240 from 2039 in the default).
func (s *Set) MinContributionMonths(year int) int {
	r := s.r()
	if year < r.minFrom {
		return r.minMonths
	}
	return min(r.minMax, r.minMonths+(year-r.minFrom+1)*r.minStep)
}
