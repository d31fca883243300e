package rules

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"sirec/internal/record"
)

func twelve(f record.Fen) (c [12]record.Fen) {
	for i := range c {
		c[i] = f
	}
	return c
}

// REFERENCE: opening 100,000.00, r = 2.62 %, 640.00 every month → annual 110,408.96, monthly 110,408.99.
func TestYearEndReference(t *testing.T) {
	tests := []struct {
		name   string
		method InterestMethod
		want   string
	}{
		{"annual", Annual, "110408.96"},
		{"monthly", Monthly, "110408.99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := YearEnd(yuan(t, "100000.00"), twelve(yuan(t, "640.00")), rate(t, "2.62%"), tt.method, HalfUp)
			if got.String() != tt.want {
				t.Fatalf("closing = %s, want %s", got, tt.want)
			}
		})
	}
}

// Many pages misprint the annual method with × 1.083 outside the bracket:
// credits × (1 + r × 1/2) × 1.083. The code must not compute that.
func TestYearEndNotTheMisprint(t *testing.T) {
	opening, credit, r := yuan(t, "100000.00"), yuan(t, "640.00"), rate(t, "2.62%")
	// The misprint, computed independently with rationals.
	credits := new(big.Rat).SetInt64(int64(credit) * 12)
	half := new(big.Rat).Mul(r.Rat(), big.NewRat(1, 2))
	mis := new(big.Rat).Mul(credits, new(big.Rat).Add(big.NewRat(1, 1), half))
	mis.Mul(mis, big.NewRat(1083, 1000))
	mis.Add(mis, new(big.Rat).Mul(new(big.Rat).SetInt64(int64(opening)), new(big.Rat).Add(big.NewRat(1, 1), r.Rat())))
	misprint := RoundRat(mis, HalfUp)
	if misprint.String() != "111046.40" {
		t.Fatalf("the misprint itself computes %s; the test is wrong", misprint)
	}
	got := YearEnd(opening, twelve(credit), r, Annual, HalfUp)
	if got == misprint {
		t.Fatalf("annual method gives the misprinted result %s", got)
	}
	if got.String() != "110408.96" {
		t.Fatalf("annual method gives %s, want 110408.96", got)
	}
}

func TestYearEndCases(t *testing.T) {
	r := rate(t, "2.62%")
	var dec [12]record.Fen
	dec[11] = yuan(t, "7680.00")
	var jan [12]record.Fen
	jan[0] = yuan(t, "7680.00")
	tests := []struct {
		name    string
		opening record.Fen
		credits [12]record.Fen
		method  InterestMethod
		mode    Rounding
		want    string
	}{
		// monthly: a December credit earns one month, 7680 × 2.62% / 12 = 16.768 → 16.77
		{"december credit, monthly", 0, dec, Monthly, HalfUp, "7696.77"},
		// January credit earns twelve months: 7680 × 2.62% = 201.216 → 201.22
		{"january credit, monthly", 0, jan, Monthly, HalfUp, "7881.22"},
		// annual ignores the month: 7680 × 2.62% × 1.083 / 2 = 108.958464 → 108.96
		{"december credit, annual", 0, dec, Annual, HalfUp, "7788.96"},
		{"truncated", 0, dec, Monthly, Truncate, "7696.76"},
		{"opening only", yuan(t, "1000.00"), [12]record.Fen{}, Monthly, HalfUp, "1026.20"},
		{"nothing", 0, [12]record.Fen{}, Annual, HalfUp, "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := YearEnd(tt.opening, tt.credits, r, tt.method, tt.mode); got.String() != tt.want {
				t.Fatalf("closing = %s, want %s", got, tt.want)
			}
		})
	}
}

// Property: a higher crediting rate never gives a lower balance, year by year or over years.
func TestHigherRateNeverLower(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		opening := record.Fen(rng.Int64N(100_000_000_00))
		var credits [12]record.Fen
		for m := range credits {
			if rng.IntN(4) > 0 {
				credits[m] = record.Fen(rng.Int64N(5_000_00))
			}
		}
		r1 := Rate(rng.Int64N(int64(Percent(10))))
		r2 := r1 + Rate(rng.Int64N(int64(Percent(1))))
		for _, method := range []InterestMethod{Annual, Monthly} {
			for _, mode := range []Rounding{HalfUp, Truncate} {
				a, b := YearEnd(opening, credits, r1, method, mode), YearEnd(opening, credits, r2, method, mode)
				if b < a {
					t.Fatalf("opening %s credits %v: rate %s gives %s, higher rate %s gives %s (%s)", opening, credits, r1, a, r2, b, method)
				}
			}
		}
	}

	// Over several years with transfers, under every rate raised.
	low, high := NewBook(), NewBook()
	raise := "version = \"higher\"\nregion = \"000000\"\neffective_from = \"2000-01\"\n[account.crediting_rates]\n"
	for y := 2016; y <= 2024; y++ {
		r, _, _ := Default().CreditingRate(y)
		raise += itoa(y) + " = \"" + (r + Rate(rng.Int64N(int64(Percent(2))))).String() + "\"\n"
	}
	mustAdd(t, high, raise)
	for i := 0; i < 300; i++ {
		var credits []MonthCredit
		var transfers []Transfer
		for p := record.Period(201601); p <= 202412; p = p.AddMonths(1) {
			if rng.IntN(5) > 0 {
				credits = append(credits, MonthCredit{p, record.Fen(rng.Int64N(3_000_00))})
			}
		}
		if rng.IntN(2) == 0 {
			transfers = append(transfers, Transfer{Period: record.MakePeriod(2016+rng.IntN(9), 1+rng.IntN(12)), Amount: record.Fen(rng.Int64N(50_000_00))})
		}
		a, err := low.Balances("110000", credits, transfers, 2024)
		if err != nil {
			t.Fatal(err)
		}
		b, err := high.Balances("110000", credits, transfers, 2024)
		if err != nil {
			t.Fatal(err)
		}
		for k := range a {
			if b[k].Closing < a[k].Closing {
				t.Fatalf("year %d: higher rates give %s, lower %s", a[k].Year, b[k].Closing, a[k].Closing)
			}
		}
	}
}

