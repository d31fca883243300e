package rules

import (
	"math/big"

	"sirec/internal/record"
)

// PayoutMonths returns the payout months (计发月数) for a retirement age of years and months (0–11). With
// age_months = "whole_age" the months are ignored; with "linear" the result is interpolated between the age's
// entry and the next age's, entry(a) + (entry(a+1) − entry(a)) × months / 12, rounded half-up to a whole month
// (60 years 1 month: 139 − 7/12 = 138.42 → 138).
func (s *Set) PayoutMonths(years, months int) (int, error) {
	r := s.r()
	hi := r.payoutLo + len(r.payout) - 1
	if years < r.payoutLo || years > hi {
		return 0, record.Invalid("retire_age", "payout_age_range", "the payout table covers ages %d to %d, not %d", r.payoutLo, hi, years)
	}
	if months < 0 || months > 11 {
		return 0, record.Invalid("retire_age_months", "age_months_range", "months of age must be 0 to 11, not %d", months)
	}
	e := r.payout[years-r.payoutLo]
	if !r.linearAge || months == 0 {
		return e, nil
	}
	if years == hi {
		return 0, record.Invalid("retire_age_months", "payout_age_range", "the payout table ends at age %d; %d years %d months cannot be interpolated", hi, years, months)
	}
	next := r.payout[years-r.payoutLo+1]
	twelfths := e*12 + (next-e)*months
	return int(roundPos(uint64(twelfths), 12, HalfUp)), nil
}

// PensionInput is what a pension at retirement is computed from.
type PensionInput struct {
	BenefitWage  record.Fen // C: the average monthly wage used for benefits (计发基数)
	Index        *big.Rat   // I: the average contribution index (平均缴费指数), unrounded
	Months       int        // months paid
	DeemedMonths int        // deemed months (视同缴费), not overlapping months paid
	Balance      record.Fen // personal account balance at retirement
	Age          int        // retirement age, whole years
	AgeMonths    int        // and months, 0–11
}

// Pension is a monthly pension at retirement, each component rounded to the fen and then added.
type Pension struct {
	PayoutMonths int
	Basic        record.Fen // 基础养老金 = C × (1 + I) / 2 × N × 1 %, N = (months + deemed months) / 12 unrounded
	Account      record.Fen // 个人账户养老金 = balance ÷ payout months
	Transitional record.Fen // 过渡性养老金, by the set's formula over deemed years
	Total        record.Fen
}

// Pension computes the pension at retirement under the set (State Council 2005 No. 38): nothing is rounded
// before the components, which are rounded by the set's rule and added.
func (s *Set) Pension(in PensionInput) (Pension, error) {
	switch {
	case in.BenefitWage < 0:
		return Pension{}, record.Invalid("avg_wage", "money_non_negative", "the average wage cannot be negative")
	case in.Index == nil || in.Index.Sign() < 0:
		return Pension{}, record.Invalid("index", "index_non_negative", "the contribution index is required and cannot be negative")
	case in.Months < 0 || in.Months > 1200:
		return Pension{}, record.Invalid("months", "months_range", "months must be 0 to 1200")
	case in.DeemedMonths < 0 || in.DeemedMonths > 1200:
		return Pension{}, record.Invalid("deemed_months", "months_range", "deemed months must be 0 to 1200")
	case in.Balance < 0:
		return Pension{}, record.Invalid("account_balance", "money_non_negative", "the account balance cannot be negative")
	}
	pm, err := s.PayoutMonths(in.Age, in.AgeMonths)
	if err != nil {
		return Pension{}, err
	}
	mode := s.r().rounding
	c := new(big.Rat).SetInt64(int64(in.BenefitWage))
	onePlusI := new(big.Rat).Add(big.NewRat(1, 1), in.Index)

	// C × (1 + I) / 2 × (months / 12) × 1 / 100 = C × (1 + I) × months / 2400
	basic := new(big.Rat).Mul(c, onePlusI)
	basic.Mul(basic, big.NewRat(int64(in.Months+in.DeemedMonths), 2400))

	account := big.NewRat(int64(in.Balance), int64(pm))

	trans := new(big.Rat)
	formula, coef := s.Transitional()
	deemedYears := big.NewRat(int64(in.DeemedMonths), 12)
	switch formula {
	case "c_i_deemed": // coefficient × C × I × deemed years
		trans.Mul(coef.Rat(), c).Mul(trans, in.Index).Mul(trans, deemedYears)
	case "c_1pi_half_deemed": // coefficient × C × (1 + I) / 2 × deemed years
		trans.Mul(coef.Rat(), c).Mul(trans, onePlusI).Mul(trans, deemedYears).Quo(trans, big.NewRat(2, 1))
	}
	p := Pension{
		PayoutMonths: pm,
		Basic:        RoundRat(basic, mode),
		Account:      RoundRat(account, mode),
		Transitional: RoundRat(trans, mode),
	}
	p.Total = p.Basic + p.Account + p.Transitional
	return p, nil
}
