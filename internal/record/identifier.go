package record

import (
	"strings"
	"time"
)

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idChecks = "10X98765432"

// ValidateCitizenID checks an 18-character citizen ID number (公民身份号码) by GB 11643-1999: digits, a
// plausible birth date (not before 1890, not after today) and the check character. today is the civil date
// the check is made on. The lower-case x is refused so that one person has one spelling.
func ValidateCitizenID(field, id string, today time.Time) error {
	if len(id) != 18 {
		return Invalid(field, "gb11643_length", "citizen ID number must have 18 characters, not %d", len([]rune(id)))
	}
	if !digits(id[:17]) {
		return Invalid(field, "gb11643_digits", "the first 17 characters of a citizen ID number must be digits")
	}
	last := id[17]
	if !(last >= '0' && last <= '9' || last == 'X') {
		return Invalid(field, "gb11643_check", "the check character must be a digit or an upper-case X")
	}
	birth, err := time.Parse("20060102", id[6:14])
	if err != nil {
		return Invalid(field, "gb11643_birth_date", "characters 7–14 (%s) are not a real date", id[6:14])
	}
	if birth.Year() < 1890 || birth.After(today) {
		return Invalid(field, "gb11643_birth_date", "birth date %s is not plausible", birth.Format("2006-01-02"))
	}
	if c := IDCheckChar(id[:17]); c != last {
		return Invalid(field, "gb11643_check", "check character is %c but the first 17 digits give %c", last, c)
	}
	return nil
}

// IDCheckChar returns the GB 11643 check character for the first 17 digits of a citizen ID number.
func IDCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idChecks[sum%11]
}

// BirthFromID returns the birth date in a valid citizen ID number.
func BirthFromID(id string) time.Time {
	t, _ := time.Parse("20060102", id[6:14])
	return t
}

// SexFromID returns "male" for an odd sequence digit and "female" for an even one.
func SexFromID(id string) string {
	if (id[16]-'0')%2 == 1 {
		return "male"
	}
	return "female"
}

// MaskID masks a citizen ID number for logs and lists (I7): "110105194912310021" → "110105********0021".
func MaskID(id string) string {
	if len(id) != 18 {
		return strings.Repeat("*", len(id))
	}
	return id[:6] + "********" + id[14:]
}

const usccChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidateUSCC checks an 18-character unified social credit code (统一社会信用代码) by GB 32100-2015: the
// alphabet without I, O, S, V, Z, a 6-digit region code in characters 3–8, and the check character, including
// the case where the check value is 0.
func ValidateUSCC(field, code string) error {
	if len(code) != 18 {
		return Invalid(field, "gb32100_length", "unified social credit code must have 18 characters, not %d", len([]rune(code)))
	}
	for i := 0; i < 18; i++ {
		if strings.IndexByte(usccChars, code[i]) < 0 {
			return Invalid(field, "gb32100_alphabet", "character %d (%q) is not allowed; the code uses 0-9 and A-Y without I, O, S, V, Z", i+1, code[i])
		}
	}
	if !digits(code[2:8]) {
		return Invalid(field, "gb32100_region", "characters 3–8 must be a 6-digit region code")
	}
	if c := USCCCheckChar(code[:17]); c != code[17] {
		return Invalid(field, "gb32100_check", "check character is %c but the first 17 characters give %c", code[17], c)
	}
	return nil
}

// USCCCheckChar returns the GB 32100 check character for the first 17 characters of a credit code.
func USCCCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(usccChars, first17[i]) * usccWeights[i]
	}
	return usccChars[(31-sum%31)%31]
}

// ValidateRegion checks a 6-digit administrative division code (统筹区).
func ValidateRegion(field, code string) error {
	if len(code) != 6 || !digits(code) {
		return Invalid(field, "region_code", "region code must be 6 digits, e.g. \"110105\"")
	}
	return nil
}
