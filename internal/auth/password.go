package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"sirec/internal/record"
)

// Password policy.
const (
	MinPasswordLength = 10  // characters
	MaxPasswordLength = 256 // characters; longer input is refused so that hashing stays bounded
)

// ValidatePassword checks a password against the policy: at least MinPasswordLength characters, with letters
// and digits, not the username. Errors name field "password" and the rule broken.
func ValidatePassword(username, password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return record.Invalid("password", "utf8", "the password is not valid UTF-8")
	case n < MinPasswordLength:
		return record.Invalid("password", "min_length", "the password must have at least %d characters (it has %d)", MinPasswordLength, n)
	case n > MaxPasswordLength:
		return record.Invalid("password", "max_length", "the password may have at most %d characters", MaxPasswordLength)
	}
	var letter, digit bool
	for _, r := range password {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return record.Invalid("password", "no_control", "the password may not contain control characters")
		}
	}
	if !letter || !digit {
		return record.Invalid("password", "letters_and_digits", "the password must contain both letters and digits")
	}
	if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		return record.Invalid("password", "not_username", "the password may not contain the username")
	}
	return nil
}

// Argon2Params are the argon2id cost parameters (RFC 9106).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2 suits a 2-core server: 64 MiB, 3 passes, 2 lanes (RFC 9106's second recommended option with
// the lanes matched to the cores). One hash takes about a tenth of a second there.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}

// Limits on parameters read from a stored hash, so that a damaged or planted hash cannot exhaust memory.
const (
	maxArgon2Memory = 1024 * 1024 // 1 GiB
	maxArgon2Time   = 64
)

// Validate checks p (field prefix "argon2").
func (p Argon2Params) Validate() error {
	switch {
	case p.Threads < 1:
		return record.Invalid("argon2.threads", "min", "argon2 needs at least 1 lane")
	case p.Memory < 8*uint32(p.Threads):
		return record.Invalid("argon2.memory", "min", "argon2 needs at least 8 KiB per lane (%d KiB for %d lanes)", 8*uint32(p.Threads), p.Threads)
	case p.Memory > maxArgon2Memory:
		return record.Invalid("argon2.memory", "max", "argon2 memory above %d KiB is refused", maxArgon2Memory)
	case p.Time < 1 || p.Time > maxArgon2Time:
		return record.Invalid("argon2.time", "range", "argon2 passes must be between 1 and %d", maxArgon2Time)
	case p.SaltLen < 16:
		return record.Invalid("argon2.salt_len", "min", "the salt must have at least 16 bytes")
	case p.KeyLen < 16:
		return record.Invalid("argon2.key_len", "min", "the hash must have at least 16 bytes")
	}
	return nil
}

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password in the PHC string format
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64).
func HashPassword(password string, p Argon2Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// parsedHash is a decoded PHC string.
type parsedHash struct {
	params    Argon2Params
	salt, key []byte
}

// parseHash decodes an argon2id PHC string.
func parseHash(encoded string) (parsedHash, error) {
	var h parsedHash
	f := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return h, fmt.Errorf("not an argon2id PHC string")
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("unsupported argon2 version %q", f[2])
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return h, fmt.Errorf("bad argon2 parameter %q", kv)
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return h, fmt.Errorf("bad argon2 parameter %q", kv)
		}
		switch k {
		case "m":
			h.params.Memory = uint32(n)
		case "t":
			h.params.Time = uint32(n)
		case "p":
			if n > 255 {
				return h, fmt.Errorf("bad argon2 parameter %q", kv)
			}
			h.params.Threads = uint8(n)
		default:
			return h, fmt.Errorf("unknown argon2 parameter %q", kv)
		}
	}
	if len(seen) != 3 {
		return h, fmt.Errorf("argon2 parameters m, t and p are all required")
	}
	var err error
	if h.salt, err = b64.DecodeString(f[4]); err != nil {
		return h, fmt.Errorf("argon2 salt: %w", err)
	}
	if h.key, err = b64.DecodeString(f[5]); err != nil {
		return h, fmt.Errorf("argon2 hash: %w", err)
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	if err := h.params.Validate(); err != nil {
		return h, fmt.Errorf("stored argon2 parameters: %w", err)
	}
	return h, nil
}

// VerifyPassword reports whether password matches the argon2id PHC string encoded, in constant time with
// respect to the password. A malformed hash is an error, not a mismatch.
func VerifyPassword(password, encoded string) (bool, error) {
	h, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// needsRehash reports whether encoded was made with parameters other than p (so a successful sign-in
// upgrades it).
func needsRehash(encoded string, p Argon2Params) bool {
	h, err := parseHash(encoded)
	return err != nil || h.params != p
}
