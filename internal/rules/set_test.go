package rules

import (
	"errors"
	"os"
	"strings"
	"testing"

	"sirec/internal/record"
)

func mustParse(t *testing.T, src string) *Set {
	t.Helper()
	s, err := ParseSet([]byte(src))
	if err != nil {
		t.Fatalf("ParseSet: %v", err)
	}
	return s
}

func mustAdd(t *testing.T, b *Book, src string) *Set {
	t.Helper()
	s := mustParse(t, src)
	if err := b.Add(s); err != nil {
		t.Fatalf("Add: %v", err)
	}
	return s
}

func beijing(t *testing.T) *Set {
	t.Helper()
	src, err := os.ReadFile("testdata/beijing-2025.toml")
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(src))
}

// The national default holds the reference values.
func TestDefaultReferenceValues(t *testing.T) {
	s := Default()
	if !s.Complete() || s.Region() != NationalRegion {
		t.Fatalf("default: complete %v region %q", s.Complete(), s.Region())
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"average monthly wage from 65,383 a year", s.AverageMonthlyWage().String(), "5448.58"},
		{"floor 3,269.15 rounded", s.Floor().String(), "3269.00"},
		{"ceiling 16,345.75 rounded", s.Ceiling().String(), "16346.00"},
		{"rounding", s.Rounding().String(), "half_up"},
		{"credit ratio 1998", s.CreditRatio(199801).String(), "11%"},
		{"credit ratio 2005-12", s.CreditRatio(200512).String(), "11%"},
		{"credit ratio 2006", s.CreditRatio(200601).String(), "8%"},
		{"credit ratio before the account existed", s.CreditRatio(199712).String(), "0%"},
		{"late fee", s.LateFeeDailyRate().String(), "0.05%"},
		{"interest method", s.InterestMethod().String(), "monthly"},
	}
	pr, _ := s.Rates(record.Pension)
	checks = append(checks, struct{ name, got, want string }{"pension rates", pr.Employer.String() + "/" + pr.Individual.String(), "16%/8%"})
	for y, want := range map[int]string{2016: "8.31%", 2017: "7.12%", 2018: "8.29%", 2019: "7.61%", 2020: "6.04%",
		2021: "6.69%", 2022: "6.12%", 2023: "3.97%", 2024: "2.62%"} {
		r, prov, ok := s.CreditingRate(y)
		checks = append(checks, struct{ name, got, want string }{"crediting rate " + itoa(y), r.String() + boolText(prov || !ok), want})
	}
	for age, want := range map[int]int{40: 233, 47: 208, 50: 195, 55: 170, 60: 139, 63: 117, 65: 101, 70: 56} {
		got, err := s.PayoutMonths(age, 0)
		if err != nil {
			t.Fatal(err)
		}
		checks = append(checks, struct{ name, got, want string }{"payout months " + itoa(age), itoa(got), itoa(want)})
	}
	for class, want := range map[int]string{1: "0.2%", 8: "1.9%"} {
		r, _ := s.IndustryRate(class)
		checks = append(checks, struct{ name, got, want string }{"work-injury class " + itoa(class), r.String(), want})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func boolText(b bool) string {
	if b {
		return " (provisional)"
	}
	return ""
}

func TestUnpublishedCreditingRate(t *testing.T) {
	tests := []struct {
		name, rule string
		year       int
		want       string
		prov, ok   bool
	}{
		{"published", "nearest", 2020, "6.04%", false, true},
		{"nearest after", "nearest", 2030, "2.62%", true, true},
		{"nearest before the first", "nearest", 2010, "8.31%", true, true},
		{"previous after", "previous", 2025, "2.62%", true, true},
		{"previous before the first", "previous", 2010, "0%", false, false},
		{"error", "error", 2025, "0%", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBook()
			mustAdd(t, b, `version = "u"
region = "000000"
effective_from = "2000-01"
[account]
unpublished_rate = "`+tt.rule+`"`)
			r, prov, ok := b.At(NationalRegion, 202001).CreditingRate(tt.year)
			if r.String() != tt.want || prov != tt.prov || ok != tt.ok {
				t.Fatalf("rate %s provisional %v ok %v; want %s %v %v", r, prov, ok, tt.want, tt.prov, tt.ok)
			}
		})
	}
}

