package auth_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"sirec/internal/auth"
	"sirec/internal/store/storetest"
)

func TestArgon2idHash(t *testing.T) {
	h, err := auth.HashPassword(password, auth.DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	// PHC string: 16-byte salt and 32-byte hash in unpadded standard base64.
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not an argon2id PHC string with the default parameters", h)
	}
	h2, err := auth.HashPassword(password, auth.DefaultArgon2)
	if err != nil || h2 == h {
		t.Fatalf("two hashes of one password are equal (no random salt): %v", err)
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{{password, true}, {password + " ", false}, {"Correct horse 42", false}, {"", false}} {
		ok, err := auth.VerifyPassword(tc.password, h)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q: %v %v; want %v", tc.password, ok, err, tc.want)
		}
	}
	// A known vector from the reference C implementation (libargon2's argon2id_hash_encoded for password
	// "password", salt "somesaltsomesalt", t=1, m=64, p=1, 32 bytes) pins both the algorithm and the encoding.
	const known = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey
	if ok, err := auth.VerifyPassword("password", known); err != nil || !ok {
		t.Errorf("known vector: %v %v", ok, err)
	}
	if ok, err := auth.VerifyPassword("Password", known); err != nil || ok {
		t.Errorf("known vector with another password: %v %v", ok, err)
	}

	for _, bad := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey,
		"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey,
		"$argon2id$v=19$m=64,t=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$c29tZXNhbHRzb21lc2FsdA$" + knownKey,
		"$argon2id$v=19$m=9999999999,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey,
		"$argon2id$v=19$m=64,t=1,p=1$c29tZ!$" + knownKey,
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + knownKey + "$",
	} {
		if ok, err := auth.VerifyPassword("password", bad); err == nil || ok {
			t.Errorf("malformed hash %q accepted: %v %v", bad, ok, err)
		}
	}
}

const knownKey = "55PWTvddWPUD1GMbKxSff4ASfF85k9ibHJt4HlHQtBM"

// A weaker stored hash is upgraded to the configured parameters at the next successful sign-in.
func TestRehashOnLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		stronger := f.Config()
		stronger.Argon2.Time = 2
		g := fixture{auth.New(f.d, stronger), f.d}
		g.mustLogin(t, "clerk1", t0)
		ctx := context.Background()
		tx, err := f.d.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var h string
		if err := tx.QueryRow(ctx, "SELECT password FROM auth_users WHERE username = $1", "clerk1").Scan(&h); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=2,p=1$") {
			t.Fatalf("hash not upgraded: %s", h)
		}
		g.mustLogin(t, "clerk1", t0)
	})
}
