package rules

import (
	"math/big"

	"sirec/internal/record"
)

// Contribution is one month of one insurance type as recorded: the raw facts only (R6.4).
type Contribution struct {
	Type          string        // insurance type (record.Pension …)
	Period        record.Period // the month contributed for
	Wage          record.Fen    // declared monthly wage, before clamping
	Region        string        // the employer's region, whose rules apply; "" is the person's region
	Status        string        // record.StatusPaid, StatusDue or StatusArrears; "" is paid
	IndustryClass int           // the employer's work-injury industry class 1–8; 0 when not known
	LateDays      int           // days paid late, for the late fee
}

// PersonFacts are one person's raw facts, as recorded.
type PersonFacts struct {
	Contributions []Contribution
	Deemed        []Span     // deemed contribution spans (视同缴费)
	Transfers     []Transfer // personal-account transfers in and out
	// Transferred are contribution months transferred in from another region (转移接续): months paid, with the
	// origin's bases, that credit no account.
	Transferred []TransferredMonth
}

// ContributionDerived is what the rules make of one contribution.
type ContributionDerived struct {
	Amounts
	Credit  record.Fen // personal-account credit: pension months paid only
	LateFee record.Fen // on the employer and individual amounts, for LateDays
	Set     *Set       // the rules applied (in force for the contribution's region and period)
}

// PersonDerived are one person's derived values.
type PersonDerived struct {
	Contributions []ContributionDerived // one per input contribution, in the same order
	Credits       []MonthCredit         // personal-account credits summed per month, in period order
	Years         []AccountYear         // the account year by year, to the requested year
	Months        Months                // contribution months per type: paid (each month once) and deemed
	// Index is the average contribution index (平均缴费指数) over the distinct pension months paid: each month's
	// base ÷ the average monthly wage of its year (IndexWage of the set in force for it), exact; nil when no
	// pension month is paid. A month paid twice counts once, with the higher of its bases.
	Index *big.Rat
}

// Balance returns the account balance at the end of the last year derived (0 when there is none).
func (d *PersonDerived) Balance() record.Fen {
	if len(d.Years) == 0 {
		return 0
	}
	return d.Years[len(d.Years)-1].Closing
}

// Deriver derives persons one after another, reusing its scratch space so that a person costs almost no
// allocation. It is not safe for concurrent use: give each goroutine its own.
type Deriver struct {
	book  *Book
	ms    monthScratch
	acc   accountScratch
	idx   indexAcc
	month []int64 // per month of the person's range: the account credits
	bases []int64 // per month: the pension base kept for the index
	wages []int64 // per month: the average wage that base is indexed against
	cache struct {
		sn          *snapshot
		region      string
		set         *Set
		from, until record.Period
	}
}

// NewDeriver returns a Deriver reading rules from b.
func NewDeriver(b *Book) *Deriver { return &Deriver{book: b} }

// DerivePerson derives one person's values (see Deriver.Derive). For many persons, reuse a Deriver and a
// PersonDerived.
func DerivePerson(b *Book, region string, in PersonFacts, through int) (PersonDerived, error) {
	var out PersonDerived
	err := NewDeriver(b).Derive(region, in, through, &out)
	return out, err
}

