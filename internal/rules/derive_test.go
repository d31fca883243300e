package rules

import (
	"math/big"
	"testing"
	"time"

	"sirec/internal/record"
)

func TestDerivePerson(t *testing.T) {
	b := NewBook()
	if err := b.Add(beijing(t)); err != nil {
		t.Fatal(err)
	}
	var in PersonFacts
	// 2023–2024: pension on 8,000.00 a month in the person's region (national rules).
	for p := record.Period(202301); p <= 202412; p = p.AddMonths(1) {
		in.Contributions = append(in.Contributions, Contribution{Type: record.Pension, Period: p, Wage: yuan(t, "8000")})
	}
	// Medical for one month, paid late.
	in.Contributions = append(in.Contributions, Contribution{Type: record.Medical, Period: 202412, Wage: yuan(t, "4212"), LateDays: 10})
	// 2025-08 paid twice: in Beijing on 5,000.00 (clamped up to 7,162.00) and at home on 8,000.00.
	in.Contributions = append(in.Contributions,
		Contribution{Type: record.Pension, Period: 202508, Wage: yuan(t, "5000"), Region: "110105"},
		Contribution{Type: record.Pension, Period: 202508, Wage: yuan(t, "8000")},
		Contribution{Type: record.Pension, Period: 202509, Wage: yuan(t, "8000"), Status: record.StatusArrears},
	)
	in.Deemed = []Span{{From: 202210, To: 202301, Type: ""}} // 2022-10 … 2023-01: three deemed months not paid
	out, err := DerivePerson(b, "440300", in, 2024)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contributions) != len(in.Contributions) {
		t.Fatalf("%d derived contributions for %d", len(out.Contributions), len(in.Contributions))
	}
	c0 := out.Contributions[0]
	if c0.Base.String() != "8000.00" || c0.Employer.String() != "1280.00" || c0.Individual.String() != "640.00" || c0.Credit.String() != "640.00" || c0.Set.Version() != "national-default-1" {
		t.Fatalf("first contribution %+v", c0)
	}
	med := out.Contributions[24]
	// 315.90 + 84.24 = 400.14 × 0.05 % × 10 = 2.0007 → 2.00
	if med.Employer.String() != "315.90" || med.Individual.String() != "84.24" || med.Credit != 0 || med.LateFee.String() != "2.00" {
		t.Fatalf("medical %+v", med)
	}
	bj := out.Contributions[25]
	if bj.Base.String() != "7162.00" || bj.Credit.String() != "572.96" || bj.Set.Version() != "national-default-1+beijing-2025.1" {
		t.Fatalf("Beijing month %+v (%s)", bj, bj.Set.Version())
	}
	if arrears := out.Contributions[27]; arrears.Credit != 0 || arrears.Employer.String() != "1280.00" {
		t.Fatalf("arrears month %+v", arrears)
	}
	// Months: 24 + 1 (2025-08 counted once) paid; deemed 2022-10…12 (2023-01 is paid).
	if out.Months.Paid.Of(record.Pension) != 25 || out.Months.Deemed.Of(record.Pension) != 3 || out.Months.Total(record.Pension) != 28 ||
		out.Months.Paid.Of(record.Medical) != 1 {
		t.Fatalf("months %+v", out.Months)
	}
	// Credits: 640.00 for each 2023–2024 month, and 2025-08 both credits (572.96 + 640.00).
	if len(out.Credits) != 25 || out.Credits[24] != (MonthCredit{202508, yuan(t, "1212.96")}) {
		t.Fatalf("credits %+v", out.Credits)
	}
	// Years to 2024 only: the same as the worked balances.
	if len(out.Years) != 2 || out.Years[0].Closing.String() != "7845.15" || out.Years[1].Closing.String() != "15839.68" || out.Balance().String() != "15839.68" {
		t.Fatalf("years %+v", out.Years)
	}
	// Index: 24 months of 8,000 / 5,448.58 and 2025-08 once, with its higher base (8,000).
	if want := big.NewRat(800000, 544858); out.Index.Cmp(want) != 0 {
		t.Fatalf("index %s, want %s", out.Index.RatString(), want.RatString())
	}

	// Through 0: to the last year with a fact.
	all, err := DerivePerson(b, "440300", in, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(all.Years); n != 3 || all.Years[2].Year != 2025 || all.Years[2].Credits.String() != "1212.96" || !all.Years[2].Provisional {
		t.Fatalf("years to the last fact: %+v", all.Years)
	}
}

func TestDeriveMatchesTheCalculations(t *testing.T) {
	b := NewBook()
	in := PersonFacts{Transfers: []Transfer{{Period: 202407, Amount: yuan(t, "10000.00")}, {Period: 202410, Out: true}}}
	for p := record.Period(202401); p <= 202412; p = p.AddMonths(1) {
		in.Contributions = append(in.Contributions, Contribution{Type: record.Pension, Period: p, Wage: yuan(t, "8000")})
	}
	out, err := DerivePerson(b, "110000", in, 2024)
	if err != nil {
		t.Fatal(err)
	}
	want, err := b.Balances("110000", out.Credits, in.Transfers, 2024)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Years) != 1 || out.Years[0] != want[0] || out.Years[0].TransfersOut.String() != "16564.19" || out.Years[0].Closing.String() != "1284.19" {
		t.Fatalf("derive %+v\nbalances %+v", out.Years, want)
	}
}

