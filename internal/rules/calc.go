package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"sirec/internal/record"
)

// Calculators are the names Calc accepts.
var Calculators = []string{"account", "contribution", "pension", "retirement"}

// latest is the period used when a calculator's input names none: the rules in force last.
var latest = record.MakePeriod(2200, 12)

// Calc runs the calculator name on a JSON object and returns its JSON result (the CLI's `sirec calc NAME` and
// the API's POST /api/v1/calc/{name} both call it). Money in and out is a string of yuan with two decimals;
// rates are strings ("2.62%" or "0.0262"). Unknown fields are refused. Invalid input is a *record.Error naming the
// JSON field; an unknown calculator is a not_found error. The output's fields come in a fixed order.
//
//	pension:      {avg_wage, index, months, deemed_months?, account_balance, retire_age, retire_age_months?, region?, period?}
//	              → {payout_months, basic_pension, account_pension, transitional_pension, total, rule_set}
//	account:      {opening_balance, year | rate, credits[12], method?, region?}
//	              → {closing_balance, interest, credits_total, rate, provisional, method, rule_set}
//	contribution: {wage, type?, industry_class?, region?, period} or {wage, type?, floor, ceiling, employer_rate, individual_rate}
//	              → {type, base, employer, individual, floor, ceiling, employer_rate, individual_rate, rule_set}
//	retirement:   {birth, category, contribution_months?, region?}
//	              → {retire, age_years, age_months, delay_months, min_contribution_months, eligible?, rule_set}
//
// region defaults to "000000" (national); period (YYYYMM) picks the rules in force then, by default the latest.
func Calc(b *Book, name string, input []byte) ([]byte, error) {
	var out any
	var err error
	switch name {
	case "pension":
		out, err = calcPension(b, input)
	case "account":
		out, err = calcAccount(b, input)
	case "contribution":
		out, err = calcContribution(b, input)
	case "retirement":
		out, err = calcRetirement(b, input)
	default:
		return nil, record.Errorf(record.ENotFound, "no calculator named %q; there are %s", name, strings.Join(Calculators, ", "))
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// decodeStrict reads exactly one JSON object into v, refusing unknown fields.
func decodeStrict(input []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return record.Invalid("", "json_syntax", "unexpected data after the JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return record.Invalid("", "required", "the input is empty; send a JSON object")
	case errors.As(err, &se):
		return record.Invalid("", "json_syntax", "the input is not valid JSON (at byte %d): %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field == "" {
			return record.Invalid("", "json_type", "the input must be a JSON object")
		}
		return record.Invalid(te.Field, "json_type", "%s must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	msg := err.Error()
	if i := strings.Index(msg, "unknown field "); i >= 0 {
		name := strings.Trim(msg[i+len("unknown field "):], `"`)
		return record.Invalid(name, "unknown_field", "%s is not an input of this calculator", name)
	}
	return record.Invalid("", "json_syntax", "%s", msg)
}

func jsonKind(k string) string {
	switch k {
	case "string", "ptr":
		return "a string"
	case "int", "int64":
		return "a whole number"
	case "slice":
		return "an array"
	}
	return "of another type"
}

func needString(field string, v *string) (string, error) {
	if v == nil {
		return "", record.Invalid(field, "required", "%s is required", field)
	}
	return *v, nil
}

func needMoney(field string, v *string) (record.Fen, error) {
	s, err := needString(field, v)
	if err != nil {
		return 0, err
	}
	f, err := record.ParseYuan(field, s)
	if err != nil {
		return 0, err
	}
	if f < 0 || f > maxBalance {
		return 0, record.Invalid(field, "money_range", "%s must be 0 to %s yuan", field, maxBalance)
	}
	return f, nil
}

func needInt(field string, v *int, lo, hi int) (int, error) {
	if v == nil {
		return 0, record.Invalid(field, "required", "%s is required", field)
	}
	return optInt(field, v, lo, hi)
}

func optInt(field string, v *int, lo, hi int) (int, error) {
	if v == nil {
		return 0, nil
	}
	if *v < lo || *v > hi {
		return 0, record.Invalid(field, "number_range", "%s must be %d to %d", field, lo, hi)
	}
	return *v, nil
}

// rulesFor returns the set in force for an optional region and period (YYYYMM or YYYY-MM).
func rulesFor(b *Book, region, period *string, def record.Period) (*Set, error) {
	reg := NationalRegion
	if region != nil {
		if err := record.ValidateRegion("region", *region); err != nil {
			return nil, err
		}
		reg = *region
	}
	p := def
	if period != nil {
		var err error
		if p, err = parsePeriodText("period", *period); err != nil {
			return nil, record.Invalid("period", "period_format", "%q is not a period written YYYYMM, e.g. \"202501\"", *period)
		}
	}
	return b.At(reg, p), nil
}

type pensionIn struct {
	AvgWage         *string `json:"avg_wage"`
	Index           *string `json:"index"`
	Months          *int    `json:"months"`
	DeemedMonths    *int    `json:"deemed_months"`
	AccountBalance  *string `json:"account_balance"`
	RetireAge       *int    `json:"retire_age"`
	RetireAgeMonths *int    `json:"retire_age_months"`
	Region          *string `json:"region"`
	Period          *string `json:"period"`
}

type pensionOut struct {
	PayoutMonths        int        `json:"payout_months"`
	BasicPension        record.Fen `json:"basic_pension"`
	AccountPension      record.Fen `json:"account_pension"`
	TransitionalPension record.Fen `json:"transitional_pension"`
	Total               record.Fen `json:"total"`
	RuleSet             string     `json:"rule_set"`
}

func calcPension(b *Book, input []byte) (any, error) {
	var in pensionIn
	if err := decodeStrict(input, &in); err != nil {
		return nil, err
	}
	var p PensionInput
	var err error
	if p.BenefitWage, err = needMoney("avg_wage", in.AvgWage); err != nil {
		return nil, err
	}
	s, err := needString("index", in.Index)
	if err != nil {
		return nil, err
	}
	if p.Index, err = ParseDecimal("index", s); err != nil {
		return nil, err
	}
	if p.Months, err = needInt("months", in.Months, 0, 1200); err != nil {
		return nil, err
	}
	if p.DeemedMonths, err = optInt("deemed_months", in.DeemedMonths, 0, 1200); err != nil {
		return nil, err
	}
	if p.Balance, err = needMoney("account_balance", in.AccountBalance); err != nil {
		return nil, err
	}
	if p.Age, err = needInt("retire_age", in.RetireAge, 16, 100); err != nil {
		return nil, err
	}
	if p.AgeMonths, err = optInt("retire_age_months", in.RetireAgeMonths, 0, 11); err != nil {
		return nil, err
	}
	set, err := rulesFor(b, in.Region, in.Period, latest)
	if err != nil {
		return nil, err
	}
	r, err := set.Pension(p)
	if err != nil {
		return nil, err
	}
	return pensionOut{
		PayoutMonths:        r.PayoutMonths,
		BasicPension:        r.Basic,
		AccountPension:      r.Account,
		TransitionalPension: r.Transitional,
		Total:               r.Total,
		RuleSet:             set.Version(),
	}, nil
}

type accountIn struct {
	OpeningBalance *string  `json:"opening_balance"`
	Year           *int     `json:"year"`
	Rate           *string  `json:"rate"`
	Credits        []string `json:"credits"`
	Method         *string  `json:"method"`
	Region         *string  `json:"region"`
}

type accountOut struct {
	ClosingBalance record.Fen `json:"closing_balance"`
	Interest       record.Fen `json:"interest"`
	CreditsTotal   record.Fen `json:"credits_total"`
	Rate           Rate       `json:"rate"`
	Provisional    bool       `json:"provisional"`
	Method         string     `json:"method"`
	RuleSet        string     `json:"rule_set"`
}

func calcAccount(b *Book, input []byte) (any, error) {
	var in accountIn
	if err := decodeStrict(input, &in); err != nil {
		return nil, err
	}
	opening, err := needMoney("opening_balance", in.OpeningBalance)
	if err != nil {
		return nil, err
	}
	if len(in.Credits) != 12 {
		return nil, record.Invalid("credits", "credits_count", "credits must list exactly 12 amounts, month 1 to 12; got %d", len(in.Credits))
	}
	var credits [12]record.Fen
	var total record.Fen
	for i, c := range in.Credits {
		f, err := needMoney("credits["+itoa(i)+"]", &c)
		if err != nil {
			return nil, err
		}
		credits[i] = f
		total += f
	}
	var set *Set
	var rate Rate
	var provisional bool
	switch {
	case in.Year != nil && in.Rate != nil:
		return nil, record.Invalid("rate", "one_of", "give year or rate, not both")
	case in.Year != nil:
		y, err := optInt("year", in.Year, 1950, 2200)
		if err != nil {
			return nil, err
		}
		if set, err = rulesFor(b, in.Region, nil, record.MakePeriod(y, 12)); err != nil {
			return nil, err
		}
		var ok bool
		if rate, provisional, ok = set.CreditingRate(y); !ok {
			return nil, record.Invalid("year", "crediting_rate_missing", "no crediting rate for %d in the rules (version %s); give rate", y, set.Version())
		}
	case in.Rate != nil:
		if rate, err = ParseRate("rate", *in.Rate); err != nil {
			return nil, err
		}
		if rate > RateScale {
			return nil, record.Invalid("rate", "rate_range", "the crediting rate must be at most 100%%")
		}
		if set, err = rulesFor(b, in.Region, nil, latest); err != nil {
			return nil, err
		}
	default:
		return nil, record.Invalid("year", "required", "give year (for its published crediting rate) or rate")
	}
	method := set.InterestMethod()
	if in.Method != nil {
		if method, err = ParseInterestMethod("method", *in.Method); err != nil {
			return nil, err
		}
	}
	closing := YearEnd(opening, credits, rate, method, set.Rounding())
	return accountOut{
		ClosingBalance: closing,
		Interest:       closing - opening - total,
		CreditsTotal:   total,
		Rate:           rate,
		Provisional:    provisional,
		Method:         method.String(),
		RuleSet:        set.Version(),
	}, nil
}

type contributionIn struct {
	Wage           *string `json:"wage"`
	Type           *string `json:"type"`
	IndustryClass  *int    `json:"industry_class"`
	Region         *string `json:"region"`
	Period         *string `json:"period"`
	Floor          *string `json:"floor"`
	Ceiling        *string `json:"ceiling"`
	EmployerRate   *string `json:"employer_rate"`
	IndividualRate *string `json:"individual_rate"`
}

type contributionOut struct {
	Type           string     `json:"type"`
	Base           record.Fen `json:"base"`
	Employer       record.Fen `json:"employer"`
	Individual     record.Fen `json:"individual"`
	Floor          record.Fen `json:"floor"`
	Ceiling        record.Fen `json:"ceiling"`
	EmployerRate   Rate       `json:"employer_rate"`
	IndividualRate Rate       `json:"individual_rate"`
	RuleSet        string     `json:"rule_set"`
}

func calcContribution(b *Book, input []byte) (any, error) {
	var in contributionIn
	if err := decodeStrict(input, &in); err != nil {
		return nil, err
	}
	wage, err := needMoney("wage", in.Wage)
	if err != nil {
		return nil, err
	}
	typ := record.Pension
	if in.Type != nil {
		if err := record.ValidateInsuranceType("type", *in.Type); err != nil {
			return nil, err
		}
		typ = *in.Type
	}
	class, err := optInt("industry_class", in.IndustryClass, 1, 8)
	if err != nil {
		return nil, err
	}
	out := contributionOut{Type: typ}
	explicit := in.Floor != nil || in.Ceiling != nil || in.EmployerRate != nil || in.IndividualRate != nil
	var set *Set
	if explicit {
		if in.Region != nil || in.Period != nil || in.IndustryClass != nil {
			return nil, record.Invalid("region", "one_of", "give region and period, or floor, ceiling and rates, not both")
		}
		if out.Floor, err = needMoney("floor", in.Floor); err != nil {
			return nil, err
		}
		if out.Ceiling, err = needMoney("ceiling", in.Ceiling); err != nil {
			return nil, err
		}
		if out.Floor > out.Ceiling {
			return nil, record.Invalid("floor", "floor_not_above_ceiling", "floor %s is above ceiling %s", out.Floor, out.Ceiling)
		}
		s, err := needString("employer_rate", in.EmployerRate)
		if err != nil {
			return nil, err
		}
		if out.EmployerRate, err = ParseRate("employer_rate", s); err != nil {
			return nil, err
		}
		if s, err = needString("individual_rate", in.IndividualRate); err != nil {
			return nil, err
		}
		if out.IndividualRate, err = ParseRate("individual_rate", s); err != nil {
			return nil, err
		}
		for _, r := range []struct {
			f string
			v Rate
		}{{"employer_rate", out.EmployerRate}, {"individual_rate", out.IndividualRate}} {
			if r.v > RateScale {
				return nil, record.Invalid(r.f, "rate_range", "%s must be at most 100%%", r.f)
			}
		}
		set = b.At(NationalRegion, latest)
	} else {
		if in.Period == nil {
			return nil, record.Invalid("period", "required", "give period (YYYYMM) and optionally region, or floor, ceiling, employer_rate and individual_rate")
		}
		if set, err = rulesFor(b, in.Region, in.Period, 0); err != nil {
			return nil, err
		}
		out.Floor, out.Ceiling = set.Floor(), set.Ceiling()
		pr := set.partyRates(typeIndex(typ), class)
		out.EmployerRate, out.IndividualRate = pr.Employer, pr.Individual
	}
	a := Contribute(Clamp(wage, out.Floor, out.Ceiling), PartyRates{out.EmployerRate, out.IndividualRate}, set.Rounding())
	out.Base, out.Employer, out.Individual = a.Base, a.Employer, a.Individual
	if explicit {
		out.RuleSet = "explicit"
	} else {
		out.RuleSet = set.Version()
	}
	return out, nil
}

type retirementIn struct {
	Birth              *string `json:"birth"`
	Category           *string `json:"category"`
	ContributionMonths *int    `json:"contribution_months"`
	Region             *string `json:"region"`
}

type retirementOut struct {
	Retire                string `json:"retire"`
	AgeYears              int    `json:"age_years"`
	AgeMonths             int    `json:"age_months"`
	DelayMonths           int    `json:"delay_months"`
	MinContributionMonths int    `json:"min_contribution_months"`
	Eligible              *bool  `json:"eligible,omitempty"`
	RuleSet               string `json:"rule_set"`
}

func calcRetirement(b *Book, input []byte) (any, error) {
	var in retirementIn
	if err := decodeStrict(input, &in); err != nil {
		return nil, err
	}
	s, err := needString("birth", in.Birth)
	if err != nil {
		return nil, err
	}
	if len(s) != 7 || s[4] != '-' {
		return nil, record.Invalid("birth", "month_format", "%q is not a month written YYYY-MM, e.g. \"1965-01\"", s)
	}
	birth, err := parsePeriodText("birth", s)
	if err != nil {
		return nil, err
	}
	cat, err := needString("category", in.Category)
	if err != nil {
		return nil, err
	}
	months, err := optInt("contribution_months", in.ContributionMonths, 0, 1200)
	if err != nil {
		return nil, err
	}
	set, err := rulesFor(b, in.Region, nil, latest)
	if err != nil {
		return nil, err
	}
	r, err := set.RetirementFor(birth, cat)
	if err != nil {
		return nil, err
	}
	out := retirementOut{
		Retire:                formatMonth(r.Retire),
		AgeYears:              r.AgeYears,
		AgeMonths:             r.AgeMonths,
		DelayMonths:           r.DelayMonths,
		MinContributionMonths: r.MinContributionMonths,
		RuleSet:               set.Version(),
	}
	if in.ContributionMonths != nil {
		ok := months >= r.MinContributionMonths
		out.Eligible = &ok
	}
	return out, nil
}
