package rules

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"sirec/internal/record"
)

func dec(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, err := ParseDecimal("", s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Worked examples A–D of REFERENCE.md.
func TestPensionReference(t *testing.T) {
	tests := []struct {
		name           string
		c, i           string
		years          int
		balance        string
		age            int
		basic, account string
		payout         int
	}{
		{"A I=0.6", "4000", "0.6", 15, "0", 60, "480.00", "0.00", 139},
		{"A I=1.0", "4000", "1.0", 15, "0", 60, "600.00", "0.00", 139},
		{"A I=3.0", "4000", "3.0", 15, "0", 60, "1200.00", "0.00", 139},
		{"B I=0.6", "4000", "0.6", 40, "0", 60, "1280.00", "0.00", 139},
		{"B I=1.0", "4000", "1.0", 40, "0", 60, "1600.00", "0.00", 139},
		{"B I=3.0", "4000", "3.0", 40, "0", 60, "3200.00", "0.00", 139},
		{"C", "5000", "1.0", 15, "72000.00", 60, "750.00", "517.99", 139},
		{"D", "11082", "0.6", 40, "100000.00", 60, "3546.24", "719.42", 139},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Default().Pension(PensionInput{
				BenefitWage: yuan(t, tt.c), Index: dec(t, tt.i), Months: tt.years * 12,
				Balance: yuan(t, tt.balance), Age: tt.age,
			})
			if err != nil {
				t.Fatal(err)
			}
			if p.Basic.String() != tt.basic || p.Account.String() != tt.account || p.PayoutMonths != tt.payout || p.Transitional != 0 {
				t.Fatalf("basic %s account %s payout %d transitional %s; want %s %s %d 0.00", p.Basic, p.Account, p.PayoutMonths, p.Transitional, tt.basic, tt.account, tt.payout)
			}
			if p.Total != p.Basic+p.Account+p.Transitional {
				t.Fatalf("total %s is not the sum of the rounded components", p.Total)
			}
		})
	}
}

func TestPensionUnroundedYearsAndIndex(t *testing.T) {
	// N = 181 / 12 = 15.0833…, I = 2/3: 5000 × (5/3) / 2 × 181/12 × 1 % = 628.4722… → 628.47.
	// Rounding N to 15.08 and I to 0.67 first would give 630.12 – wrong.
	p, err := Default().Pension(PensionInput{BenefitWage: yuan(t, "5000"), Index: big.NewRat(2, 3), Months: 181, Age: 60})
	if err != nil {
		t.Fatal(err)
	}
	if p.Basic.String() != "628.47" {
		t.Fatalf("basic %s, want 628.47", p.Basic)
	}
}

func TestTransitionalFormulas(t *testing.T) {
	tests := []struct {
		name, formula, coefficient string
		i                          string
		want                       string
	}{
		// 1.3 % × 5,000 × 1.0 × 10 years
		{"c_i_deemed", "c_i_deemed", "1.3%", "1.0", "650.00"},
		// 1.3 % × 5,000 × 0.6 × 10
		{"c_i_deemed low index", "c_i_deemed", "1.3%", "0.6", "390.00"},
		// 1.4 % × 5,000 × (1 + 0.6) / 2 × 10
		{"c_1pi_half_deemed", "c_1pi_half_deemed", "1.4%", "0.6", "560.00"},
		{"none", "none", "1.4%", "0.6", "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook()
			mustAdd(t, b, "version = \"t\"\nregion = \"000000\"\neffective_from = \"2000-01\"\n[pension.transitional]\nformula = \""+tt.formula+"\"\ncoefficient = \""+tt.coefficient+"\"\n")
			p, err := b.At(NationalRegion, 202501).Pension(PensionInput{BenefitWage: yuan(t, "5000"), Index: dec(t, tt.i), Months: 120, DeemedMonths: 120, Age: 60})
			if err != nil {
				t.Fatal(err)
			}
			if p.Transitional.String() != tt.want {
				t.Fatalf("transitional %s, want %s", p.Transitional, tt.want)
			}
			// N counts the deemed months too: 5000 × (1 + I) / 2 × 20 × 1 %
			basic := RoundRat(new(big.Rat).Mul(new(big.Rat).Add(big.NewRat(1, 1), dec(t, tt.i)), big.NewRat(50000, 1)), HalfUp)
			if p.Basic != basic {
				t.Fatalf("basic %s, want %s", p.Basic, basic)
			}
		})
	}
}