func TestDeriveInvalid(t *testing.T) {
	b := NewBook()
	ok := Contribution{Type: record.Pension, Period: 202401, Wage: 800000}
	tests := []struct {
		name, region string
		in           PersonFacts
		field, rule  string
	}{
		{"bad region", "11", PersonFacts{}, "region", "region_code"},
		{"bad type", "110000", PersonFacts{Contributions: []Contribution{ok, {Type: "life", Period: 202401, Wage: 1}}}, "contributions[1].type", "insurance_type"},
		{"bad period", "110000", PersonFacts{Contributions: []Contribution{{Type: record.Pension, Period: 202400, Wage: 1}}}, "contributions[0].period", "period_month"},
		{"zero wage", "110000", PersonFacts{Contributions: []Contribution{{Type: record.Pension, Period: 202401}}}, "contributions[0].wage", "wage_range"},
		{"bad status", "110000", PersonFacts{Contributions: []Contribution{{Type: record.Pension, Period: 202401, Wage: 1, Status: "maybe"}}}, "contributions[0].status", "contribution_status"},
		{"bad employer region", "110000", PersonFacts{Contributions: []Contribution{{Type: record.Pension, Period: 202401, Wage: 1, Region: "x"}}}, "contributions[0].region", "region_code"},
		{"deemed backwards", "110000", PersonFacts{Deemed: []Span{{From: 199001, To: 198912}}}, "deemed[0].to", "period_order"},
		{"negative transfer", "110000", PersonFacts{Transfers: []Transfer{{Period: 202401, Amount: -1}}}, "transfers[0].amount", "amount_range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DerivePerson(b, tt.region, tt.in, 2024)
			wantInvalid(t, err, tt.field, tt.rule)
		})
	}
	empty, err := DerivePerson(b, "110000", PersonFacts{}, 2024)
	if err != nil || empty.Index != nil || len(empty.Years) != 0 {
		t.Fatalf("no facts: %+v %v", empty, err)
	}
}

// Reusing a Deriver and a PersonDerived gives the same answers as fresh ones.
func TestDeriverReuse(t *testing.T) {
	b := NewBook()
	d := NewDeriver(b)
	var out PersonDerived
	var facts PersonFacts
	for i := 0; i < 50; i++ {
		city.person(i, &facts)
		if err := d.Derive("110105", facts, 2024, &out); err != nil {
			t.Fatal(err)
		}
		fresh, err := DerivePerson(b, "110105", facts, 2024)
		if err != nil {
			t.Fatal(err)
		}
		if len(fresh.Years) != len(out.Years) || out.Months != fresh.Months || out.Index.Cmp(fresh.Index) != 0 || out.Balance() != fresh.Balance() {
			t.Fatalf("person %d: reused %+v, fresh %+v", i, out.Years, fresh.Years)
		}
		for k := range fresh.Contributions {
			if fresh.Contributions[k] != out.Contributions[k] {
				t.Fatalf("person %d contribution %d differs", i, k)
			}
		}
	}
}

// synthCity generates a city's persons deterministically, one at a time, into a reused PersonFacts.
type synthCity struct{}

var city synthCity

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// person fills f with person i: 120 months of pension, 2015-01 to 2024-12, on a wage drifting around a level
// between 2,000 and 40,000 yuan; one in ten worked the last two years in Beijing, one in twenty has deemed
// years, one in fifty brought an account in by transfer.
func (synthCity) person(i int, f *PersonFacts) {
	f.Contributions, f.Deemed, f.Transfers = f.Contributions[:0], f.Deemed[:0], f.Transfers[:0]
	seed := splitmix(uint64(i))
	level := 2000_00 + int64(seed%38000_00)
	beijing := seed%10 == 0
	for m := 0; m < 120; m++ {
		seed = splitmix(seed)
		p := record.Period(201501).AddMonths(m)
		c := Contribution{Type: record.Pension, Period: p, Wage: record.Fen(level + int64(seed%1000_00) - 500_00)}
		if beijing && p >= 202301 {
			c.Region = "110000"
		}
		f.Contributions = append(f.Contributions, c)
	}
	if i%20 == 0 {
		f.Deemed = append(f.Deemed, Span{From: 199001, To: 199712})
	}
	if i%50 == 0 {
		f.Transfers = append(f.Transfers, Transfer{Period: 201806, Amount: 25000_00})
	}
}

// BenchmarkDeriveCity derives every value of a city of 100,000 persons with 10 years of monthly pension
// contributions each (12 million contributions): one operation is the whole city. The facts are generated on
// the fly into a reused buffer (a small part of the time), as a projection rebuild streams them.
func BenchmarkDeriveCity(b *testing.B) {
	const persons = 100_000
	book := NewBook()
	bj, err := ParseSet([]byte("version = \"bj\"\nregion = \"110000\"\neffective_from = \"2023-07\"\n[contribution_base]\nfloor = \"7162\"\nceiling = \"35811\"\n"))
	if err != nil {
		b.Fatal(err)
	}
	if err := book.Add(bj); err != nil {
		b.Fatal(err)
	}
	d := NewDeriver(book)
	var facts PersonFacts
	var out PersonDerived
	var total record.Fen
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for n := 0; n < b.N; n++ {
		for i := 0; i < persons; i++ {
			city.person(i, &facts)
			if err := d.Derive("440300", facts, 2024, &out); err != nil {
				b.Fatal(err)
			}
			total += out.Balance()
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(persons*b.N)/elapsed.Seconds(), "persons/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/city")
	if total <= 0 {
		b.Fatal("no balances")
	}
}