// A transfer out at the end of December pays out exactly the year-end balance of the monthly method.
func TestTransferOutInDecemberIsYearEnd(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1000; i++ {
		a := yearAccount{rate: Rate(rng.Int64N(int64(Percent(9)))), method: Monthly, mode: HalfUp, segO: rng.Int64N(1e9)}
		b := a
		for n := 1; n <= 12; n++ {
			c := rng.Int64N(1e6)
			a.credit(n, c)
			b.credit(n, c)
		}
		if out, end := a.transferOut(12), b.close(); out != end {
			t.Fatalf("transfer out in December %d, year end %d", out, end)
		}
		if a.close() != 0 {
			t.Fatal("balance left after a transfer out")
		}
	}
}

func TestBalancesWithTransfers(t *testing.T) {
	b := NewBook()
	var credits []MonthCredit
	for p := record.Period(202301); p <= 202412; p = p.AddMonths(1) {
		credits = append(credits, MonthCredit{p, yuan(t, "640.00")})
	}
	t.Run("two years of credits", func(t *testing.T) {
		years, err := b.Balances("110000", credits, nil, 2025)
		if err != nil {
			t.Fatal(err)
		}
		want := []AccountYear{
			// 2023, 3.97 %: 7,680.00 + 640 × 78 × 3.97 % / 12 = 165.152 → 7,845.15
			{Year: 2023, Rate: rate(t, "3.97%"), Opening: 0, Credits: yuan(t, "7680.00"), Interest: yuan(t, "165.15"), Closing: yuan(t, "7845.15")},
			// 2024, 2.62 %: 7,845.15 × 1.0262 + 7,680.00 + 108.992 = 15,839.68493 → 15,839.68
			{Year: 2024, Rate: rate(t, "2.62%"), Opening: yuan(t, "7845.15"), Credits: yuan(t, "7680.00"), Interest: yuan(t, "314.53"), Closing: yuan(t, "15839.68")},
			// 2025 has no published rate: the nearest (2024) is lent, provisional
			{Year: 2025, Rate: rate(t, "2.62%"), Provisional: true, Opening: yuan(t, "15839.68"), Interest: yuan(t, "415.00"), Closing: yuan(t, "16254.68")},
		}
		if len(years) != len(want) {
			t.Fatalf("%d years, want %d: %+v", len(years), len(want), years)
		}
		for i := range want {
			if years[i] != want[i] {
				t.Errorf("year %d:\n got %+v\nwant %+v", want[i].Year, years[i], want[i])
			}
		}
	})
	t.Run("transfer in and out within a year", func(t *testing.T) {
		// 2024 only: 640.00 a month, 10,000.00 in at 2024-07, everything out at the end of 2024-10.
		// Out: 16,400.00 + (11 × 16,400.00 − (640 × 55 + 7 × 10,000)) × 2.62 % / 12 = 16,400 + 164.1867 → 16,564.19
		// Year end: 1,280.00 + 640 × (2 + 1) × 2.62 % / 12 = 1,284.192 → 1,284.19
		years, err := b.Balances("110000", credits[12:], []Transfer{
			{Period: 202407, Amount: yuan(t, "10000.00")},
			{Period: 202410, Amount: yuan(t, "1.00"), Out: true}, // the recorded amount is not used
		}, 2024)
		if err != nil {
			t.Fatal(err)
		}
		want := AccountYear{Year: 2024, Rate: rate(t, "2.62%"), Credits: yuan(t, "7680.00"), TransfersIn: yuan(t, "10000.00"),
			TransfersOut: yuan(t, "16564.19"), Interest: yuan(t, "168.38"), Closing: yuan(t, "1284.19")}
		if len(years) != 1 || years[0] != want {
			t.Fatalf("\n got %+v\nwant %+v", years, want)
		}
	})
	t.Run("transfer out then the account starts again", func(t *testing.T) {
		years, err := b.Balances("110000", credits, []Transfer{{Period: 202312, Out: true}}, 2024)
		if err != nil {
			t.Fatal(err)
		}
		// December 2023 out pays the 2023 year-end (7,845.15); 2024 starts from zero with 640.00 a month:
		// 7,680.00 + 108.992 → 7,788.99
		if years[0].TransfersOut.String() != "7845.15" || years[0].Closing != 0 || years[1].Opening != 0 || years[1].Closing.String() != "7788.99" {
			t.Fatalf("%+v", years)
		}
	})
	t.Run("bad input names the field", func(t *testing.T) {
		_, err := b.Balances("110000", []MonthCredit{{Period: 202413, Amount: 1}}, nil, 2024)
		wantInvalid(t, err, "credits[0].period", "period_month")
		_, err = b.Balances("110000", credits, []Transfer{{Period: 202401, Amount: -1}}, 2024)
		wantInvalid(t, err, "transfers[0].amount", "amount_range")
	})
	t.Run("a missing rate with unpublished_rate error", func(t *testing.T) {
		strict := NewBook()
		mustAdd(t, strict, "version = \"s\"\nregion = \"000000\"\neffective_from = \"2000-01\"\n[account]\nunpublished_rate = \"error\"\n")
		_, err := strict.Balances("110000", credits, nil, 2025)
		wantInvalid(t, err, "account.crediting_rates.2025", "crediting_rate_missing")
	})
}