func TestPayoutMonths(t *testing.T) {
	whole := Default()
	b := NewBook()
	mustAdd(t, b, "version = \"lin\"\nregion = \"000000\"\neffective_from = \"2000-01\"\n[pension]\nage_months = \"linear\"\n")
	linear := b.At(NationalRegion, 202501)
	tests := []struct {
		name          string
		set           *Set
		years, months int
		want          int
		errField      string
	}{
		{"whole age 60", whole, 60, 0, 139, ""},
		{"whole age ignores months", whole, 60, 1, 139, ""},
		{"whole age 63", whole, 63, 0, 117, ""},
		{"linear 60y0m", linear, 60, 0, 139, ""},
		{"linear 60y1m: 139 − 7/12 = 138.42 → 138", linear, 60, 1, 138, ""},
		{"linear 60y6m: 139 − 3.5 = 135.5 → 136 (half-up)", linear, 60, 6, 136, ""},
		{"linear 62y11m: 125 − 8 × 11/12 = 117.67 → 118", linear, 62, 11, 118, ""},
		{"linear at the table's end", linear, 70, 1, 0, "retire_age_months"},
		{"age below the table", whole, 39, 0, 0, "retire_age"},
		{"age above the table", whole, 71, 0, 0, "retire_age"},
		{"months out of range", whole, 60, 12, 0, "retire_age_months"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.set.PayoutMonths(tt.years, tt.months)
			if tt.errField != "" {
				wantInvalid(t, err, tt.errField, "")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("payout months %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}

func TestRetirement(t *testing.T) {
	s := Default()
	tests := []struct {
		birth              record.Period
		category           string
		retire             record.Period
		years, months, min int
	}{
		{196501, "male", 202502, 60, 1, 180},
		{196412, "male", 202412, 60, 0, 180},
		{196504, "male", 202505, 60, 1, 180},
		{196505, "male", 202507, 60, 2, 180},
		{197612, "male", 203912, 63, 0, 240},
		{198506, "male", 204806, 63, 0, 240},
		{197001, "female_55", 202502, 55, 1, 180},
		{196912, "female_55", 202412, 55, 0, 180},
		{198112, "female_55", 203912, 58, 0, 240},
		{197501, "female_50", 202502, 50, 1, 180},
		{197502, "female_50", 202503, 50, 1, 180},
		{197503, "female_50", 202505, 50, 2, 180},
		{198412, "female_50", 203912, 55, 0, 240},
		// a man born 1970-05, 64 months after the start: 64 / 4 + 1 = 17 months later, retiring 2031-10 (192 needed)
		{197005, "male", 203110, 61, 5, 192},
	}
	for _, tt := range tests {
		t.Run(tt.category+" "+tt.birth.String(), func(t *testing.T) {
			r, err := s.RetirementFor(tt.birth, tt.category)
			if err != nil {
				t.Fatal(err)
			}
			if r.Retire != tt.retire || r.AgeYears != tt.years || r.AgeMonths != tt.months || r.MinContributionMonths != tt.min {
				t.Fatalf("got %+v, want retire %d at %dy%dm, min %d", r, tt.retire, tt.years, tt.months, tt.min)
			}
		})
	}
	_, err := s.RetirementFor(196501, "female")
	wantInvalid(t, err, "category", "retirement_category")
	_, err = s.RetirementFor(196513, "male")
	wantInvalid(t, err, "birth", "period_month")
}

func TestMinContributionMonths(t *testing.T) {
	s := Default()
	for year, want := range map[int]int{2020: 180, 2029: 180, 2030: 186, 2031: 192, 2035: 216, 2038: 234, 2039: 240, 2050: 240} {
		if got := s.MinContributionMonths(year); got != want {
			t.Errorf("%d: %d months, want %d", year, got, want)
		}
	}
	if !s.Eligible(180, 2029) || s.Eligible(185, 2030) || !s.Eligible(186, 2030) {
		t.Error("eligibility does not follow the minimum")
	}
}

func TestLateFee(t *testing.T) {
	s := Default()
	tests := []struct {
		name, arrears string
		days          int
		want          string
	}{
		{"30 days on 10,000.00", "10000.00", 30, "150.00"},
		{"7 days on 1,234.56: 4.32096", "1234.56", 7, "4.32"},
		{"one day on 1.00: 0.0005", "1.00", 1, "0.00"},
		{"one day on 10.00: 0.005 half-up", "10.00", 1, "0.01"},
		{"no days", "1000.00", 0, "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.LateFee(yuan(t, tt.arrears), tt.days); got.String() != tt.want {
				t.Fatalf("late fee %s, want %s", got, tt.want)
			}
		})
	}
}

// Property: clamping is idempotent and lands within the limits.
func TestClampIdempotent(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		floor := record.Fen(rng.Int64N(1_000_000))
		ceiling := floor + record.Fen(rng.Int64N(5_000_000))
		w := record.Fen(rng.Int64N(10_000_000))
		once := Clamp(w, floor, ceiling)
		if Clamp(once, floor, ceiling) != once || once < floor || once > ceiling {
			t.Fatalf("Clamp(%d, %d, %d) = %d, again %d", w, floor, ceiling, once, Clamp(once, floor, ceiling))
		}
		if w >= floor && w <= ceiling && once != w {
			t.Fatalf("a wage within the limits changed: %d → %d", w, once)
		}
	}
	s := Default()
	for _, w := range []string{"1", "3268.99", "3269", "8000", "16346", "16346.01", "99999"} {
		base := s.Base(yuan(t, w))
		if s.Base(base) != base {
			t.Fatalf("Base not idempotent for %s", w)
		}
	}
}

func TestContributionAllTypes(t *testing.T) {
	s := Default()
	tests := []struct {
		typ, wage                  string
		class                      int
		base, employer, individual string
	}{
		{record.Pension, "8000", 0, "8000.00", "1280.00", "640.00"},
		{record.Medical, "4212", 0, "4212.00", "315.90", "84.24"},
		{record.Unemployment, "2575", 0, "3269.00", "16.35", "16.35"},
		{record.WorkInjury, "8000", 0, "8000.00", "16.00", "0.00"},
		{record.WorkInjury, "8000", 8, "8000.00", "152.00", "0.00"},
		{record.Maternity, "20000", 0, "16346.00", "81.73", "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.wage, func(t *testing.T) {
			a, err := s.Contribution(tt.typ, yuan(t, tt.wage), tt.class)
			if err != nil {
				t.Fatal(err)
			}
			if a.Base.String() != tt.base || a.Employer.String() != tt.employer || a.Individual.String() != tt.individual {
				t.Fatalf("got %s %s %s, want %s %s %s", a.Base, a.Employer, a.Individual, tt.base, tt.employer, tt.individual)
			}
		})
	}
	_, err := s.Contribution("pensions", 1, 0)
	wantInvalid(t, err, "type", "insurance_type")
	if c := s.AccountCredit(200512, yuan(t, "5000")); c.String() != "550.00" {
		t.Fatalf("2005 credit %s, want 550.00 (11 %%)", c)
	}
	if c := s.AccountCredit(200601, yuan(t, "5000")); c.String() != "400.00" {
		t.Fatalf("2006 credit %s, want 400.00 (8 %%)", c)
	}
}

func TestCountMonths(t *testing.T) {
	paid := []PaidMonth{
		{record.Pension, 202401}, {record.Pension, 202402},
		{record.Pension, 202402}, // paid twice (two employers)
		{record.Pension, 202403}, {record.Medical, 202403},
	}
	deemed := []Span{{From: 202312, To: 202402}, {Type: record.Medical, From: 202301, To: 202302}}
	m, err := CountMonths(paid, deemed)
	if err != nil {
		t.Fatal(err)
	}
	if m.Paid.Of(record.Pension) != 3 || m.Deemed.Of(record.Pension) != 1 || m.Total(record.Pension) != 4 ||
		m.Paid.Of(record.Medical) != 1 || m.Deemed.Of(record.Medical) != 2 || m.Total(record.Unemployment) != 0 {
		t.Fatalf("%+v", m)
	}
	_, err = CountMonths(nil, []Span{{From: 202402, To: 202401}})
	wantInvalid(t, err, "deemed[0].to", "period_order")
	_, err = CountMonths([]PaidMonth{{"life", 202401}}, nil)
	wantInvalid(t, err, "paid[0].type", "insurance_type")
}

// Property: a month is counted once however many times, in however many regions, it is paid or deemed.
func TestCountMonthsNeverDoubleCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 2000; i++ {
		var paid []PaidMonth
		var deemed []Span
		want := map[string]map[record.Period]bool{}
		mark := func(typ string, p record.Period) {
			if want[typ] == nil {
				want[typ] = map[record.Period]bool{}
			}
			want[typ][p] = true
		}
		for k := rng.IntN(200); k > 0; k-- {
			typ := record.InsuranceTypes[rng.IntN(len(record.InsuranceTypes))]
			p := record.Period(199001).AddMonths(rng.IntN(480))
			for n := 1 + rng.IntN(3); n > 0; n-- { // the same month again: another region or employer
				paid = append(paid, PaidMonth{typ, p})
			}
			mark(typ, p)
		}
		for k := rng.IntN(3); k > 0; k-- {
			from := record.Period(198501).AddMonths(rng.IntN(480))
			to := from.AddMonths(rng.IntN(120))
			deemed = append(deemed, Span{From: from, To: to})
			for p := from; p <= to; p = p.AddMonths(1) {
				mark(record.Pension, p)
			}
		}
		rng.Shuffle(len(paid), func(a, b int) { paid[a], paid[b] = paid[b], paid[a] })
		m, err := CountMonths(paid, deemed)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range record.InsuranceTypes {
			if got := m.Total(typ); got != len(want[typ]) {
				t.Fatalf("%s: counted %d months, there are %d distinct", typ, got, len(want[typ]))
			}
		}
	}
}

