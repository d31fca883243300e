package rules

import (
	"sort"

	"sirec/internal/record"
)

// Transfer between regions (转移接续), State Council General Office 2009 No. 66 (国办发〔2009〕66号):
//   - the personal account moves in full: the balance at the end of the month of transfer, interest to that
//     month included (a Transfer with Out set; see AccountYear.TransfersOut);
//   - the pooled fund (统筹基金) moves 12 % of the actual contribution bases since 1998-01-01, months for part
//     years, without interest (PooledFundFor);
//   - a month paid in both regions counts once (Months counts each month once however often it is paid).

// PooledFundRate is the share of the contribution bases the pooled fund transfers: 12 % (2009 No. 66, art. 3).
var PooledFundRate = Percent(12)

// PooledFundSince is the first month whose base counts towards the pooled-fund transfer: January 1998.
const PooledFundSince = record.Period(199801)

// TransferredMonth is a contribution month transferred in from another region: it counts as a month paid of its
// type and, for a pension month, in the average contribution index with the base and wage the origin gave it.
// It credits no account (the account is transferred as a whole).
type TransferredMonth struct {
	Type      string
	Period    record.Period
	Base      record.Fen // the contribution base the origin's rules gave the month
	IndexWage record.Fen // pension: the average monthly wage of the month's year at the origin
}

// validateTransferred checks a transferred month; the error's field is relative to it.
func validateTransferred(m TransferredMonth) error {
	if typeIndex(m.Type) < 0 {
		return record.ValidateInsuranceType("type", m.Type)
	}
	if err := m.Period.Validate("period"); err != nil {
		return err
	}
	if m.Base <= 0 || m.Base > MaxWage {
		return record.Invalid("base", "base_range", "a transferred month's base must be more than 0 and at most %s yuan", MaxWage)
	}
	if m.Type == record.Pension && m.IndexWage <= 0 {
		return record.Invalid("index_wage", "money_positive", "a transferred pension month needs the average wage its base is indexed against")
	}
	return nil
}

// markTransferred marks a transferred month paid and keeps its base for the index (when higher than the
// month's base from another source). lo is the first month index of the person's range.
func (d *Deriver) markTransferred(m TransferredMonth, lo int) {
	t := typeIndex(m.Type)
	x := m.Period.Index()
	d.ms.markPaid(t, x)
	if t == tPension {
		if j := x - lo; int64(m.Base) > d.bases[j] {
			d.bases[j], d.wages[j] = int64(m.Base), int64(m.IndexWage)
		}
	}
}

// PooledFund is the pooled-fund transfer (统筹基金转移额) of a record.
type PooledFund struct {
	Months int        `json:"months"` // distinct pension months paid since PooledFundSince
	Bases  record.Fen `json:"bases"`  // the sum of their bases (of a month paid twice, the higher base)
	Amount record.Fen `json:"amount"` // Bases × PooledFundRate, rounded once by the rules' rounding
}

// PooledFundFor computes the pooled-fund transfer of a person's facts, given what Derive made of them (d must
// be the derivation of in): 12 % of the bases of the distinct pension months paid from January 1998 on,
// contributions and transferred months alike, rounded once by m. No interest is added.
func PooledFundFor(in PersonFacts, d *PersonDerived, m Rounding) PooledFund {
	bases := map[record.Period]record.Fen{}
	keep := func(p record.Period, b record.Fen) {
		if p >= PooledFundSince && b > bases[p] {
			bases[p] = b
		}
	}
	for i, c := range in.Contributions {
		if c.Type == record.Pension && (c.Status == "" || c.Status == record.StatusPaid) && i < len(d.Contributions) {
			keep(c.Period, d.Contributions[i].Base)
		}
	}
	for _, t := range in.Transferred {
		if t.Type == record.Pension {
			keep(t.Period, t.Base)
		}
	}
	months := make([]record.Period, 0, len(bases))
	for p := range bases {
		months = append(months, p)
	}
	sort.Slice(months, func(i, j int) bool { return months[i] < months[j] })
	var out PooledFund
	for _, p := range months {
		out.Bases += bases[p]
	}
	out.Months = len(months)
	out.Amount = ApplyRate(out.Bases, PooledFundRate, m)
	return out
}

// AccountTransferOut returns the personal-account amount a transfer out in period p moves: the balance at the
// end of that month, interest to it included — what the account years of the facts with the transfer out show
// leaving in p's year beyond what they show without it (so that an earlier transfer out in the same year is not
// counted again). with and without are the account years derived with and without the transfer.
func AccountTransferOut(with, without []AccountYear, p record.Period) record.Fen {
	out := func(years []AccountYear) record.Fen {
		for _, y := range years {
			if y.Year == p.Year() {
				return y.TransfersOut
			}
		}
		return 0
	}
	return out(with) - out(without)
}

// FromTransferredIn returns the transferred months of a recorded transfer in.
func FromTransferredIn(f *record.TransferredIn) []TransferredMonth {
	out := make([]TransferredMonth, len(f.Months))
	for i, m := range f.Months {
		out[i] = TransferredMonth{Type: m.Type, Period: m.Period, Base: record.Fen(m.Base), IndexWage: record.Fen(m.IndexWage)}
	}
	return out
}
