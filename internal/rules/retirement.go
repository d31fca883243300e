package rules

import (
	"strings"

	"sirec/internal/record"
)

// Retirement is when a person reaches the statutory retirement age.
type Retirement struct {
	Retire                record.Period // the month of retirement
	AgeYears              int           // age at retirement
	AgeMonths             int           // and months
	DelayMonths           int           // months beyond the original age under the 2025 reform
	MinContributionMonths int           // minimum contribution months for a pension when retiring then
}

// RetirementFor returns the retirement month and age for a birth month and category ("male", "female_55",
// "female_50") under the 2025 reform: born before the start, the original age; from the start, one month later
// for every BirthMonthsPerDelayMonth months of birth (the first month counting as one), up to MaxDelayMonths.
// A man born 1965-01 retires 2025-02 at 60 years 1 month; one born 1976-12 retires 2039-12 at 63.
func (s *Set) RetirementFor(birth record.Period, category string) (Retirement, error) {
	if err := birth.Validate("birth"); err != nil {
		return Retirement{}, err
	}
	rule, ok := s.RetirementRule(category)
	if !ok {
		return Retirement{}, record.Invalid("category", "retirement_category", "category %q is not one of %s", category, strings.Join(RetirementCategories, ", "))
	}
	delay := 0
	if d := birth.Index() - rule.StartBirth.Index(); d >= 0 {
		delay = min(rule.MaxDelayMonths, d/rule.BirthMonthsPerDelayMonth+1)
	}
	age := rule.OriginalAge*12 + delay
	retire := birth.AddMonths(age)
	return Retirement{
		Retire:                retire,
		AgeYears:              age / 12,
		AgeMonths:             age % 12,
		DelayMonths:           delay,
		MinContributionMonths: s.MinContributionMonths(retire.Year()),
	}, nil
}

// Eligible reports whether contribution months (paid plus deemed) reach the minimum for retiring in a year.
func (s *Set) Eligible(months, retireYear int) bool {
	return months >= s.MinContributionMonths(retireYear)
}