func TestParseSetErrors(t *testing.T) {
	head := "version = \"t1\"\nregion = \"110000\"\neffective_from = \"2025-07\"\n"
	tests := []struct {
		name, src, field, rule string
	}{
		{"missing version", "region = \"110000\"\neffective_from = \"2025-07\"\n", "version", "required"},
		{"short region", "version = \"v\"\nregion = \"11000\"\neffective_from = \"2025-07\"\n", "region", "region_code"},
		{"missing effective_from", "version = \"v\"\nregion = \"110000\"\n", "effective_from", "required"},
		{"bad month", "version = \"v\"\nregion = \"110000\"\neffective_from = \"2025-13\"\n", "effective_from", "month_format"},
		{"unknown top-level key", head + "floor = \"1\"\n", "floor", "unknown_field"},
		{"unknown nested key", head + "[rates.pension]\nemploye = \"16%\"\n", "rates.pension.employe", "unknown_field"},
		{"unknown insurance type", head + "[rates.pensions]\nemployer = \"16%\"\n", "rates.pensions", "insurance_type"},
		{"float rate", head + "[rates.pension]\nemployer = 0.16\n", "rates.pension.employer", "rate_format"},
		{"bad rate", head + "[rates.medical]\nindividual = \"2 %\"\n", "rates.medical.individual", "rate_format"},
		{"rate over 100%", head + "[rates.medical]\nemployer = \"120%\"\n", "rates.medical.employer", "rate_range"},
		{"float money", head + "[contribution_base]\nfloor = 7162.5\n", "contribution_base.floor", "money_format"},
		{"money with three decimals", head + "[contribution_base]\nfloor = \"7162.505\"\n", "contribution_base.floor", "money_format"},
		{"zero money", head + "[contribution_base]\nceiling = \"0\"\n", "contribution_base.ceiling", "money_range"},
		{"floor above ceiling", head + "[contribution_base]\nfloor = \"9\"\nceiling = \"8\"\n", "contribution_base.floor", "floor_not_above_ceiling"},
		{"two average wages", head + "[contribution_base]\naverage_wage_annual = \"1\"\naverage_wage_monthly = \"1\"\n", "contribution_base.average_wage_monthly", "one_of"},
		{"bad base rounding", head + "[contribution_base]\nround = \"nearest\"\n", "contribution_base.round", "setting_value"},
		{"bad amount rounding", head + "rounding = \"bankers\"\n", "rounding", "setting_value"},
		{"bad interest method", head + "[account]\ninterest_method = \"daily\"\n", "account.interest_method", "setting_value"},
		{"bad era month", head + "[account.credit_ratio]\n\"2006\" = \"8%\"\n", "account.credit_ratio.2006", "month_format"},
		{"bad year", head + "[account.crediting_rates]\n1900 = \"8%\"\n", "account.crediting_rates.1900", "year_format"},
		{"class 9", head + "[work_injury_classes]\n9 = \"2%\"\n", "work_injury_classes.9", "industry_class_range"},
		{"payout months as string", head + "[pension.payout_months]\n60 = \"139\"\n", "pension.payout_months.60", "toml_integer"},
		{"payout months too many", head + "[pension.payout_months]\n60 = 700\n", "pension.payout_months.60", "number_range"},
		{"bad formula", head + "[pension.transitional]\nformula = \"c_i\"\n", "pension.transitional.formula", "setting_value"},
		{"unknown category", head + "[retirement.female_60]\noriginal_age = 60\n", "retirement.female_60", "retirement_category"},
		{"retirement age out of range", head + "[retirement.male]\noriginal_age = 30\n", "retirement.male.original_age", "number_range"},
		{"late fee above 1% a day", head + "[late_fee]\ndaily_rate = \"2%\"\n", "late_fee.daily_rate", "rate_range"},
		{"table given a value", head + "account = 1\n", "account", "toml_table"},
		{"toml syntax", head + "[rates\n", "", "toml_syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSet([]byte(tt.src))
			if tt.field == "" {
				var e *record.Error
				if !errors.As(err, &e) || e.Rule != tt.rule {
					t.Fatalf("error = %v, want rule %s", err, tt.rule)
				}
				return
			}
			wantInvalid(t, err, tt.field, tt.rule)
		})
	}
}

