package record

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Fen is an amount of money in fen (分), the smallest unit of the yuan. Money is never a float (I4).
type Fen int64

// String formats the amount as yuan with two decimals: 139682 → "1396.82", -5 → "-0.05".
func (f Fen) String() string {
	sign := ""
	v := int64(f)
	if v < 0 {
		sign = "-"
		v = -v
	}
	return sign + strconv.FormatInt(v/100, 10) + "." + pad2(v%100)
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// ParseYuan parses a decimal string of yuan with at most two decimals ("1396.82", "12", "-0.5") into fen.
// field names the input for the error.
func ParseYuan(field, s string) (Fen, error) {
	orig := s
	if s == "" {
		return 0, Invalid(field, "money_format", "amount is empty; write yuan with up to two decimals, e.g. \"1396.82\"")
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) || !digits(whole) || !digits(frac) || len(whole) > 15 {
		return 0, Invalid(field, "money_format", "%q is not an amount of yuan with up to two decimals, e.g. \"1396.82\"", orig)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	var fr int64
	if frac != "" {
		fr, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			fr *= 10
		}
	}
	v := w*100 + fr
	if neg {
		v = -v
	}
	return Fen(v), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MarshalJSON writes the amount as a string of yuan, as the API carries money.
func (f Fen) MarshalJSON() ([]byte, error) {
	return []byte(`"` + f.String() + `"`), nil
}

// UnmarshalJSON reads a string of yuan.
func (f *Fen) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return Invalid("", "money_format", "amount must be a string of yuan such as \"1396.82\"")
	}
	v, err := ParseYuan("", s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}
