package rules

import (
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"sirec/internal/record"
)

// Rate is an exact decimal fraction counted in billionths (10⁻⁹): 16 % is Rate(160_000_000), the late-fee
// daily rate 0.05 % is Rate(500_000). Rates, percentages and ratios of a rule set are all Rates; they are
// written "16%" or "0.16" and never pass through a float.
type Rate int64

// RateScale is the Rate of 100 %.
const RateScale Rate = 1_000_000_000

// Percent returns the Rate of n percent (Percent(16) is 16 %).
func Percent(n int64) Rate { return Rate(n) * RateScale / 100 }

// ParseRate parses a decimal fraction written as a percentage ("16%", "0.05%") or as a plain decimal ("0.16").
// It refuses negative rates and more precision than a billionth, rather than rounding silently.
func ParseRate(field, s string) (Rate, error) {
	orig := s
	digitsAfter := 9
	if strings.HasSuffix(s, "%") {
		s = s[:len(s)-1]
		digitsAfter = 7
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || (dot && frac == "") {
		return 0, record.Invalid(field, "rate_format", "%q is not a rate; write a percentage such as \"16%%\" or a decimal such as \"0.16\"", orig)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > digitsAfter {
		return 0, record.Invalid(field, "rate_precision", "%q has more decimals than the rules keep (a billionth)", orig)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 6 {
		return 0, record.Invalid(field, "rate_range", "%q is too large for a rate", orig)
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt("0"+frac+strings.Repeat("0", digitsAfter-len(frac)), 10, 64)
	return Rate(w*pow10(digitsAfter) + f), nil
}

func pow10(n int) int64 {
	v := int64(1)
	for ; n > 0; n-- {
		v *= 10
	}
	return v
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String writes the rate as a percentage with no trailing zeros: "16%", "0.05%", "8.31%".
func (r Rate) String() string {
	sign := ""
	v := int64(r)
	if v < 0 {
		sign, v = "-", -v
	}
	const unit = 10_000_000 // one percent
	s := sign + strconv.FormatInt(v/unit, 10)
	if f := v % unit; f != 0 {
		fs := strconv.FormatInt(f, 10)
		fs = strings.Repeat("0", 7-len(fs)) + fs
		s += "." + strings.TrimRight(fs, "0")
	}
	return s + "%"
}

// Rat returns the rate as an exact rational.
func (r Rate) Rat() *big.Rat { return big.NewRat(int64(r), int64(RateScale)) }

// MarshalJSON writes the rate as a percentage string.
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(`"` + r.String() + `"`), nil }

// Rounding says how an exact amount becomes whole fen.
type Rounding uint8

const (
	// HalfUp rounds to the nearest fen, halves away from zero: 12.875 → 12.88 (the usual rule).
	HalfUp Rounding = iota + 1
	// Truncate drops the fraction of a fen, towards zero (older pages show amounts computed this way).
	Truncate
	// roundUp rounds any fraction away from zero; only a floor or ceiling may be rounded this way.
	roundUp
)

func (m Rounding) String() string {
	switch m {
	case HalfUp:
		return "half_up"
	case Truncate:
		return "truncate"
	case roundUp:
		return "up"
	}
	return "unknown"
}

func parseRounding(s string) (Rounding, bool) {
	switch s {
	case "half_up":
		return HalfUp, true
	case "truncate":
		return Truncate, true
	}
	return 0, false
}

// u128 is an unsigned 128-bit integer: products of money and rates are exact in it without big.Int.
type u128 struct{ hi, lo uint64 }

func mul64(a, b uint64) u128 {
	hi, lo := bits.Mul64(a, b)
	return u128{hi, lo}
}

func (x u128) add(y u128) u128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	hi, _ := bits.Add64(x.hi, y.hi, c)
	return u128{hi, lo}
}

// divRound returns x / d rounded by m. A quotient beyond 64 bits would need amounts of more than 10¹⁰ yuan,
// which validation never lets in; it panics rather than wrap.
func (x u128) divRound(d uint64, m Rounding) uint64 {
	if x.hi >= d {
		panic("rules: amount out of range")
	}
	q, r := bits.Div64(x.hi, x.lo, d)
	if (m == HalfUp && r >= d-r) || (m == roundUp && r > 0) {
		q++
	}
	return q
}

// mulDiv returns a × b / d rounded by m, with a of either sign (rounding is symmetric about zero) and b, d > 0.
func mulDiv(a int64, b, d uint64, m Rounding) int64 {
	if a < 0 {
		return -int64(mul64(uint64(-a), b).divRound(d, m))
	}
	return int64(mul64(uint64(a), b).divRound(d, m))
}

// ApplyRate returns amount × r rounded to the fen by m: ApplyRate(257500, 0.5 %, HalfUp) is 1288 (12.875 → 12.88).
func ApplyRate(amount record.Fen, r Rate, m Rounding) record.Fen {
	return record.Fen(mulDiv(int64(amount), uint64(r), uint64(RateScale), m))
}

// RoundRat rounds an exact amount of fen to whole fen by m.
func RoundRat(x *big.Rat, m Rounding) record.Fen {
	num, den := x.Num(), x.Denom()
	if num.IsInt64() && den.IsInt64() {
		n, d := num.Int64(), den.Int64()
		if n >= 0 {
			return record.Fen(roundPos(uint64(n), uint64(d), m))
		}
		return -record.Fen(roundPos(uint64(-n), uint64(d), m))
	}
	neg := num.Sign() < 0
	q, r := new(big.Int).QuoRem(new(big.Int).Abs(num), den, new(big.Int))
	if (m == roundUp && r.Sign() > 0) || (m == HalfUp && r.Lsh(r, 1).Cmp(den) >= 0) {
		q.Add(q, big.NewInt(1))
	}
	v := record.Fen(q.Int64())
	if neg {
		v = -v
	}
	return v
}

func roundPos(n, d uint64, m Rounding) uint64 {
	q, r := n/d, n%d
	if (m == HalfUp && r >= d-r) || (m == roundUp && r > 0) {
		q++
	}
	return q
}

// ParseDecimal parses a non-negative decimal string ("1.0", "0.6", "3") into an exact rational.
func ParseDecimal(field, s string) (*big.Rat, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || (dot && frac == "") || len(s) > 40 {
		return nil, record.Invalid(field, "decimal_format", "%q is not a decimal number such as \"1.0\"", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, record.Invalid(field, "decimal_format", "%q is not a decimal number such as \"1.0\"", s)
	}
	return r, nil
}

// FormatRat writes x with exactly n decimals, rounded half-up: FormatRat(2/3, 4) is "0.6667".
func FormatRat(x *big.Rat, n int) string {
	if x == nil {
		return ""
	}
	return x.FloatString(n)
}