// A set and its canonical encoding are interchangeable: parse(canonical) is equal and encodes the same bytes.
func TestCanonicalRoundTrip(t *testing.T) {
	b := NewBook()
	bj := beijing(t)
	if err := b.Add(bj); err != nil {
		t.Fatal(err)
	}
	odd := mustParse(t, `version = "quote \" and \\ and 中文"
region = "310000"
effective_from = "202501"
title = "上海 \"test\""
[account.crediting_rates]
"2025" = "0.0261"
[rates.medical]
employer = "0.09"
[benefit_wages]
2025 = 12345
`)
	for _, s := range []*Set{Default(), bj, odd, b.At("110105", 202508)} {
		t.Run(s.Version(), func(t *testing.T) {
			c := s.Canonical()
			back, err := ParseSet(c)
			if err != nil {
				t.Fatalf("canonical does not parse: %v\n%s", err, c)
			}
			if !back.Equal(s) || string(back.Canonical()) != string(c) {
				t.Fatalf("round trip differs:\n%s\n---\n%s", c, back.Canonical())
			}
			if back.Version() != s.Version() || back.Region() != s.Region() || back.EffectiveFrom() != s.EffectiveFrom() || back.Title() != s.Title() {
				t.Fatalf("identity differs after round trip")
			}
		})
	}
	if !strings.Contains(string(odd.Canonical()), `employer = "9%"`) || !strings.Contains(string(odd.Canonical()), `2025 = "12345.00"`) {
		t.Fatalf("canonical does not normalise values:\n%s", odd.Canonical())
	}
	if string(Default().Canonical()) == string(bj.Canonical()) {
		t.Fatal("different sets encode the same")
	}
}

// Beijing 2025: floor 7,162 and ceiling 35,811 from 2025-07, for Beijing and its districts only.
func TestRegionOverrideBeijing(t *testing.T) {
	b := NewBook()
	if err := b.Add(beijing(t)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		region         string
		period         record.Period
		floor, ceiling string
		version        string
	}{
		{"Beijing from July 2025", "110000", 202507, "7162.00", "35811.00", "national-default-1+beijing-2025.1"},
		{"Beijing later", "110000", 202806, "7162.00", "35811.00", "national-default-1+beijing-2025.1"},
		{"a Beijing district inherits", "110105", 202508, "7162.00", "35811.00", "national-default-1+beijing-2025.1"},
		{"Beijing before July 2025", "110000", 202506, "3269.00", "16346.00", "national-default-1"},
		{"Shanghai is national", "310000", 202507, "3269.00", "16346.00", "national-default-1"},
		{"national", "000000", 202507, "3269.00", "16346.00", "national-default-1"},
		{"empty region is national", "", 202507, "3269.00", "16346.00", "national-default-1"},
		{"before the default took effect", "110000", 199001, "3269.00", "16346.00", "national-default-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := b.At(tt.region, tt.period)
			if s.Floor().String() != tt.floor || s.Ceiling().String() != tt.ceiling || s.Version() != tt.version {
				t.Fatalf("floor %s ceiling %s version %s; want %s %s %s", s.Floor(), s.Ceiling(), s.Version(), tt.floor, tt.ceiling, tt.version)
			}
		})
	}
	s := b.At("110000", 202507)
	// Everything the override leaves out is inherited.
	if pr, _ := s.Rates(record.Pension); pr.Employer != Percent(16) || s.AverageMonthlyWage().String() != "5448.58" {
		t.Fatalf("inherited rules lost: %v %s", pr, s.AverageMonthlyWage())
	}
	amounts := []struct {
		name, wage, base, employer, individual string
	}{
		{"wage above the ceiling", "40000", "35811.00", "5729.76", "2864.88"},
		{"wage below the floor", "5000", "7162.00", "1145.92", "572.96"},
		{"wage between", "10000.50", "10000.50", "1600.08", "800.04"},
	}
	for _, tt := range amounts {
		t.Run(tt.name, func(t *testing.T) {
			a, err := s.Contribution(record.Pension, yuan(t, tt.wage), 0)
			if err != nil {
				t.Fatal(err)
			}
			if a.Base.String() != tt.base || a.Employer.String() != tt.employer || a.Individual.String() != tt.individual {
				t.Fatalf("got %s %s %s, want %s %s %s", a.Base, a.Employer, a.Individual, tt.base, tt.employer, tt.individual)
			}
		})
	}
}

