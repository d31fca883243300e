package certificate

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// The verification code (验真码) is 16 characters of Crockford's base-32 alphabet (no I, L, O, U): 15 random
// characters (75 bits, not guessable) and a check character, printed in groups of four. The check character
// tells a mistyped code from one that was never issued; the code itself is kept only as a hash (to find the
// certificate) and sealed with the agency key (to print the certificate again).
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

const codeLen = 16

func newCode() string {
	b := make([]byte, codeLen-1)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	c := make([]byte, codeLen-1)
	for i, x := range b {
		c[i] = alphabet[x&31]
	}
	return string(c) + string(checkChar(string(c)))
}

func checkChar(body string) byte {
	h := sha256.Sum256([]byte("sirec-certificate-check\x00" + body))
	return alphabet[h[0]&31]
}

// NormalizeCode reads a code as a person types it: any case, with or without dashes and spaces, O for 0 and I or
// L for 1. It returns the code and whether it is well formed with a matching check character.
func NormalizeCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || strings.IndexByte(alphabet, byte(r)) < 0 {
			return "", false
		}
		b.WriteRune(r)
	}
	c := b.String()
	if len(c) != codeLen || checkChar(c[:codeLen-1]) != c[codeLen-1] {
		return c, false
	}
	return c, true
}

// FormatCode prints a code in groups of four: ABCD-EFGH-JKMN-PQRS.
func FormatCode(c string) string {
	var parts []string
	for i := 0; i < len(c); i += 4 {
		parts = append(parts, c[i:min(i+4, len(c))])
	}
	return strings.Join(parts, "-")
}

func codeHash(c string) string {
	h := sha256.Sum256([]byte("sirec-certificate-code\x00" + c))
	return hex.EncodeToString(h[:])
}

// Limiter bounds how often one client may check codes on the public page (R6.2): Burst checks at once, then one
// per Every. Codes are not guessable; the limit keeps the page from being used to try.
type Limiter struct {
	Burst int
	Every time.Duration

	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter of burst checks, refilled at one per every.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{Burst: burst, Every: every, buckets: map[string]bucket{}}
}

// Allow reports whether client may check a code now, and takes one check from its allowance.
func (l *Limiter) Allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > 100_000 { // forget idle clients rather than grow without bound
		for k, b := range l.buckets {
			if now.Sub(b.at) > time.Duration(l.Burst)*l.Every {
				delete(l.buckets, k)
			}
		}
	}
	b, ok := l.buckets[client]
	if !ok {
		b = bucket{tokens: float64(l.Burst), at: now}
	}
	b.tokens = min(float64(l.Burst), b.tokens+float64(now.Sub(b.at))/float64(l.Every))
	b.at = now
	if b.tokens < 1 {
		l.buckets[client] = b
		return false
	}
	b.tokens--
	l.buckets[client] = b
	return true
}
