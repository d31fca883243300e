package rules

import (
	"errors"
	"go/parser"
	"go/token"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sirec/internal/record"
)

// yuan parses an amount of yuan or fails the test.
func yuan(t testing.TB, s string) record.Fen {
	t.Helper()
	f, err := record.ParseYuan("", s)
	if err != nil {
		t.Fatalf("bad amount in test: %v", err)
	}
	return f
}

func rate(t testing.TB, s string) Rate {
	t.Helper()
	r, err := ParseRate("", s)
	if err != nil {
		t.Fatalf("bad rate in test: %v", err)
	}
	return r
}

// wantInvalid checks that err is an invalid *record.Error naming field, and rule when rule is not "".
func wantInvalid(t *testing.T, err error, field, rule string) {
	t.Helper()
	var e *record.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *record.Error on field %q", err, err, field)
	}
	if e.Code != record.EInvalid || e.Field != field || (rule != "" && e.Rule != rule) {
		t.Fatalf("error = code %q field %q rule %q (%v); want invalid, field %q, rule %q", e.Code, e.Field, e.Rule, e, field, rule)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		name, in string
		want     Rate
		str      string
	}{
		{"percent", "16%", 160_000_000, "16%"},
		{"percent with decimals", "7.5%", 75_000_000, "7.5%"},
		{"small percent", "0.05%", 500_000, "0.05%"},
		{"crediting rate", "2.62%", 26_200_000, "2.62%"},
		{"decimal", "0.16", 160_000_000, "16%"},
		{"decimal crediting rate", "0.0262", 26_200_000, "2.62%"},
		{"over one", "300%", 3_000_000_000, "300%"},
		{"zero", "0%", 0, "0%"},
		{"trailing zeros", "8.3100%", 83_100_000, "8.31%"},
		{"a billionth", "0.000000001", 1, "0.0000001%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRate("r", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || got.String() != tt.str {
				t.Fatalf("ParseRate(%q) = %d %q, want %d %q", tt.in, got, got, tt.want, tt.str)
			}
		})
	}
	bad := []struct{ name, in, rule string }{
		{"empty", "", "rate_format"},
		{"negative", "-1%", "rate_format"},
		{"space", "16 %", "rate_format"},
		{"comma", "0,16", "rate_format"},
		{"dot only", "1.%", "rate_format"},
		{"too precise", "0.0000000001", "rate_precision"},
		{"too precise percent", "0.00000001%", "rate_precision"},
		{"huge", "10000000%", "rate_range"},
	}
	for _, tt := range bad {
		t.Run("bad "+tt.name, func(t *testing.T) {
			_, err := ParseRate("rates.pension.employer", tt.in)
			wantInvalid(t, err, "rates.pension.employer", tt.rule)
		})
	}
}

// The amounts of REFERENCE.md: each rounded to the fen once, half-up; truncation is the older pages' rule.
func TestApplyRateReference(t *testing.T) {
	tests := []struct {
		name, base, rate string
		mode             Rounding
		want             string
	}{
		{"unemployment 2575 × 0.5% half-up", "2575", "0.5%", HalfUp, "12.88"},
		{"unemployment 2575 × 0.5% truncated", "2575", "0.5%", Truncate, "12.87"},
		{"medical 4212 × 7.5%", "4212", "7.5%", HalfUp, "315.90"},
		{"medical individual 21060 × 2%", "21060", "2%", HalfUp, "421.20"},
		{"pension 5448.58 × 8%", "5448.58", "8%", HalfUp, "435.89"},
		{"pension 5448.58 × 8% truncated", "5448.58", "8%", Truncate, "435.88"},
		{"negative amounts round symmetrically", "-2575", "0.5%", HalfUp, "-12.88"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ApplyRate(yuan(t, tt.base), rate(t, tt.rate), tt.mode)
			if got.String() != tt.want {
				t.Fatalf("%s × %s = %s, want %s", tt.base, tt.rate, got, tt.want)
			}
		})
	}
}

func TestRoundRat(t *testing.T) {
	tests := []struct {
		name     string
		num, den int64
		mode     Rounding
		want     record.Fen
	}{
		{"half up", 25, 2, HalfUp, 13},
		{"below half", 249, 20, HalfUp, 12},
		{"truncate", 25, 2, Truncate, 12},
		{"negative half", -25, 2, HalfUp, -13},
		{"up", 241, 20, roundUp, 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RoundRat(big.NewRat(tt.num, tt.den), tt.mode); got != tt.want {
				t.Fatalf("round %d/%d = %d, want %d", tt.num, tt.den, got, tt.want)
			}
		})
	}
	huge, _ := new(big.Rat).SetString("123456789012345678901234567/1000000000000")
	if got := RoundRat(huge, HalfUp); got != 123456789012346 {
		t.Fatalf("round of a huge rational = %d", got)
	}
}

func TestDivRound128(t *testing.T) {
	y := mul64(1<<62, 6) // 1.5 × 2^64, beyond 64 bits before the division
	if got := y.divRound(3, HalfUp); got != 1<<63 {
		t.Fatalf("1.5×2^64 / 3 = %d, want 2^63", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a quotient beyond 64 bits did not panic")
		}
	}()
	mul64(1<<63, 4).divRound(2, HalfUp)
}

// No float may compute money: the package's source mentions no float type at all.
func TestNoFloat(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution); err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"float32", "float64", "big.Float", "strconv.ParseFloat"} {
			if strings.Contains(string(src), w) {
				t.Errorf("%s uses %s", f, w)
			}
		}
	}
}
