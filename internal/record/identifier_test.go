package record

import (
	"errors"
	"testing"
	"time"
)

var today = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func TestValidateCitizenID(t *testing.T) {
	tests := []struct {
		name, id, rule string
	}{
		{"valid with X", "11010519491231002X", ""},
		{"valid old birth", "440524188001010014", "gb11643_birth_date"}, // 1880 is before 1890: implausible for a living insured person
		{"valid ordinary", "110105199003071234", ""},
		{"changed digit", "11010519491231012X", "gb11643_check"},
		{"lower-case x", "11010519491231002x", "gb11643_check"},
		{"short", "1101051949123100", "gb11643_length"},
		{"letters", "1101051949A231002X", "gb11643_digits"},
		{"no such date", "110105194902301234", "gb11643_birth_date"},
		{"future", "110105209901011234", "gb11643_birth_date"},
	}
	// Compute the real check character for the generated cases so that only the named rule can fail.
	for i, tc := range tests {
		if tc.name == "valid ordinary" || tc.name == "no such date" || tc.name == "future" {
			tests[i].id = tc.id[:17] + string(IDCheckChar(tc.id[:17]))
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCitizenID("id_number", tc.id, today)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Rule != tc.rule || e.Field != "id_number" {
				t.Fatalf("want rule %s on field id_number, got %v", tc.rule, err)
			}
		})
	}
}

func TestReferenceIDCheckCharacters(t *testing.T) {
	// Both reference numbers carry a correct check character, whatever the birth-date rule says.
	for _, id := range []string{"11010519491231002X", "440524188001010014"} {
		if c := IDCheckChar(id[:17]); c != id[17] {
			t.Errorf("%s: check %c", id, c)
		}
	}
}

func TestEveryChangedDigitIsCaught(t *testing.T) {
	id := "11010519491231002X"
	for i := 0; i < 17; i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == id[i] {
				continue
			}
			b := []byte(id)
			b[i] = d
			if ValidateCitizenID("id", string(b), today) == nil {
				t.Fatalf("changing position %d to %c was not caught: %s", i, d, b)
			}
		}
	}
}

func TestValidateUSCC(t *testing.T) {
	tests := []struct{ name, code, rule string }{
		{"reference 1", "91350100M000100Y43", ""},
		{"reference 2", "9144030071526726XG", ""},
		{"changed", "91350100M000100Y44", "gb32100_check"},
		{"letter I", "9135010IM000100Y43", "gb32100_alphabet"},
		{"short", "91350100M000100Y4", "gb32100_length"},
		{"region not digits", "91A50100M000100Y43", "gb32100_region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateUSCC("credit_code", tc.code)
			if tc.rule == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Rule != tc.rule {
				t.Fatalf("want %s, got %v", tc.rule, err)
			}
		})
	}
}

func TestUSCCCheckValueZero(t *testing.T) {
	// Find a body whose weighted sum is divisible by 31: the check value (31 − 0) mod 31 is 0, i.e. "0".
	// A naive 31 − Σ mod 31 gives 31, which is out of the alphabet.
	body := []byte("91350100M000100Y4")
	for c := 0; c < len(usccChars); c++ {
		body[16] = usccChars[c]
		sum := 0
		for i := 0; i < 17; i++ {
			sum += indexOf(body[i]) * usccWeights[i]
		}
		if sum%31 == 0 {
			code := string(body) + "0"
			if err := ValidateUSCC("c", code); err != nil {
				t.Fatalf("%s should be valid: %v", code, err)
			}
			return
		}
	}
	t.Fatal("no body with check value 0 found")
}

func indexOf(b byte) int {
	for i := 0; i < len(usccChars); i++ {
		if usccChars[i] == b {
			return i
		}
	}
	return -1
}

func TestMaskID(t *testing.T) {
	if got := MaskID("11010519491231002X"); got != "110105********002X" {
		t.Fatal(got)
	}
}

func TestMoney(t *testing.T) {
	for in, want := range map[string]Fen{"1396.82": 139682, "12": 1200, "0.5": 50, "-0.05": -5} {
		got, err := ParseYuan("m", in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "1.234", "1e3", "abc", "1.", ".5", "--1"} {
		if _, err := ParseYuan("m", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if Fen(139682).String() != "1396.82" || Fen(-5).String() != "-0.05" || Fen(7).String() != "0.07" {
		t.Error("format")
	}
}

func TestPeriod(t *testing.T) {
	p, err := ParsePeriod("period", "202401")
	if err != nil || p.AddMonths(-1) != 202312 || p.AddMonths(13) != 202502 {
		t.Fatal(p, err)
	}
	for _, bad := range []string{"202413", "2024-1", "20240", "194912"} {
		if _, err := ParsePeriod("period", bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
