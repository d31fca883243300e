package rules

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"

	"sirec/internal/record"
)

func itoa(i int) string { return strconv.Itoa(i) }

// PaidMonth is one month paid of one insurance type.
type PaidMonth struct {
	Type   string
	Period record.Period
}

// Span is a deemed contribution span (视同缴费), From to To inclusive, of an insurance type ("" is pension).
type Span struct {
	Type     string
	From, To record.Period
}

// MonthCounts counts months per insurance type, in the order of record.InsuranceTypes.
type MonthCounts [numTypes]int

// Of returns the count for an insurance type (0 for an unknown one).
func (c MonthCounts) Of(typ string) int {
	if i := typeIndex(typ); i >= 0 {
		return c[i]
	}
	return 0
}

// Months are a person's contribution months (缴费年限 in months): Paid counts each month paid once per type
// however often it was paid (in two regions, by two employers); Deemed counts deemed months that are not also
// paid months, so Paid + Deemed never counts a month twice.
type Months struct {
	Paid, Deemed MonthCounts
}

// Total returns paid plus deemed months of a type.
func (m Months) Total(typ string) int { return m.Paid.Of(typ) + m.Deemed.Of(typ) }

// CountMonths counts contribution months per insurance type from the months paid and the deemed spans.
func CountMonths(paid []PaidMonth, deemed []Span) (Months, error) {
	var ms monthScratch
	lo, hi := 1<<30, -1
	for i, p := range paid {
		if err := p.Period.Validate("paid[" + itoa(i) + "].period"); err != nil {
			return Months{}, err
		}
		if typeIndex(p.Type) < 0 {
			return Months{}, record.ValidateInsuranceType("paid["+itoa(i)+"].type", p.Type)
		}
		lo, hi = min(lo, p.Period.Index()), max(hi, p.Period.Index())
	}
	for i, s := range deemed {
		if err := validateSpan(s); err != nil {
			return Months{}, record.WithField("deemed["+itoa(i)+"]", err)
		}
		lo, hi = min(lo, s.From.Index()), max(hi, s.To.Index())
	}
	if hi < 0 {
		return Months{}, nil
	}
	ms.reset(lo, hi)
	for _, p := range paid {
		ms.markPaid(typeIndex(p.Type), p.Period.Index())
	}
	for _, s := range deemed {
		ms.markDeemed(spanType(s), s.From.Index(), s.To.Index())
	}
	return ms.count(), nil
}

func spanType(s Span) int {
	if s.Type == "" {
		return tPension
	}
	return typeIndex(s.Type)
}

// validateSpan checks a deemed span; the error's field is relative to the span ("to"), for record.WithField.
func validateSpan(s Span) error {
	if s.Type != "" && typeIndex(s.Type) < 0 {
		return record.ValidateInsuranceType("type", s.Type)
	}
	if err := s.From.Validate("from"); err != nil {
		return err
	}
	if err := s.To.Validate("to"); err != nil {
		return err
	}
	if s.To < s.From {
		return record.Invalid("to", "period_order", "to (%s) is before from (%s)", s.To, s.From)
	}
	return nil
}

// monthScratch marks months paid and deemed per type in bitsets over a range of month indexes.
type monthScratch struct {
	lo, words int
	paid      [numTypes][]uint64
	deemed    [numTypes][]uint64
}

func (ms *monthScratch) reset(lo, hi int) {
	ms.lo = lo
	ms.words = (hi-lo)/64 + 1
	for t := range numTypes {
		ms.paid[t] = resizeBits(ms.paid[t], ms.words)
		ms.deemed[t] = resizeBits(ms.deemed[t], ms.words)
	}
}

func resizeBits(s []uint64, n int) []uint64 {
	if cap(s) < n {
		return make([]uint64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func (ms *monthScratch) markPaid(t, idx int) {
	i := idx - ms.lo
	ms.paid[t][i>>6] |= 1 << (i & 63)
}

// isPaid reports whether a month was already marked paid.
func (ms *monthScratch) isPaid(t, idx int) bool {
	i := idx - ms.lo
	return ms.paid[t][i>>6]&(1<<(i&63)) != 0
}

func (ms *monthScratch) markDeemed(t, from, to int) {
	for i := from - ms.lo; i <= to-ms.lo; i++ {
		ms.deemed[t][i>>6] |= 1 << (i & 63)
	}
}

func (ms *monthScratch) count() Months {
	var m Months
	for t := range numTypes {
		for w := 0; w < ms.words; w++ {
			p, d := ms.paid[t][w], ms.deemed[t][w]
			m.Paid[t] += bits.OnesCount64(p)
			m.Deemed[t] += bits.OnesCount64(d &^ p)
		}
	}
	return m
}

// IndexMonth is one month's contribution base and the average monthly wage it is indexed against.
type IndexMonth struct {
	Base, Wage record.Fen
}

// AverageIndex returns the average contribution index (平均缴费指数): the mean over the months of base ÷ wage,
// exact. It is nil for no months; a month with a wage of 0 or less is an error.
func AverageIndex(months []IndexMonth) (*big.Rat, error) {
	var acc indexAcc
	for i, m := range months {
		if m.Wage <= 0 {
			return nil, record.Invalid("months["+itoa(i)+"].wage", "money_positive", "the average wage must be more than 0")
		}
		acc.add(m.Base, m.Wage)
	}
	return acc.rat(nil), nil
}

// indexAcc sums bases per distinct wage, so that the exact mean needs one rational addition per wage (about
// one a year) rather than per month.
type indexAcc struct {
	groups []indexGroup
	months int
	tmp    big.Rat
}

type indexGroup struct{ wage, sum int64 }

func (a *indexAcc) reset() { a.groups, a.months = a.groups[:0], 0 }

func (a *indexAcc) add(base, wage record.Fen) {
	a.months++
	for i := len(a.groups) - 1; i >= 0; i-- {
		if a.groups[i].wage == int64(wage) {
			a.groups[i].sum += int64(base)
			return
		}
	}
	a.groups = append(a.groups, indexGroup{int64(wage), int64(base)})
}

// rat returns the mean into dst (allocated when nil), or nil for no months. The sum is kept as a reduced
// int64 fraction while it fits, so that big.Rat normalises once; otherwise it is summed in big.Rat.
func (a *indexAcc) rat(dst *big.Rat) *big.Rat {
	if a.months == 0 {
		return nil
	}
	if dst == nil {
		dst = new(big.Rat)
	}
	if num, den, ok := a.small(); ok {
		return dst.SetFrac64(num, den)
	}
	dst.SetInt64(0)
	for _, g := range a.groups {
		dst.Add(dst, a.tmp.SetFrac64(g.sum, g.wage))
	}
	return dst.Quo(dst, a.tmp.SetInt64(int64(a.months)))
}

// small returns the mean as num/den when every step fits in int64.
func (a *indexAcc) small() (num, den int64, ok bool) {
	num, den = 0, 1
	for _, g := range a.groups {
		// num/den + sum/wage = (num × wage + sum × den) / (den × wage)
		x, ok1 := mulInt(num, g.wage)
		y, ok2 := mulInt(g.sum, den)
		d, ok3 := mulInt(den, g.wage)
		if !ok1 || !ok2 || !ok3 || x > math.MaxInt64-y {
			return 0, 0, false
		}
		num, den = x+y, d
		if k := gcd(num, den); k > 1 {
			num, den = num/k, den/k
		}
	}
	d, okM := mulInt(den, int64(a.months))
	if !okM {
		return 0, 0, false
	}
	return num, d, true
}

func mulInt(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	return int64(lo), hi == 0 && lo <= math.MaxInt64
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
