package rules

import (
	"sirec/internal/record"
)

// MaxWage is the largest declared monthly wage the rules accept (100,000,000 yuan): a bound far above any real
// wage that keeps every product exact in 128 bits.
const MaxWage record.Fen = 100_000_000_00

// Amounts is one month's contribution of one insurance type.
type Amounts struct {
	Base       record.Fen // the declared wage clamped to the floor and ceiling (缴费基数)
	Employer   record.Fen // 单位缴费
	Individual record.Fen // 个人缴费
}

// Clamp returns wage limited to [floor, ceiling]. Clamping twice gives the same base.
func Clamp(wage, floor, ceiling record.Fen) record.Fen {
	if wage < floor {
		return floor
	}
	if wage > ceiling {
		return ceiling
	}
	return wage
}

// Base returns the contribution base for a declared monthly wage: the wage clamped to the set's floor and ceiling.
func (s *Set) Base(wage record.Fen) record.Fen {
	r := s.r()
	return Clamp(wage, r.floor, r.ceiling)
}

// Contribute computes the base and the two parties' amounts from a base, rates and rounding: each amount is
// base × rate rounded once to the fen (2,575 × 0.5 % = 12.875 → 12.88 half-up).
func Contribute(base record.Fen, rates PartyRates, m Rounding) Amounts {
	return Amounts{Base: base, Employer: ApplyRate(base, rates.Employer, m), Individual: ApplyRate(base, rates.Individual, m)}
}

// Contribution computes one month of insurance type typ on a declared wage under the set. industryClass (1–8)
// selects the employer's work-injury rate from work_injury_classes; 0 uses rates.work_injury.employer.
func (s *Set) Contribution(typ string, wage record.Fen, industryClass int) (Amounts, error) {
	i := typeIndex(typ)
	if i < 0 {
		return Amounts{}, record.ValidateInsuranceType("type", typ)
	}
	if wage < 0 || wage > MaxWage {
		return Amounts{}, record.Invalid("wage", "wage_range", "declared wage must be 0 to %s yuan", MaxWage)
	}
	r := s.r()
	return Contribute(Clamp(wage, r.floor, r.ceiling), s.partyRates(i, industryClass), r.rounding), nil
}

func (s *Set) partyRates(i, industryClass int) PartyRates {
	r := s.res
	pr := r.rates[i]
	if i == tWorkInjury && industryClass >= 1 && industryClass <= 8 && r.injuryOK[industryClass] {
		pr.Employer = r.injury[industryClass]
	}
	return pr
}

// AccountCredit returns the personal-account credit for a month's pension base: base × the credit ratio of the
// month's era, rounded to the fen.
func (s *Set) AccountCredit(p record.Period, base record.Fen) record.Fen {
	return ApplyRate(base, s.CreditRatio(p), s.r().rounding)
}

// LateFee returns the late fee (滞纳金) on arrears for a number of days: arrears × daily rate × days, rounded
// once to the fen.
func LateFee(arrears record.Fen, daily Rate, days int, m Rounding) record.Fen {
	if days <= 0 || arrears == 0 {
		return 0
	}
	return record.Fen(mulDiv(int64(arrears), uint64(daily)*uint64(days), uint64(RateScale), m))
}

// LateFee returns the late fee on arrears for a number of days under the set.
func (s *Set) LateFee(arrears record.Fen, days int) record.Fen {
	r := s.r()
	return LateFee(arrears, r.lateFee, days, r.rounding)
}