func TestAverageIndex(t *testing.T) {
	tests := []struct {
		name   string
		months []IndexMonth
		want   string
	}{
		{"at the average", []IndexMonth{{yuan(t, "5448.58"), yuan(t, "5448.58")}}, "1.000000"},
		// (8000/5000 + 4000/5000 + 6000/6000) / 3 = (1.6 + 0.8 + 1) / 3 = 1.1333…
		{"over two years", []IndexMonth{{800000, 500000}, {400000, 500000}, {600000, 600000}}, "1.133333"},
		// a floor month and a ceiling month: 19,615 / 10,897.16 = 1.80001…
		{"floor and ceiling", []IndexMonth{{3269_00, 5448_58}, {16346_00, 5448_58}}, "1.800010"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AverageIndex(tt.months)
			if err != nil {
				t.Fatal(err)
			}
			if FormatRat(got, 6) != tt.want {
				t.Fatalf("index %s (%s), want %s", FormatRat(got, 6), got.RatString(), tt.want)
			}
		})
	}
	if got, _ := AverageIndex([]IndexMonth{{800000, 500000}, {400000, 500000}, {600000, 600000}}); got.Cmp(big.NewRat(17, 15)) != 0 {
		t.Fatalf("index %s is not exactly 17/15", got.RatString())
	}
	// Property: the index equals the plain rational mean, on both the int64 path and the big.Rat path.
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 500; i++ {
		var months []IndexMonth
		naive := new(big.Rat)
		maxWage := int64(1_000_000_00)
		if i%2 == 1 {
			maxWage = int64(MaxWage) // large, mostly coprime wages overflow int64 and take the big.Rat path
		}
		for k := 1 + rng.IntN(30); k > 0; k-- {
			m := IndexMonth{Base: record.Fen(1 + rng.Int64N(int64(MaxWage))), Wage: record.Fen(1 + rng.Int64N(maxWage))}
			months = append(months, m)
			naive.Add(naive, big.NewRat(int64(m.Base), int64(m.Wage)))
		}
		naive.Quo(naive, big.NewRat(int64(len(months)), 1))
		got, err := AverageIndex(months)
		if err != nil || got.Cmp(naive) != 0 {
			t.Fatalf("index %v, want %s (%v)", got, naive.RatString(), err)
		}
	}
	if got, _ := AverageIndex(nil); got != nil {
		t.Fatal("index of no months is not nil")
	}
	_, err := AverageIndex([]IndexMonth{{1, 0}})
	wantInvalid(t, err, "months[0].wage", "money_positive")
}