func TestBookAdd(t *testing.T) {
	const bj2 = `version = "beijing-2025.2"
region = "110000"
effective_from = "2025-07"
[rates.medical]
employer = "9%"
`
	t.Run("same set twice is harmless", func(t *testing.T) {
		b := NewBook()
		if err := b.Add(beijing(t)); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(beijing(t)); err != nil {
			t.Fatalf("re-adding the same set: %v", err)
		}
		if n := len(b.Sets()); n != 2 {
			t.Fatalf("book holds %d sets, want 2", n)
		}
	})
	t.Run("same identity with other rules is a conflict", func(t *testing.T) {
		b := NewBook()
		b.Add(beijing(t))
		other := mustParse(t, `version = "beijing-2025.1"
region = "110000"
effective_from = "2025-07"
[contribution_base]
floor = "7000"
`)
		err := b.Add(other)
		if record.ErrorCode(err) != record.EConflict || !strings.Contains(err.Error(), "beijing-2025.1") {
			t.Fatalf("error = %v, want a conflict naming the version", err)
		}
		if b.At("110000", 202507).Floor().String() != "7162.00" {
			t.Fatal("a refused set changed the rules")
		}
	})
	t.Run("a new version for the same month replaces the earlier", func(t *testing.T) {
		b := NewBook()
		b.Add(beijing(t))
		mustAdd(t, b, bj2)
		s := b.At("110000", 202507)
		pr, _ := s.Rates(record.Medical)
		if s.Floor().String() != "3269.00" || pr.Employer != Percent(9) || s.Version() != "national-default-1+beijing-2025.2" {
			t.Fatalf("floor %s medical %s version %s: the correction did not replace the set", s.Floor(), pr.Employer, s.Version())
		}
	})
	t.Run("a later set of a region builds on its earlier one", func(t *testing.T) {
		b := NewBook()
		b.Add(beijing(t))
		mustAdd(t, b, `version = "beijing-2026.1"
region = "110000"
effective_from = "2026-07"
[rates.medical]
employer = "9%"
`)
		s := b.At("110000", 202607)
		pr, _ := s.Rates(record.Medical)
		if s.Floor().String() != "7162.00" || pr.Employer != Percent(9) {
			t.Fatalf("floor %s medical %s", s.Floor(), pr.Employer)
		}
	})
	t.Run("a new average wage replaces inherited explicit limits", func(t *testing.T) {
		b := NewBook()
		b.Add(beijing(t))
		mustAdd(t, b, `version = "beijing-2026.1"
region = "110000"
effective_from = "2026-07"
[contribution_base]
average_wage_monthly = "12000"
`)
		s := b.At("110000", 202607)
		if s.Floor().String() != "7200.00" || s.Ceiling().String() != "36000.00" {
			t.Fatalf("floor %s ceiling %s, want 7200.00 36000.00", s.Floor(), s.Ceiling())
		}
	})
	t.Run("a national update reaches every region", func(t *testing.T) {
		b := NewBook()
		b.Add(beijing(t))
		mustAdd(t, b, `version = "national-2025-rate"
region = "000000"
effective_from = "2025-06"
[account.crediting_rates]
2025 = "2.5%"
`)
		for _, region := range []string{"000000", "110105", "440300"} {
			r, prov, ok := b.At(region, 202512).CreditingRate(2025)
			if r.String() != "2.5%" || prov || !ok {
				t.Fatalf("%s: 2025 rate %s provisional %v", region, r, prov)
			}
			if r, _, _ := b.At(region, 202512).CreditingRate(2016); r.String() != "8.31%" {
				t.Fatalf("%s: earlier rates lost: 2016 %s", region, r)
			}
		}
		if got := b.At("110000", 202512).Version(); got != "national-2025-rate+beijing-2025.1" {
			t.Fatalf("version %q", got)
		}
	})
	t.Run("province, prefecture and county layer in order", func(t *testing.T) {
		b := NewBook()
		mustAdd(t, b, "version = \"gd\"\nregion = \"440000\"\neffective_from = \"2024-01\"\n[rates.medical]\nemployer = \"8%\"\nindividual = \"2%\"\n")
		mustAdd(t, b, "version = \"sz\"\nregion = \"440300\"\neffective_from = \"2024-01\"\n[rates.medical]\nemployer = \"6%\"\n")
		mustAdd(t, b, "version = \"ft\"\nregion = \"440304\"\neffective_from = \"2024-07\"\n[rates.medical]\nindividual = \"1%\"\n")
		tests := []struct {
			region   string
			period   record.Period
			emp, ind Rate
		}{
			{"440100", 202401, Percent(8), Percent(2)},
			{"440300", 202401, Percent(6), Percent(2)},
			{"440305", 202408, Percent(6), Percent(2)},
			{"440304", 202406, Percent(6), Percent(2)},
			{"440304", 202407, Percent(6), Percent(1)},
			{"440304", 202312, Percent(15) / 2, Percent(2)},
		}
		for _, tt := range tests {
			pr, _ := b.At(tt.region, tt.period).Rates(record.Medical)
			if pr.Employer != tt.emp || pr.Individual != tt.ind {
				t.Errorf("%s %d: medical %s/%s, want %s/%s", tt.region, tt.period, pr.Employer, pr.Individual, tt.emp, tt.ind)
			}
		}
	})
	t.Run("merged rules must stay consistent", func(t *testing.T) {
		b := NewBook()
		err := b.Add(mustParse(t, "version = \"x\"\nregion = \"320000\"\neffective_from = \"2025-01\"\n[contribution_base]\nfloor = \"20000\"\n"))
		wantInvalid(t, err, "contribution_base.floor", "floor_not_above_ceiling")
		if !strings.Contains(err.Error(), "320000") {
			t.Fatalf("error does not say where: %v", err)
		}
		if len(b.Sets()) != 1 {
			t.Fatal("a refused set was kept")
		}
	})
	t.Run("nil", func(t *testing.T) {
		wantInvalid(t, NewBook().Add(nil), "", "required")
	})
	t.Run("the zero Book holds the default", func(t *testing.T) {
		var b Book
		if b.At("110000", 202501).Floor().String() != "3269.00" {
			t.Fatal("zero Book")
		}
		if err := b.Add(beijing(t)); err != nil || len(b.Sets()) != 2 {
			t.Fatalf("zero Book Add: %v, %d sets", err, len(b.Sets()))
		}
	})
}

