package rules

import (
	"slices"

	"sirec/internal/record"
)

// The annual method's factor for the average time a credit of the year earns interest: credits × r × 1.083 × 1/2.
const (
	annualFactorNum = 1083
	annualFactorDen = 2000 // 1.083 × 1/2 = 1083 / 2000
)

// yearAccount computes one year of a personal account exactly. A year runs in segments: the first starts with
// the opening balance; a transfer out at the end of month n pays out the segment's balance with the interest
// earned so far (prorated by months, r/12 per month) and starts an empty segment. Credits of month n are
// tracked as Σc and Σn·c, which is all either method needs. Amounts are fen, never negative.
type yearAccount struct {
	rate     Rate
	method   InterestMethod
	mode     Rounding
	segO     int64 // the opening balance of the current segment
	segStart int   // months of the year elapsed when the segment began
	s0, s1   int64 // Σ c_n and Σ n × c_n over the segment's credits
}

func (a *yearAccount) credit(n int, c int64) {
	a.s0 += c
	a.s1 += int64(n) * c
}

// transferOut pays out the balance at the end of month n: the segment's opening and credits with interest
// opening × r × months / 12 + Σ c_k × (n − k + 1) × r / 12, rounded once. The segment then starts empty.
func (a *yearAccount) transferOut(n int) int64 {
	den := uint64(12 * RateScale)
	months := int64(n - a.segStart)
	weighted := a.segO*months + int64(n+1)*a.s0 - a.s1
	num := mul64(den, uint64(a.segO+a.s0)).add(mul64(uint64(a.rate), uint64(weighted)))
	out := int64(num.divRound(den, a.mode))
	a.segO, a.segStart, a.s0, a.s1 = 0, n, 0, 0
	return out
}

// close returns the year-end balance, rounded once.
//
//	annual:  closing = opening × (1 + r) + credits × (1 + r × 1.083 × 1/2)
//	monthly: closing = opening × (1 + r) + credits + Σ credit_n × (12 − n + 1) × r / 12
//
// After a transfer out the opening is 0 and only the credits after it remain (under the monthly method they
// earn from their month as always; under the annual method by the annual formula).
func (a *yearAccount) close() int64 {
	S := uint64(RateScale)
	r := uint64(a.rate)
	if a.method == Annual {
		den := uint64(annualFactorDen) * S
		num := mul64(den+annualFactorDen*r, uint64(a.segO)).add(mul64(den+annualFactorNum*r, uint64(a.s0)))
		return int64(num.divRound(den, a.mode))
	}
	den := 12 * S
	weighted := a.segO*int64(12-a.segStart) + 13*a.s0 - a.s1
	num := mul64(den, uint64(a.segO+a.s0)).add(mul64(r, uint64(weighted)))
	return int64(num.divRound(den, a.mode))
}

// maxBalance bounds account amounts (10,000,000,000 yuan) so that interest stays exact in 128 bits.
const maxBalance record.Fen = 10_000_000_000_00

// YearEnd returns a year's closing balance from the opening balance, the credits of months 1 to 12 (a transfer
// in counts as a credit of its month), the crediting rate and the method, rounded once by m. Amounts must not be
// negative.
func YearEnd(opening record.Fen, credits [12]record.Fen, r Rate, method InterestMethod, m Rounding) record.Fen {
	a := yearAccount{rate: r, method: method, mode: m, segO: int64(opening)}
	for i, c := range credits {
		a.credit(i+1, int64(c))
	}
	return record.Fen(a.close())
}

// MonthCredit is an amount credited to the personal account in a month.
type MonthCredit struct {
	Period record.Period `json:"period"`
	Amount record.Fen    `json:"amount"`
}

// Transfer is a personal-account transfer (转移接续) in from or out to another region. A transfer in adds its
// amount in its month, earning interest like a credit of that month. A transfer out removes the full balance at
// the end of its month (after that month's credits); the amount it removes is computed (and reported in
// AccountYear.TransfersOut), so Amount of a transfer out is not used.
type Transfer struct {
	Period record.Period
	Amount record.Fen
	Out    bool
}

// AccountYear is one year of a personal account.
type AccountYear struct {
	Year         int        `json:"year"`
	Rate         Rate       `json:"rate"`        // the crediting rate applied
	Provisional  bool       `json:"provisional"` // the year's rate was not published; another year's was lent
	Opening      record.Fen `json:"opening"`
	Credits      record.Fen `json:"credits"` // contributions credited in the year
	TransfersIn  record.Fen `json:"transfers_in"`
	TransfersOut record.Fen `json:"transfers_out"` // balance paid out by transfers out, interest to the month included
	Interest     record.Fen `json:"interest"`      // closing − opening − credits − transfers in + transfers out
	Closing      record.Fen `json:"closing"`
}