// Derive computes a person's derived values into out, reusing out's slices:
//   - per contribution: the base (the declared wage clamped to the floor and ceiling in force for the
//     contribution's region and period), the employer and individual amounts, the account credit (pension, paid)
//     and the late fee;
//   - the personal-account credits per month, and the account year by year from the first year with a credit or
//     transfer to through (0: to the last year with a contribution or transfer), with the crediting rate,
//     method and rounding in force for the person's region (the account's region) in December of each year;
//   - contribution months per type, each month once, deemed months added where not paid;
//   - the average contribution index.
//
// Only paid contributions earn months, credits and index. Facts may come in any order. region is the person's
// (the account's) region. Errors are *record.Error naming the fact, e.g. "contributions[12].wage".
// out's slices and its Index are overwritten: copy what must outlive the next call.
func (d *Deriver) Derive(region string, in PersonFacts, through int, out *PersonDerived) error {
	if err := record.ValidateRegion("region", region); err != nil {
		return err
	}
	sn := d.book.load()
	out.Contributions = out.Contributions[:0]
	out.Credits = out.Credits[:0]
	out.Years = out.Years[:0]
	out.Months = Months{}

	// First pass: validate, and find the range of months the person's facts cover.
	lo, hi, last := 1<<30, -1, 0
	for i := range in.Contributions {
		c := &in.Contributions[i]
		if typeIndex(c.Type) < 0 {
			return record.ValidateInsuranceType("contributions["+itoa(i)+"].type", c.Type)
		}
		if err := c.Period.Validate(""); err != nil { // field named only on error: no allocation per month
			return record.WithField("contributions["+itoa(i)+"].period", err)
		}
		if c.Wage <= 0 || c.Wage > MaxWage {
			return record.Invalid("contributions["+itoa(i)+"].wage", "wage_range", "declared wage must be more than 0 and at most %s yuan", MaxWage)
		}
		switch c.Status {
		case "", record.StatusPaid, record.StatusDue, record.StatusArrears:
		default:
			return record.Invalid("contributions["+itoa(i)+"].status", "contribution_status", "status %q is not one of paid, due, arrears", c.Status)
		}
		if c.LateDays < 0 || c.LateDays > 36600 {
			return record.Invalid("contributions["+itoa(i)+"].late_days", "late_days_range", "days late must be 0 to 36600")
		}
		if c.Region != "" {
			if err := record.ValidateRegion("", c.Region); err != nil {
				return record.WithField("contributions["+itoa(i)+"].region", err)
			}
		}
		x := c.Period.Index()
		lo, hi = min(lo, x), max(hi, x)
		last = max(last, c.Period.Year())
	}
	for i, s := range in.Deemed {
		if err := validateSpan(s); err != nil {
			return record.WithField("deemed["+itoa(i)+"]", err)
		}
		lo, hi = min(lo, s.From.Index()), max(hi, s.To.Index())
	}
	for i, m := range in.Transferred {
		if err := validateTransferred(m); err != nil {
			return record.WithField("transferred["+itoa(i)+"]", err)
		}
		lo, hi = min(lo, m.Period.Index()), max(hi, m.Period.Index())
	}
	for i, t := range in.Transfers {
		if err := t.Period.Validate(""); err != nil {
			return record.WithField("transfers["+itoa(i)+"].period", err)
		}
		if t.Amount < 0 || t.Amount > maxBalance {
			return record.Invalid("transfers["+itoa(i)+"].amount", "amount_range", "a transfer amount must be 0 to %s yuan", maxBalance)
		}
		lo, hi = min(lo, t.Period.Index()), max(hi, t.Period.Index())
		last = max(last, t.Period.Year())
	}
	if hi < 0 {
		out.Index = nil
		return nil
	}
	if through == 0 {
		through = last
	}
	n := hi - lo + 1
	d.month = resize(d.month, n)
	d.bases = resize(d.bases, n)
	d.wages = resize(d.wages, n)
	d.ms.reset(lo, hi)
	d.idx.reset()

	// Second pass: the rules, month by month.
	for i := range in.Contributions {
		c := &in.Contributions[i]
		t := typeIndex(c.Type)
		reg := c.Region
		if reg == "" {
			reg = region
		}
		set := d.lookup(sn, reg, c.Period)
		r := set.res
		base := Clamp(c.Wage, r.floor, r.ceiling)
		cd := ContributionDerived{Amounts: Contribute(base, set.partyRates(t, c.IndustryClass), r.rounding), Set: set}
		if c.LateDays > 0 {
			cd.LateFee = LateFee(cd.Employer+cd.Individual, r.lateFee, c.LateDays, r.rounding)
		}
		if c.Status == "" || c.Status == record.StatusPaid {
			x := c.Period.Index()
			d.ms.markPaid(t, x)
			if t == tPension {
				cd.Credit = ApplyRate(base, set.CreditRatio(c.Period), r.rounding)
				j := x - lo
				d.month[j] += int64(cd.Credit)
				if int64(base) > d.bases[j] {
					w, ok := set.IndexWage(c.Period.Year())
					if !ok {
						return record.Invalid("average_wages."+itoa(c.Period.Year()), "average_wage_missing",
							"no average wage for %d in the rules in force for region %s (version %s)", c.Period.Year(), reg, set.version)
					}
					d.bases[j], d.wages[j] = int64(base), int64(w)
				}
			}
		}
		out.Contributions = append(out.Contributions, cd)
	}
	for _, m := range in.Transferred {
		d.markTransferred(m, lo)
	}
	for _, s := range in.Deemed {
		d.ms.markDeemed(spanType(s), s.From.Index(), s.To.Index())
	}
	out.Months = d.ms.count()

	// Credits per month and the index, over the months in order.
	first := 0
	for j := 0; j < n; j++ {
		if c := d.month[j]; c != 0 {
			p := record.PeriodFromIndex(lo + j)
			out.Credits = append(out.Credits, MonthCredit{Period: p, Amount: record.Fen(c)})
			if first == 0 {
				first = p.Year()
			}
		}
		if d.bases[j] > 0 {
			d.idx.add(record.Fen(d.bases[j]), record.Fen(d.wages[j]))
		}
	}
	out.Index = d.idx.rat(out.Index)

	// The account, year by year.
	for _, t := range in.Transfers {
		if !t.Out && t.Amount > 0 && (first == 0 || t.Period.Year() < first) {
			first = t.Period.Year()
		}
	}
	if first == 0 || through < first {
		return nil
	}
	d.acc.reset(first, through)
	for _, mc := range out.Credits {
		d.acc.addCredit(mc.Period, int64(mc.Amount))
	}
	for i, t := range in.Transfers {
		if err := d.acc.addTransfer(i, t); err != nil {
			return err
		}
	}
	years, err := d.acc.years(sn, region, out.Years)
	out.Years = years
	return err
}

// lookup returns the set in force, remembering the last answer: a person's months mostly share one.
func (d *Deriver) lookup(sn *snapshot, region string, p record.Period) *Set {
	c := &d.cache
	if c.sn == sn && p >= c.from && p < c.until && c.region == region {
		return c.set
	}
	c.set, c.from, c.until = sn.at(region, p)
	c.sn, c.region = sn, region
	return c.set
}

// FromPosted returns the Contribution of a recorded contribution fact, given its employer's region and
// work-injury industry class (from the employer's registration; "" and 0 when unknown or flexible employment).
func FromPosted(f *record.ContributionPosted, employerRegion string, industryClass int) Contribution {
	return Contribution{Type: f.Type, Period: f.Period, Wage: record.Fen(f.Wage), Region: employerRegion,
		Status: f.Status, IndustryClass: industryClass, LateDays: f.LateDays}
}

// FromDeemed returns the deemed span of a recorded deemed period (pension).
func FromDeemed(f *record.DeemedRecorded) Span {
	return Span{Type: record.Pension, From: f.From, To: f.To}
}

// FromTransferred returns the Transfer of a recorded account transfer.
func FromTransferred(f *record.AccountTransferred) Transfer {
	return Transfer{Period: f.Period, Amount: record.Fen(f.Amount), Out: f.Direction == "out"}
}