func TestBaseRounding(t *testing.T) {
	tests := []struct {
		round, floor, ceiling string
	}{
		{"yuan_half_up", "3269.00", "16346.00"},
		{"yuan_truncate", "3269.00", "16345.00"},
		{"yuan_up", "3270.00", "16346.00"},
		{"fen_half_up", "3269.15", "16345.75"},
		{"fen_truncate", "3269.15", "16345.75"},
		{"fen_up", "3269.16", "16345.76"},
	}
	for _, tt := range tests {
		t.Run(tt.round, func(t *testing.T) {
			b := NewBook()
			// 65,383.01 a year: the floor is 3,269.1505 and the ceiling 16,345.7525 before rounding.
			mustAdd(t, b, "version = \"r\"\nregion = \"000000\"\neffective_from = \"2025-01\"\n[contribution_base]\naverage_wage_annual = \"65383.01\"\nround = \""+tt.round+"\"\n")
			s := b.At(NationalRegion, 202501)
			if s.Floor().String() != tt.floor || s.Ceiling().String() != tt.ceiling {
				t.Fatalf("floor %s ceiling %s, want %s %s", s.Floor(), s.Ceiling(), tt.floor, tt.ceiling)
			}
		})
	}
}

func TestOverrideIsNotForCalculations(t *testing.T) {
	s := beijing(t)
	if s.Complete() {
		t.Fatal("an override reports itself complete")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Book.At") {
			t.Fatalf("panic = %v", r)
		}
	}()
	s.Floor()
}

