package auth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// cheap keeps the suite fast; production uses auth.DefaultArgon2.
var cheap = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const password = "correct horse 42"

type fixture struct {
	*auth.Service
	d store.Driver
}

func newService(t *testing.T, env *storetest.Env) fixture {
	t.Helper()
	d := env.Driver()
	if _, err := store.Migrate(context.Background(), d, t0); err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.Argon2 = cheap
	cfg.Location = time.UTC // agreements' dates are read in UTC here, whatever the machine's zone
	return fixture{auth.New(d, cfg), d}
}

func (f fixture) mustAddUser(t *testing.T, name string, posts ...auth.Post) auth.User {
	t.Helper()
	u, err := f.AddUser(context.Background(), auth.NewUser{Username: name, DisplayName: "User " + name, Password: password, Posts: posts}, "root", t0)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return u
}

func (f fixture) mustLogin(t *testing.T, name string, now time.Time) auth.Session {
	t.Helper()
	s, err := f.Login(context.Background(), name, password, now)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return s
}

// wantErr fails unless err is a *record.Error with the code and, when given, the rule and message parts.
func wantErr(t *testing.T, err error, code, rule string, msgParts ...string) {
	t.Helper()
	var e *record.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v; want a *record.Error with code %s", err, code)
	}
	if e.Code != code || rule != "" && e.Rule != rule {
		t.Fatalf("error %v: code %q rule %q; want code %q rule %q", err, e.Code, e.Rule, code, rule)
	}
	for _, p := range msgParts {
		if !strings.Contains(e.Error(), p) {
			t.Fatalf("error %q does not mention %q", e.Error(), p)
		}
	}
}

// actions returns the actions logged about subject, oldest first.
func (f fixture) actions(t *testing.T, subject string) []string {
	t.Helper()
	entries, _, err := f.Log(context.Background(), auth.LogFilter{Subject: subject}, 0, auth.MaxPage)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Action)
	}
	return out
}

func TestSeparationOfDuties(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		f.mustAddUser(t, "admin1", auth.PostSysadmin)
		f.mustAddUser(t, "dba1", auth.PostDBAdmin)
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		f.mustAddUser(t, "asker1", auth.PostQuery)

		refused := []struct {
			name string
			user string
			post auth.Post
			held auth.Post
		}{
			{"sysadmin may not collect", "admin1", auth.PostCollector, auth.PostSysadmin},
			{"sysadmin may not approve", "admin1", auth.PostApprover, auth.PostSysadmin},
			{"sysadmin may not query", "admin1", auth.PostQuery, auth.PostSysadmin},
			{"dbadmin may not maintain", "dba1", auth.PostMaintainer, auth.PostDBAdmin},
			{"collector may not be sysadmin", "clerk1", auth.PostSysadmin, auth.PostCollector},
			{"collector may not be dbadmin", "clerk1", auth.PostDBAdmin, auth.PostCollector},
			{"query user may not be dbadmin", "asker1", auth.PostDBAdmin, auth.PostQuery},
		}
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				err := f.Grant(ctx, tc.user, tc.post, "root", t0)
				wantErr(t, err, record.EConflict, "separation_of_duties", string(tc.post), string(tc.held))
				u, err := f.GetUser(ctx, tc.user)
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(u.Posts, tc.post) {
					t.Fatalf("refused post was granted: %v", u.Posts)
				}
			})
		}

		// The same at creation, both ways round.
		for _, posts := range [][]auth.Post{{auth.PostSysadmin, auth.PostReviewer}, {auth.PostQuery, auth.PostDBAdmin}} {
			_, err := f.AddUser(ctx, auth.NewUser{Username: "mixed", DisplayName: "Mixed", Password: password, Posts: posts}, "root", t0)
			wantErr(t, err, record.EConflict, "separation_of_duties", string(posts[0]), string(posts[1]))
			if _, err := f.GetUser(ctx, "mixed"); record.ErrorCode(err) != record.ENotFound {
				t.Fatalf("refused user was created: %v", err)
			}
		}

		// Allowed: the supervisor is neither side; admins may hold both admin posts; business posts combine.
		for _, tc := range []struct {
			user string
			post auth.Post
		}{{"admin1", auth.PostDBAdmin}, {"admin1", auth.PostSupervisor}, {"clerk1", auth.PostReviewer}, {"clerk1", auth.PostQuery}, {"clerk1", auth.PostSupervisor}} {
			if err := f.Grant(ctx, tc.user, tc.post, "root", t0); err != nil {
				t.Fatalf("grant %s to %s: %v", tc.post, tc.user, err)
			}
		}
		u, err := f.GetUser(ctx, "clerk1")
		if err != nil {
			t.Fatal(err)
		}
		want := []auth.Post{auth.PostCollector, auth.PostReviewer, auth.PostSupervisor, auth.PostQuery}
		if !slices.Equal(u.Posts, want) {
			t.Fatalf("posts %v; want %v", u.Posts, want)
		}
		// Grants and refusals: only the grants are logged.
		if got := f.actions(t, "clerk1"); !slices.Equal(got, []string{auth.ActionUserAdd, auth.ActionPostGrant, auth.ActionPostGrant, auth.ActionPostGrant}) {
			t.Fatalf("log of clerk1: %v", got)
		}
		wantErr(t, f.Grant(ctx, "clerk1", auth.PostReviewer, "root", t0), record.EConflict, "not_held")
		wantErr(t, f.Grant(ctx, "clerk1", "boss", "root", t0), record.EInvalid, "post_known")
		wantErr(t, f.Grant(ctx, "nobody", auth.PostQuery, "root", t0), record.ENotFound, "exists")

		// After revoking the business posts, the user may become an administrator.
		for _, p := range []auth.Post{auth.PostCollector, auth.PostReviewer, auth.PostQuery} {
			if err := f.Revoke(ctx, "clerk1", p, "root", t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Grant(ctx, "clerk1", auth.PostSysadmin, "root", t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, f.Revoke(ctx, "clerk1", auth.PostQuery, "root", t0), record.ENotFound, "held")
	})
}

func TestLastSysadminIsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		u, err := f.AddFirstSysadmin(ctx, "admin1", "系统管理员", password, "cli:init", t0)
		if err != nil || !slices.Equal(u.Posts, []auth.Post{auth.PostSysadmin}) {
			t.Fatalf("first sysadmin %+v: %v", u, err)
		}
		_, err = f.AddFirstSysadmin(ctx, "admin9", "又一个", password, "cli:init", t0)
		wantErr(t, err, record.EConflict, "first_sysadmin")
		if got := f.actions(t, "admin1"); !slices.Equal(got, []string{auth.ActionUserAdd}) {
			t.Fatalf("log of admin1: %v", got)
		}
		wantErr(t, f.Disable(ctx, "admin1", "admin1", t0), record.EConflict, "last_sysadmin")
		wantErr(t, f.Revoke(ctx, "admin1", auth.PostSysadmin, "admin1", t0), record.EConflict, "last_sysadmin")
		f.mustAddUser(t, "admin2", auth.PostSysadmin)
		if err := f.Disable(ctx, "admin1", "admin2", t0); err != nil {
			t.Fatal(err)
		}
		wantErr(t, f.Revoke(ctx, "admin2", auth.PostSysadmin, "admin2", t0), record.EConflict, "last_sysadmin")
	})
}

func TestLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		now := t0

		var msgs []string
		for i := 1; i <= 4; i++ {
			now = now.Add(time.Second)
			_, err := f.Login(ctx, "clerk1", "wrong password 1", now)
			wantErr(t, err, record.EUnauthorized, "", "wrong username or password")
			msgs = append(msgs, err.Error())
		}
		// The fifth failure locks the account for 15 minutes.
		now = now.Add(time.Second)
		_, err := f.Login(ctx, "clerk1", "wrong password 1", now)
		until := now.Add(15 * time.Minute)
		wantErr(t, err, record.EUnauthorized, "", "locked until "+until.Format("2006-01-02 15:04:05"))
		u, err := f.GetUser(ctx, "clerk1")
		if err != nil || !u.LockedUntil.Equal(until) {
			t.Fatalf("locked until %v (%v); want %v", u.LockedUntil, err, until)
		}

		// While locked, even the right password is refused, saying until when.
		for _, at := range []time.Time{now.Add(time.Minute), until.Add(-time.Millisecond)} {
			_, err = f.Login(ctx, "clerk1", password, at)
			wantErr(t, err, record.EUnauthorized, "", "locked", until.Format("2006-01-02 15:04:05"))
		}
		// Once the period is over, the right password works, and the count starts again.
		s, err := f.Login(ctx, "clerk1", password, until)
		if err != nil {
			t.Fatalf("login after the lockout: %v", err)
		}
		if _, err := f.Authenticate(ctx, s.Token, until); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			_, err := f.Login(ctx, "clerk1", "wrong password 1", until.Add(time.Duration(i)*time.Second))
			wantErr(t, err, record.EUnauthorized, "", "wrong username or password")
			if strings.Contains(err.Error(), "locked") {
				t.Fatalf("failure %d after a success locked the account: %v", i, err)
			}
		}
		// A success resets the count: four more failures do not lock.
		f.mustLogin(t, "clerk1", until.Add(10*time.Second))
		for i := 1; i <= 4; i++ {
			_, err := f.Login(ctx, "clerk1", "wrong password 1", until.Add(time.Minute+time.Duration(i)*time.Second))
			if strings.Contains(err.Error(), "locked") {
				t.Fatalf("failure %d locked the account: %v", i, err)
			}
		}

		// An unknown user fails exactly as a wrong password does, and locks alike: nothing tells them apart.
		for i := 1; i <= 4; i++ {
			_, err := f.Login(ctx, "ghost1", "wrong password 1", now.Add(time.Duration(i)*time.Second))
			if err.Error() != msgs[i-1] {
				t.Fatalf("unknown user: %q; a wrong password gave %q", err, msgs[i-1])
			}
		}
		_, err = f.Login(ctx, "ghost1", "wrong password 1", now.Add(5*time.Second))
		wantErr(t, err, record.EUnauthorized, "", "locked until")
		_, err = f.Login(ctx, "Bad Name!", password, now)
		if err.Error() != msgs[0] {
			t.Fatalf("malformed name: %q", err)
		}

		// Enable unlocks at once.
		for i := 1; i <= 5; i++ {
			f.Login(ctx, "clerk1", "wrong password 1", until.Add(2*time.Minute))
		}
		_, err = f.Login(ctx, "clerk1", password, until.Add(3*time.Minute))
		wantErr(t, err, record.EUnauthorized, "", "locked")
		if err := f.Enable(ctx, "clerk1", "root", until.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		f.mustLogin(t, "clerk1", until.Add(3*time.Minute))

		log := f.actions(t, "clerk1")
		count := func(a string) (n int) {
			for _, x := range log {
				if x == a {
					n++
				}
			}
			return n
		}
		if count(auth.ActionLockout) != 2 || count(auth.ActionLoginFailed) != 4+1+2+4+4+5+1 || count(auth.ActionLogin) != 3 {
			t.Fatalf("log of clerk1: %v", log)
		}
		if got := f.actions(t, "ghost1"); len(got) != 6 || got[5] != auth.ActionLockout {
			t.Fatalf("log of ghost1: %v", got)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		f.mustAddUser(t, "rev1", auth.PostReviewer)

		// Idle timeout: 30 minutes after the last use; each use slides it.
		s := f.mustLogin(t, "rev1", t0)
		if !regexp.MustCompile(`^[a-z2-7]{52}$`).MatchString(s.Token) || !s.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
			t.Fatalf("session %+v", s)
		}
		for _, at := range []time.Duration{29 * time.Minute, 58 * time.Minute, 87 * time.Minute} {
			p, err := f.Authenticate(ctx, s.Token, t0.Add(at))
			if err != nil {
				t.Fatalf("at +%s: %v", at, err)
			}
			if p.Username != "rev1" || !slices.Equal(p.Posts, []auth.Post{auth.PostReviewer}) || !p.Can(auth.ScopeReviewReview) || p.Can(auth.ScopeReviewApprove) {
				t.Fatalf("principal %+v", p)
			}
			if !p.ExpiresAt.Equal(t0.Add(at + 30*time.Minute)) {
				t.Fatalf("at +%s: expires %v", at, p.ExpiresAt)
			}
		}
		_, err := f.Authenticate(ctx, s.Token, t0.Add(117*time.Minute))
		wantErr(t, err, record.EUnauthorized, "", "after 30 minutes without use")

		// Absolute lifetime: 12 hours, however busy the session.
		s = f.mustLogin(t, "rev1", t0)
		at := t0
		for at.Before(t0.Add(12*time.Hour - 20*time.Minute)) {
			at = at.Add(20 * time.Minute)
			if _, err := f.Authenticate(ctx, s.Token, at); err != nil {
				t.Fatalf("at %v: %v", at, err)
			}
		}
		_, err = f.Authenticate(ctx, s.Token, t0.Add(12*time.Hour))
		wantErr(t, err, record.EUnauthorized, "", "at most 12 hours")

		// Logout ends a session at once and is logged.
		s = f.mustLogin(t, "rev1", t0)
		if err := f.Logout(ctx, s.Token, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err = f.Authenticate(ctx, s.Token, t0.Add(time.Second))
		wantErr(t, err, record.EUnauthorized, "")
		if err := f.Logout(ctx, s.Token, t0.Add(time.Second)); err != nil {
			t.Fatalf("second logout: %v", err)
		}
		if got := f.actions(t, "rev1"); got[len(got)-1] != auth.ActionLogout {
			t.Fatalf("log of rev1: %v", got)
		}

		// Only the SHA-256 of the token is stored.
		s = f.mustLogin(t, "rev1", t0)
		h := sha256.Sum256([]byte(s.Token))
		if n := count(t, f.d, "SELECT COUNT(*) FROM auth_sessions WHERE token_hash = $1", h[:]); n != 1 {
			t.Fatalf("sessions with the token's hash: %d", n)
		}
		for _, bad := range []string{"", "nonsense", strings.Repeat("a", 52), "sirec_" + strings.Repeat("a", 52)} {
			_, err := f.Authenticate(ctx, bad, t0)
			wantErr(t, err, record.EUnauthorized, "")
		}
	})
}

