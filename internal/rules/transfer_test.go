package rules

import (
	"math/big"
	"testing"

	"sirec/internal/record"
)

// 2009 No. 66: the pooled fund moves 12 % of the bases since 1998-01, each month once, without interest.
func TestPooledFundFor(t *testing.T) {
	in := PersonFacts{Transferred: []TransferredMonth{
		{Type: record.Pension, Period: 199712, Base: yuan(t, "1000.00"), IndexWage: yuan(t, "500.00")}, // before 1998: not counted
		{Type: record.Pension, Period: 199801, Base: yuan(t, "2000.00"), IndexWage: yuan(t, "500.00")},
		{Type: record.Pension, Period: 199802, Base: yuan(t, "3000.00"), IndexWage: yuan(t, "500.00")},
		{Type: record.Pension, Period: 199803, Base: yuan(t, "3333.33"), IndexWage: yuan(t, "500.00")},
		{Type: record.Medical, Period: 199801, Base: yuan(t, "5000.00")}, // not pension: not counted
	}}
	b := NewBook()
	d, err := DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := PooledFundFor(in, &d, HalfUp)
	// (2,000.00 + 3,000.00 + 3,333.33) × 12 % = 999.9996 → 1,000.00
	if got.Months != 3 || got.Bases.String() != "8333.33" || got.Amount.String() != "1000.00" {
		t.Fatalf("pooled fund %+v", got)
	}
	if got := PooledFundFor(in, &d, Truncate); got.Amount.String() != "999.99" {
		t.Fatalf("rounded down: %s", got.Amount)
	}

	// A month paid again here (a higher base) counts once, with the higher base; a month in arrears not at all.
	in.Contributions = []Contribution{
		{Type: record.Pension, Period: 199802, Wage: yuan(t, "90000")},
		{Type: record.Pension, Period: 199804, Wage: yuan(t, "2000"), Status: record.StatusArrears},
	}
	d, err = DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	high := d.Contributions[0].Base
	if high <= yuan(t, "3000.00") {
		t.Fatalf("base %s should exceed the transferred 3,000.00", high)
	}
	got = PooledFundFor(in, &d, HalfUp)
	want := yuan(t, "2000.00") + high + yuan(t, "3333.33")
	if got.Months != 3 || got.Bases != want || got.Amount != ApplyRate(want, Percent(12), HalfUp) {
		t.Fatalf("with a month paid twice: %+v, want bases %s", got, want)
	}
}

// Transferred months count as months paid, each month once, and in the index with the origin's base and wage;
// they credit no account.
func TestDeriveTransferredMonths(t *testing.T) {
	b := NewBook()
	in := PersonFacts{
		Transferred: []TransferredMonth{
			{Type: record.Pension, Period: 202001, Base: yuan(t, "6000.00"), IndexWage: yuan(t, "6000.00")},
			{Type: record.Pension, Period: 202002, Base: yuan(t, "3000.00"), IndexWage: yuan(t, "6000.00")},
			{Type: record.Medical, Period: 202002, Base: yuan(t, "3000.00")},
		},
		Deemed: []Span{{From: 201912, To: 202001}}, // 2019-12 deemed; 2020-01 is paid (transferred)
	}
	d, err := DerivePerson(b, "310115", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Months.Paid.Of(record.Pension) != 2 || d.Months.Deemed.Of(record.Pension) != 1 || d.Months.Paid.Of(record.Medical) != 1 {
		t.Fatalf("months %+v", d.Months)
	}
	if len(d.Credits) != 0 || d.Balance() != 0 {
		t.Fatalf("transferred months credited the account: %+v", d.Credits)
	}
	// Index: (6000/6000 + 3000/6000) / 2 = 3/4.
	if d.Index == nil || d.Index.Cmp(big.NewRat(3, 4)) != 0 {
		t.Fatalf("index %v, want 3/4", d.Index)
	}
	// A bad transferred month is named.
	in.Transferred[1].IndexWage = 0
	if _, err := DerivePerson(b, "310115", in, 0); err == nil || err.(*record.Error).Field != "transferred[1].index_wage" {
		t.Fatalf("bad transferred month: %v", err)
	}
}

// The account moves in full: the balance at the end of the month of transfer, interest to that month included;
// a second transfer out in the same year is not counted twice.
func TestAccountTransferOut(t *testing.T) {
	b := NewBook()
	var in PersonFacts
	for p := record.Period(202401); p <= 202406; p = p.AddMonths(1) {
		in.Contributions = append(in.Contributions, Contribution{Type: record.Pension, Period: p, Wage: yuan(t, "8000")})
	}
	without, err := DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	in.Transfers = []Transfer{{Period: 202406, Out: true}}
	with, err := DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := AccountTransferOut(with.Years, without.Years, 202406)
	// Six credits of 640.00 (8 % of 8,000.00), monthly method at 2024's 2.62 %: credit n earns (6 − n + 1)/12 × r.
	// 3,840.00 + 640.00 × (6+5+4+3+2+1) × 2.62 % / 12 = 3,840.00 + 29.344 = 3,869.34
	r := rate(t, "2.62%")
	if y := with.Years[len(with.Years)-1]; y.Rate != r || y.Closing != 0 {
		t.Fatalf("year after transfer %+v", y)
	}
	if got.String() != "3869.34" {
		t.Fatalf("account transferred %s, want 3869.34", got)
	}
	// A second transfer out later in the year (after a return) moves only what came in since.
	in.Contributions = append(in.Contributions, Contribution{Type: record.Pension, Period: 202409, Wage: yuan(t, "8000")})
	before, err := DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	in.Transfers = append(in.Transfers, Transfer{Period: 202409, Out: true})
	after, err := DerivePerson(b, "110105", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 640.00 credited in September, one month of interest: 640.00 × 2.62 % / 12 = 1.397 → 641.40
	if got := AccountTransferOut(after.Years, before.Years, 202409); got.String() != "641.40" {
		t.Fatalf("second transfer %s, want 641.40", got)
	}
}