func TestMergedSetsValidate(t *testing.T) {
	b := NewBook()
	if err := b.Add(beijing(t)); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Set{Default(), b.At("110000", 202507), b.At("310000", 202507)} {
		if err := s.Validate(); err != nil {
			t.Fatalf("%s: %v", s.Version(), err)
		}
	}
	if err := beijing(t).Validate(); err != nil {
		t.Fatal(err)
	}
}

// Readers never see a half-built book while sets are added (run with -race).
func TestBookConcurrent(t *testing.T) {
	b := NewBook()
	done := make(chan bool)
	go func() {
		for y := 2025; y < 2045; y++ {
			s, err := ParseSet([]byte("version = \"v" + itoa(y) + "\"\nregion = \"110000\"\neffective_from = \"" + itoa(y) + "-07\"\n[contribution_base]\nfloor = \"" + itoa(y*4) + "\"\nceiling = \"35811\"\n"))
			if err != nil {
				t.Error(err)
				break
			}
			if err := b.Add(s); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
	}()
	d := NewDeriver(b)
	var out PersonDerived
	var facts PersonFacts
	for i := 0; ; i++ {
		select {
		case <-done:
			if got := b.At("110000", 204407).Floor().String(); got != "8176.00" {
				t.Fatalf("floor %s after all adds", got)
			}
			return
		default:
		}
		if f := b.At("110000", 203001).Floor(); f != 3269_00 && (f < 8100_00 || f > 8176_00) {
			t.Fatalf("floor %s is from no set", f)
		}
		city.person(i, &facts)
		if err := d.Derive("110000", facts, 2024, &out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFromFacts(t *testing.T) {
	c := FromPosted(&record.ContributionPosted{Type: record.Pension, Period: 202401, Wage: 800000, Status: record.StatusPaid, LateDays: 3}, "110000", 2)
	if c != (Contribution{Type: record.Pension, Period: 202401, Wage: 800000, Region: "110000", Status: record.StatusPaid, IndustryClass: 2, LateDays: 3}) {
		t.Fatalf("%+v", c)
	}
	if tr := FromTransferred(&record.AccountTransferred{Period: 202401, Amount: 5, Direction: "out"}); !tr.Out || tr.Amount != 5 {
		t.Fatalf("%+v", tr)
	}
	if s := FromDeemed(&record.DeemedRecorded{From: 199001, To: 199712}); s != (Span{Type: record.Pension, From: 199001, To: 199712}) {
		t.Fatalf("%+v", s)
	}
}