func count(t *testing.T, d store.Driver, q string, args ...any) int64 {
	t.Helper()
	ctx := context.Background()
	tx, err := d.Begin(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var n int64
	if err := tx.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDisableEndsAccessAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		s1 := f.mustLogin(t, "clerk1", t0)
		s2 := f.mustLogin(t, "clerk1", t0.Add(time.Minute))
		tok, _, err := f.CreateToken(ctx, auth.TokenSpec{Username: "clerk1", Name: "scanner", Scopes: []auth.Scope{auth.ScopeDraftsWrite}, ExpiresAt: t0.Add(24 * time.Hour)}, "root", t0)
		if err != nil {
			t.Fatal(err)
		}
		now := t0.Add(2 * time.Minute)
		for _, c := range []string{s1.Token, s2.Token, tok} {
			if _, err := f.Authenticate(ctx, c, now); err != nil {
				t.Fatalf("before disable: %v", err)
			}
		}
		if err := f.Disable(ctx, "clerk1", "root", now); err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{s1.Token, s2.Token, tok} {
			_, err := f.Authenticate(ctx, c, now)
			wantErr(t, err, record.EUnauthorized, "")
		}
		if n := count(t, f.d, "SELECT COUNT(*) FROM auth_sessions WHERE username = $1", "clerk1"); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
		_, err = f.Login(ctx, "clerk1", password, now)
		wantErr(t, err, record.EUnauthorized, "", "disabled")
		_, err = f.Login(ctx, "clerk1", "wrong password 1", now)
		wantErr(t, err, record.EUnauthorized, "", "wrong username or password")
		wantErr(t, f.Disable(ctx, "clerk1", "root", now), record.EConflict, "")
		_, _, err = f.CreateToken(ctx, auth.TokenSpec{Username: "clerk1", Name: "again", Scopes: []auth.Scope{auth.ScopeCalc}, ExpiresAt: t0.Add(24 * time.Hour)}, "root", now)
		wantErr(t, err, record.EConflict, "", "disabled")

		entries, _, err := f.Log(ctx, auth.LogFilter{Subject: "clerk1", Action: auth.ActionUserDisable}, 0, 10)
		if err != nil || len(entries) != 1 || entries[0].Detail != "ended 2 sessions, revoked 1 API tokens" || entries[0].Actor != "root" {
			t.Fatalf("disable log: %+v %v", entries, err)
		}

		// Enabled again, the user signs in; the token stays revoked.
		if err := f.Enable(ctx, "clerk1", "root", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		f.mustLogin(t, "clerk1", now.Add(time.Minute))
		_, err = f.Authenticate(ctx, tok, now.Add(time.Minute))
		wantErr(t, err, record.EUnauthorized, "", "revoked")
		wantErr(t, f.Enable(ctx, "clerk1", "root", now.Add(time.Minute)), record.EConflict, "")
	})
}

func TestTokenScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		f.mustAddUser(t, "bankfeed", auth.PostCollector, auth.PostQuery)
		exp := t0.Add(90 * 24 * time.Hour)
		spec := auth.TokenSpec{Username: "bankfeed", Name: "bank feed", Scopes: []auth.Scope{auth.ScopePersonsRead, auth.ScopeDraftsWrite}, ExpiresAt: exp}
		tok, info, err := f.CreateToken(ctx, spec, "root", t0)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^sirec_[a-z2-7]{52}$`).MatchString(tok) {
			t.Fatalf("token format: %q", tok)
		}
		h := sha256.Sum256([]byte(tok))
		if n := count(t, f.d, "SELECT COUNT(*) FROM auth_tokens WHERE token_hash = $1 AND id = $2", h[:], info.ID); n != 1 {
			t.Fatal("the token's hash is not stored")
		}
		p, err := f.Authenticate(ctx, tok, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if p.Username != "bankfeed" || p.TokenID != info.ID || p.TokenName != "bank feed" || !p.ExpiresAt.Equal(exp) ||
			!slices.Equal(p.Scopes, spec.Scopes) || p.Can(auth.ScopeCalc) {
			t.Fatalf("principal %+v", p)
		}
		wantErr(t, p.Require(auth.ScopeCalc), record.EForbidden, "")
		if err := p.Require(auth.ScopeDraftsWrite); err != nil {
			t.Fatal(err)
		}
		// A session of the same user has everything its posts allow.
		s := f.mustLogin(t, "bankfeed", t0)
		sp, err := f.Authenticate(ctx, s.Token, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := []auth.Scope{auth.ScopePersonsRead, auth.ScopeEmployersRead, auth.ScopeDraftsRead, auth.ScopeDraftsWrite, auth.ScopeCalc, auth.ScopeFeedsWrite}
		if !slices.Equal(sp.Scopes, want) || sp.TokenID != "" {
			t.Fatalf("session scopes %v; want %v", sp.Scopes, want)
		}

		bad := []struct {
			name  string
			spec  auth.TokenSpec
			field string
			rule  string
		}{
			{"unknown scope", auth.TokenSpec{Username: "bankfeed", Name: "x", Scopes: []auth.Scope{"persons:write"}, ExpiresAt: exp}, "scopes", "scope_known"},
			{"no scope", auth.TokenSpec{Username: "bankfeed", Name: "x", ExpiresAt: exp}, "scopes", "required"},
			{"beyond the posts", auth.TokenSpec{Username: "bankfeed", Name: "x", Scopes: []auth.Scope{auth.ScopeReviewApprove}, ExpiresAt: exp}, "scopes", "within_posts"},
			{"past expiry", auth.TokenSpec{Username: "bankfeed", Name: "x", Scopes: []auth.Scope{auth.ScopeCalc}, ExpiresAt: t0}, "expires_at", "future"},
			{"too long", auth.TokenSpec{Username: "bankfeed", Name: "x", Scopes: []auth.Scope{auth.ScopeCalc}, ExpiresAt: t0.Add(400 * 24 * time.Hour)}, "expires_at", "max_lifetime"},
			{"no name", auth.TokenSpec{Username: "bankfeed", Scopes: []auth.Scope{auth.ScopeCalc}, ExpiresAt: exp}, "name", "required"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := f.CreateToken(ctx, tc.spec, "root", t0)
				var e *record.Error
				if !errors.As(err, &e) || e.Field != tc.field || e.Rule != tc.rule {
					t.Fatalf("error %v; want field %s rule %s", err, tc.field, tc.rule)
				}
			})
		}
		if _, err := auth.ParseScopes("persons:read, calc"); err != nil {
			t.Fatal(err)
		}
		if _, err := auth.ParseScopes("persons:read,calc,calc"); err == nil {
			t.Fatal("a repeated scope was accepted")
		}

		// Revoking a post takes its scopes from the token at once.
		if err := f.Revoke(ctx, "bankfeed", auth.PostCollector, "root", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		p, err = f.Authenticate(ctx, tok, t0.Add(time.Hour))
		if err != nil || !slices.Equal(p.Scopes, []auth.Scope{auth.ScopePersonsRead}) {
			t.Fatalf("after revoking collector: %v %v", p.Scopes, err)
		}
		// Expiry and revocation.
		_, err = f.Authenticate(ctx, tok, exp)
		wantErr(t, err, record.EUnauthorized, "", "expired")
		if err := f.RevokeToken(ctx, info.ID, "root", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		_, err = f.Authenticate(ctx, tok, t0.Add(2*time.Hour))
		wantErr(t, err, record.EUnauthorized, "", "revoked")
		wantErr(t, f.RevokeToken(ctx, info.ID, "root", t0.Add(2*time.Hour)), record.EConflict, "")
		wantErr(t, f.RevokeToken(ctx, "nosuch", "root", t0.Add(2*time.Hour)), record.ENotFound, "exists")
		wantErr(t, f.Logout(ctx, tok, t0), record.EInvalid, "session_token")

		tokens, err := f.ListTokens(ctx, "bankfeed")
		if err != nil || len(tokens) != 1 || !tokens[0].RevokedAt.Equal(t0.Add(2*time.Hour)) || tokens[0].CreatedBy != "root" {
			t.Fatalf("tokens %+v %v", tokens, err)
		}
		if got := f.actions(t, "bankfeed"); !slices.Contains(got, auth.ActionTokenCreate) || got[len(got)-1] != auth.ActionTokenRevoke {
			t.Fatalf("log of bankfeed: %v", got)
		}
	})
}

func TestPasswordPolicy(t *testing.T) {
	tests := []struct {
		password string
		rule     string
	}{
		{"short1a", "min_length"},
		{"abcdefghij", "letters_and_digits"},
		{"1234567890", "letters_and_digits"},
		{"----------", "letters_and_digits"},
		{"clerk1clerk1x9", "not_username"},
		{"tab\there12345", "no_control"},
		{strings.Repeat("a1", 129), "max_length"},
		{"abcdefghi1", ""},
		{"密码很长很长的密码123", ""},
		{password, ""},
	}
	for _, tc := range tests {
		err := auth.ValidatePassword("clerk1", tc.password)
		if tc.rule == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.password, err)
			}
			continue
		}
		var e *record.Error
		if !errors.As(err, &e) || e.Field != "password" || e.Rule != tc.rule {
			t.Errorf("%q: %v; want field password rule %s", tc.password, err, tc.rule)
		}
	}

	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		_, err := f.AddUser(ctx, auth.NewUser{Username: "clerk1", DisplayName: "C", Password: "password", Posts: []auth.Post{auth.PostCollector}}, "root", t0)
		wantErr(t, err, record.EInvalid, "min_length")
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		wantErr(t, f.SetPassword(ctx, "clerk1", "onlyletters", "root", t0), record.EInvalid, "letters_and_digits")
		wantErr(t, f.SetPassword(ctx, "nobody", "new secret 77", "root", t0), record.ENotFound, "exists")

		// A new password ends the sessions; the old one no longer works.
		s := f.mustLogin(t, "clerk1", t0)
		if err := f.SetPassword(ctx, "clerk1", "new secret 77", "root", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		_, err = f.Authenticate(ctx, s.Token, t0.Add(time.Minute))
		wantErr(t, err, record.EUnauthorized, "")
		_, err = f.Login(ctx, "clerk1", password, t0.Add(time.Minute))
		wantErr(t, err, record.EUnauthorized, "")
		if _, err := f.Login(ctx, "clerk1", "new secret 77", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Login takes the username case-insensitively and trimmed.
		if _, err := f.Login(ctx, " Clerk1 ", "new secret 77", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUserValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		tests := []struct {
			name  string
			u     auth.NewUser
			actor string
			field string
			rule  string
		}{
			{"short username", auth.NewUser{Username: "ab", DisplayName: "A", Password: password}, "root", "username", "length"},
			{"long username", auth.NewUser{Username: strings.Repeat("a", 33), DisplayName: "A", Password: password}, "root", "username", "length"},
			{"upper case", auth.NewUser{Username: "Alice", DisplayName: "A", Password: password}, "root", "username", "username_chars"},
			{"space", auth.NewUser{Username: "al ice", DisplayName: "A", Password: password}, "root", "username", "username_chars"},
			{"no display name", auth.NewUser{Username: "alice", DisplayName: " ", Password: password}, "root", "display_name", "required"},
			{"unknown post", auth.NewUser{Username: "alice", DisplayName: "A", Password: password, Posts: []auth.Post{"boss"}}, "root", "posts", "post_known"},
			{"post twice", auth.NewUser{Username: "alice", DisplayName: "A", Password: password, Posts: []auth.Post{auth.PostQuery, auth.PostQuery}}, "root", "posts", "unique"},
			{"no actor", auth.NewUser{Username: "alice", DisplayName: "A", Password: password}, "", "actor", "required"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.AddUser(ctx, tc.u, tc.actor, t0)
				var e *record.Error
				if !errors.As(err, &e) || e.Code != record.EInvalid || e.Field != tc.field || e.Rule != tc.rule {
					t.Fatalf("error %v; want field %s rule %s", err, tc.field, tc.rule)
				}
			})
		}
		u := f.mustAddUser(t, "a.li_ce-9", auth.PostApprover)
		if !u.CreatedAt.Equal(t0) {
			t.Fatalf("created %v", u.CreatedAt)
		}
		_, err := f.AddUser(ctx, auth.NewUser{Username: "a.li_ce-9", DisplayName: "Again", Password: password}, "root", t0)
		wantErr(t, err, record.EConflict, "unique")
		ext, err := f.AddUser(ctx, auth.NewUser{Username: "vendor1", DisplayName: "外包工程师", Password: password, Posts: []auth.Post{auth.PostMaintainer}, External: true}, "root", t0)
		if err != nil || !ext.External {
			t.Fatal(err)
		}
		// An outside helper added without a confidentiality agreement is created disabled (R11.2).
		got, err := f.GetUser(ctx, "vendor1")
		if err != nil || !got.External || got.DisplayName != "外包工程师" || !got.Disabled || !got.CreatedAt.Equal(t0) {
			t.Fatalf("user %+v %v", got, err)
		}
	})
}

func TestListUsersAndLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newService(t, env)
		ctx := context.Background()
		names := []string{"user05", "user01", "user03", "user02", "user04"}
		for i, n := range names {
			posts := []auth.Post{auth.PostQuery}
			if i%2 == 0 {
				posts = append(posts, auth.PostCollector)
			}
			f.mustAddUser(t, n, posts...)
		}
		page, total, err := f.ListUsers(ctx, 1, 2)
		if err != nil || total != 5 || len(page) != 2 || page[0].Username != "user02" || page[1].Username != "user03" {
			t.Fatalf("page %+v total %d %v", page, total, err)
		}
		if !slices.Equal(page[1].Posts, []auth.Post{auth.PostCollector, auth.PostQuery}) || !slices.Equal(page[0].Posts, []auth.Post{auth.PostQuery}) {
			t.Fatalf("posts %v %v", page[0].Posts, page[1].Posts)
		}
		if _, _, err := f.ListUsers(ctx, 0, auth.MaxPage+1); record.ErrorCode(err) != record.EInvalid {
			t.Fatalf("limit too large: %v", err)
		}

		// Log: every action, with time, actor, subject and detail; newest first; filters and paging.
		f.mustLogin(t, "user01", t0.Add(time.Hour))
		f.Login(ctx, "user01", "wrong password 1", t0.Add(2*time.Hour))
		if err := f.Grant(ctx, "user02", auth.PostSupervisor, "user05", t0.Add(3*time.Hour)); err != nil {
			t.Fatal(err)
		}
		all, total, err := f.Log(ctx, auth.LogFilter{}, 0, 0)
		if err != nil || total != 8 || len(all) != 8 {
			t.Fatalf("log: %d of %d entries, %v", len(all), total, err)
		}
		e := all[0]
		if e.Action != auth.ActionPostGrant || e.Actor != "user05" || e.Subject != "user02" || e.Detail != "supervisor" || !e.At.Equal(t0.Add(3*time.Hour)) {
			t.Fatalf("newest entry %+v", e)
		}
		if all[1].Action != auth.ActionLoginFailed || !strings.Contains(all[1].Detail, "wrong password") || all[2].Action != auth.ActionLogin {
			t.Fatalf("login entries %+v %+v", all[1], all[2])
		}
		if !strings.Contains(all[7].Detail, "posts: collector, query") || all[7].Actor != "root" || all[7].Subject != "user05" {
			t.Fatalf("oldest entry %+v", all[7])
		}
		for _, tc := range []struct {
			f    auth.LogFilter
			want int
		}{
			{auth.LogFilter{Action: auth.ActionUserAdd}, 5},
			{auth.LogFilter{Subject: "user01"}, 3},
			{auth.LogFilter{Actor: "user05"}, 1},
			{auth.LogFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, 2},
			{auth.LogFilter{Subject: "user01", Action: auth.ActionLogin}, 1},
		} {
			got, n, err := f.Log(ctx, tc.f, 0, 10)
			if err != nil || n != tc.want || len(got) != tc.want {
				t.Fatalf("filter %+v: %d entries (total %d), %v; want %d", tc.f, len(got), n, err, tc.want)
			}
		}
		got, n, err := f.Log(ctx, auth.LogFilter{}, 6, 5)
		if err != nil || n != 8 || len(got) != 2 || got[1].ID != all[7].ID {
			t.Fatalf("last page: %+v (total %d) %v", got, n, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := auth.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := auth.DefaultConfig()
	if c.MaxFailures != 5 || c.LockoutDuration != 15*time.Minute || c.IdleTimeout != 30*time.Minute || c.SessionLifetime != 12*time.Hour {
		t.Fatalf("defaults %+v", c)
	}
	tests := []struct {
		name  string
		edit  func(*auth.Config)
		field string
	}{
		{"no failures", func(c *auth.Config) { c.MaxFailures = 0 }, "max_failures"},
		{"short lockout", func(c *auth.Config) { c.LockoutDuration = time.Second }, "lockout_duration"},
		{"short idle", func(c *auth.Config) { c.IdleTimeout = 0 }, "idle_timeout"},
		{"lifetime below idle", func(c *auth.Config) { c.SessionLifetime = 10 * time.Minute }, "session_lifetime"},
		{"argon2 memory", func(c *auth.Config) { c.Argon2.Memory = 4 }, "argon2.memory"},
		{"argon2 time", func(c *auth.Config) { c.Argon2.Time = 0 }, "argon2.time"},
	}
	for _, tc := range tests {
		c := auth.DefaultConfig()
		tc.edit(&c)
		var e *record.Error
		if err := c.Validate(); !errors.As(err, &e) || e.Field != tc.field {
			t.Errorf("%s: %v; want field %s", tc.name, err, tc.field)
		}
	}
}
