package record

import (
	"encoding/json"
	"strconv"
)

// Period is a calendar month written YYYYMM, the unit of contributions (I4): 202401 is January 2024.
type Period int32

// ParsePeriod parses "YYYYMM". field names the input for the error.
func ParsePeriod(field, s string) (Period, error) {
	if len(s) != 6 || !digits(s) {
		return 0, Invalid(field, "period_format", "%q is not a period written YYYYMM, e.g. \"202401\"", s)
	}
	v, _ := strconv.Atoi(s)
	p := Period(v)
	if err := p.Validate(field); err != nil {
		return 0, err
	}
	return p, nil
}

// Validate checks that the month is 01–12 and the year within 1950–2200.
func (p Period) Validate(field string) error {
	y, m := p.Year(), p.Month()
	if m < 1 || m > 12 {
		return Invalid(field, "period_month", "period %d has month %02d; months are 01 to 12", int32(p), m)
	}
	if y < 1950 || y > 2200 {
		return Invalid(field, "period_year", "period %d has year %d outside 1950–2200", int32(p), y)
	}
	return nil
}

// MakePeriod returns the period of year y, month m (1–12).
func MakePeriod(y, m int) Period { return Period(y*100 + m) }

// Year returns the year.
func (p Period) Year() int { return int(p) / 100 }

// Month returns the month, 1–12.
func (p Period) Month() int { return int(p) % 100 }

// Index returns a month count (year*12 + month-1), so that differences are month counts.
func (p Period) Index() int { return p.Year()*12 + p.Month() - 1 }

// PeriodFromIndex is the inverse of Index.
func PeriodFromIndex(i int) Period { return MakePeriod(i/12, i%12+1) }

// AddMonths returns the period n months later (earlier when n < 0).
func (p Period) AddMonths(n int) Period { return PeriodFromIndex(p.Index() + n) }

// String formats the period as YYYYMM.
func (p Period) String() string { return strconv.Itoa(int(p)) }

// MarshalJSON writes the period as a "YYYYMM" string.
func (p Period) MarshalJSON() ([]byte, error) { return []byte(`"` + p.String() + `"`), nil }

// UnmarshalJSON reads a "YYYYMM" string.
func (p *Period) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Invalid("", "period_format", "period must be a string written YYYYMM")
	}
	v, err := ParsePeriod("", s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}