// Balances returns a person's account year by year, from the first year with a credit or transfer in to through
// (inclusive), with the crediting rate, method and rounding of the set in force for region in December of each
// year. credits and transfers may come in any order; credits of the same month add up.
func (b *Book) Balances(region string, credits []MonthCredit, transfers []Transfer, through int) ([]AccountYear, error) {
	var sc accountScratch
	first := 0 // the first year with money in: a non-zero credit or transfer in
	for _, c := range credits {
		if c.Amount != 0 && (first == 0 || c.Period.Year() < first) {
			first = c.Period.Year()
		}
	}
	for _, t := range transfers {
		if !t.Out && t.Amount != 0 && (first == 0 || t.Period.Year() < first) {
			first = t.Period.Year()
		}
	}
	if first == 0 || through < first {
		return nil, nil
	}
	sc.reset(first, through)
	for i, c := range credits {
		if err := c.Period.Validate("credits[" + itoa(i) + "].period"); err != nil {
			return nil, err
		}
		if c.Amount < 0 || c.Amount > maxBalance {
			return nil, record.Invalid("credits["+itoa(i)+"].amount", "amount_range", "a credit must be 0 to %s yuan", maxBalance)
		}
		sc.addCredit(c.Period, int64(c.Amount))
	}
	for i, t := range transfers {
		if err := sc.addTransfer(i, t); err != nil {
			return nil, err
		}
	}
	return sc.years(b.load(), region, nil)
}

// accountScratch holds a person's account movements month by month from January of the first year, reused
// from person to person.
type accountScratch struct {
	first, through int
	credits, ins   []int64
	outs           []record.Period
}

func (sc *accountScratch) reset(first, through int) {
	sc.first, sc.through = first, through
	n := (through - first + 1) * 12
	sc.credits = resize(sc.credits, n)
	sc.ins = resize(sc.ins, n)
	sc.outs = sc.outs[:0]
}

func resize(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func (sc *accountScratch) slot(p record.Period) int {
	i := (p.Year()-sc.first)*12 + p.Month() - 1
	if i < 0 || i >= len(sc.credits) {
		return -1
	}
	return i
}

func (sc *accountScratch) addCredit(p record.Period, c int64) {
	if i := sc.slot(p); i >= 0 {
		sc.credits[i] += c
	}
}

func (sc *accountScratch) addTransfer(i int, t Transfer) error {
	if err := t.Period.Validate("transfers[" + itoa(i) + "].period"); err != nil {
		return err
	}
	if t.Out {
		if sc.slot(t.Period) >= 0 {
			sc.outs = append(sc.outs, t.Period)
		}
		return nil
	}
	if t.Amount < 0 || t.Amount > maxBalance {
		return record.Invalid("transfers["+itoa(i)+"].amount", "amount_range", "a transfer amount must be 0 to %s yuan", maxBalance)
	}
	if j := sc.slot(t.Period); j >= 0 {
		sc.ins[j] += int64(t.Amount)
	}
	return nil
}

// years runs the account from sc.first to sc.through, appending to dst.
func (sc *accountScratch) years(sn *snapshot, region string, dst []AccountYear) ([]AccountYear, error) {
	slices.Sort(sc.outs)
	outs := sc.outs
	var bal int64
	for y := sc.first; y <= sc.through; y++ {
		set, _, _ := sn.at(region, record.MakePeriod(y, 12))
		rate, provisional, ok := set.CreditingRate(y)
		if !ok {
			return dst, record.Invalid("account.crediting_rates."+itoa(y), "crediting_rate_missing",
				"no crediting rate for %d in the rules in force for region %s (version %s)", y, region, set.version)
		}
		a := yearAccount{rate: rate, method: set.res.method, mode: set.res.rounding, segO: bal}
		ay := AccountYear{Year: y, Rate: rate, Provisional: provisional, Opening: record.Fen(bal)}
		base := (y - sc.first) * 12
		for n := 1; n <= 12; n++ {
			c, in := sc.credits[base+n-1], sc.ins[base+n-1]
			if c|in != 0 {
				a.credit(n, c+in)
				ay.Credits += record.Fen(c)
				ay.TransfersIn += record.Fen(in)
			}
			for len(outs) > 0 && outs[0] == record.MakePeriod(y, n) {
				ay.TransfersOut += record.Fen(a.transferOut(n))
				outs = outs[1:]
			}
		}
		bal = a.close()
		ay.Closing = record.Fen(bal)
		ay.Interest = ay.Closing - ay.Opening - ay.Credits - ay.TransfersIn + ay.TransfersOut
		dst = append(dst, ay)
	}
	return dst, nil
}
