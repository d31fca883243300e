package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// touchEvery is how stale a session's last use must be before Authenticate records a new one: the idle timeout
// slides with this precision, and most requests need no write transaction.
const touchEvery = time.Minute

// failureMemory is how long a failed sign-in counts towards a lockout: failures further apart are not
// consecutive attempts on the account.
const failureMemory = 24 * time.Hour

// Session is a signed-in user's session.
type Session struct {
	Token     string // the bearer token: given to the client once, only its SHA-256 is stored
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time // the absolute end; the idle timeout ends it sooner when it is not used
}

// Principal is who a request acts for: a user signed in with a session, or a machine client with an API token.
type Principal struct {
	Username    string
	DisplayName string
	Posts       []Post
	Scopes      []Scope // a session's: all its posts allow; a token's: its own, within what the posts allow
	External    bool
	TokenID     string    // the API token's ID, "" for a session
	TokenName   string    // the API token's name, "" for a session
	ExpiresAt   time.Time // when the credential expires at the latest if nothing else happens
}

// Has reports whether the principal holds post.
func (p Principal) Has(post Post) bool { return slices.Contains(p.Posts, post) }

// Can reports whether the principal has scope.
func (p Principal) Can(scope Scope) bool { return slices.Contains(p.Scopes, scope) }

// Require returns an EForbidden error when the principal lacks scope.
func (p Principal) Require(scope Scope) error {
	if p.Can(scope) {
		return nil
	}
	return record.Errorf(record.EForbidden, "%s may not do this: scope %s is needed", p.Username, scope)
}

// The API token prefix: a token is "sirec_" followed by base32, easy to recognise in a leaked file.
const tokenPrefix = "sirec_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomToken returns 32 random bytes in lower-case base32.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return strings.ToLower(b32.EncodeToString(b))
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var errBadLogin = record.Errorf(record.EUnauthorized, "wrong username or password")

// loginState is what a sign-in decision reads.
type loginState struct {
	exists      bool // the user exists
	counted     bool // a row in auth_lockouts exists
	hash        string
	disabled    bool
	external    bool
	failures    int64
	lastFailure int64
	lockedUntil int64
}

func loadLoginState(ctx context.Context, tx store.Tx, name string) (loginState, error) {
	var st loginState
	var disabled, external int64
	err := tx.QueryRow(ctx, "SELECT password, disabled, external FROM auth_users WHERE username = $1", name).Scan(&st.hash, &disabled, &external)
	switch {
	case err == nil:
		st.exists, st.disabled, st.external = true, disabled != 0, external != 0
	case !errors.Is(err, store.ErrNoRows):
		return st, err
	}
	err = tx.QueryRow(ctx, "SELECT failures, last_failure, locked_until FROM auth_lockouts WHERE username = $1", name).
		Scan(&st.failures, &st.lastFailure, &st.lockedUntil)
	switch {
	case err == nil:
		st.counted = true
	case !errors.Is(err, store.ErrNoRows):
		return st, err
	}
	return st, nil
}

func lockedError(name string, until int64, now time.Time) error {
	return record.Errorf(record.EUnauthorized, "account %s is locked after repeated failed sign-ins until %s; try again then, or ask a system administrator to unlock it",
		name, time.UnixMilli(until).In(now.Location()).Format("2006-01-02 15:04:05 MST"))
}

// Login checks username and password and opens a session. A wrong password and an unknown user give the same
// error, in about the same time. After Config.MaxFailures failures in a row the account is locked for
// Config.LockoutDuration, during which even the right password is refused with an error saying until when;
// lockouts are kept by the name tried, so they too say nothing about whether the user exists. Every success and
// failure is written to the log.
func (s *Service) Login(ctx context.Context, username, password string, now time.Time) (Session, error) {
	name := strings.ToLower(strings.TrimSpace(username))
	if ValidateUsername(name) != nil || len(password) > 4*MaxPasswordLength {
		if len(password) <= 4*MaxPasswordLength {
			s.verify(ctx, password, s.dummyHash())
		}
		err := s.write(ctx, func(tx store.Tx) error {
			return appendLog(ctx, tx, now, "", ActionLoginFailed, "", fmt.Sprintf("malformed username %.40q or overlong password", username))
		})
		if err != nil {
			return Session{}, err
		}
		return Session{}, errBadLogin
	}

	var st loginState
	if err := s.read(ctx, func(tx store.Tx) (err error) {
		st, err = loadLoginState(ctx, tx, name)
		return err
	}); err != nil {
		return Session{}, err
	}
	if st.lockedUntil > ms(now) {
		if err := s.write(ctx, func(tx store.Tx) error {
			return appendLog(ctx, tx, now, name, ActionLoginFailed, name, "refused: locked until "+fromMS(st.lockedUntil).Format(time.RFC3339))
		}); err != nil {
			return Session{}, err
		}
		return Session{}, lockedError(name, st.lockedUntil, now)
	}

	// Hash outside any transaction: it takes a tenth of a second and the write lock is shared with the journal.
	why := "wrong password"
	encoded := st.hash
	if !st.exists {
		encoded, why = s.dummyHash(), "unknown user"
	}
	ok, err := s.verify(ctx, password, encoded)
	if err != nil {
		if ctx.Err() != nil {
			return Session{}, err
		}
		ok, why = false, "stored password hash unreadable: "+err.Error()
	}
	ok = ok && st.exists
	var rehash string
	if ok && !st.disabled && needsRehash(st.hash, s.cfg.Argon2) {
		if h, err := s.hash(ctx, password); err == nil {
			rehash = h
		}
	}

	var sess Session
	var result error
	err = s.write(ctx, func(tx store.Tx) error {
		cur, err := loadLoginState(ctx, tx, name)
		if err != nil {
			return err
		}
		if cur.lockedUntil > ms(now) { // locked meanwhile by concurrent attempts
			result = lockedError(name, cur.lockedUntil, now)
			return appendLog(ctx, tx, now, name, ActionLoginFailed, name, "refused: locked until "+fromMS(cur.lockedUntil).Format(time.RFC3339))
		}
		if ok && cur.hash != st.hash { // the password changed meanwhile
			ok, why = false, "password changed during sign-in"
		}
		if ok && cur.disabled {
			result = record.Errorf(record.EUnauthorized, "account %s is disabled; ask a system administrator", name)
			return appendLog(ctx, tx, now, name, ActionLoginFailed, name, "refused: account disabled")
		}
		if ok && cur.external {
			// An outside helper signs in only while a confidentiality agreement is in force (R11.2).
			if _, valid, err := validAgreement(ctx, tx, name, s.today(now)); err != nil {
				return err
			} else if !valid {
				result = errAgreementEnded(name)
				if err := appendLog(ctx, tx, now, name, ActionLoginFailed, name, "refused: no confidentiality agreement in force"); err != nil {
					return err
				}
				return disableTx(ctx, tx, name, ExpiryActor, "no confidentiality agreement in force (R11.2)", now)
			}
		}
		if !ok {
			result = errBadLogin
			return s.recordFailure(ctx, tx, name, cur, why, now, &result)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_lockouts WHERE username = $1", name); err != nil {
			return err
		}
		if err := s.prune(ctx, tx, now); err != nil {
			return err
		}
		if rehash != "" {
			if _, err := tx.Exec(ctx, "UPDATE auth_users SET password = $1 WHERE username = $2", rehash, name); err != nil {
				return err
			}
		}
		sess = Session{Token: randomToken(), Username: name, CreatedAt: fromMS(ms(now)), ExpiresAt: fromMS(ms(now.Add(s.cfg.SessionLifetime)))}
		if _, err := tx.Exec(ctx, "INSERT INTO auth_sessions (token_hash, username, created_at, last_seen, expires_at) VALUES ($1, $2, $3, $3, $4)",
			tokenHash(sess.Token), name, ms(now), ms(sess.ExpiresAt)); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, name, ActionLogin, name, "session until "+sess.ExpiresAt.Format(time.RFC3339))
	})
	if err != nil {
		return Session{}, err
	}
	if result != nil {
		return Session{}, result
	}
	return sess, nil
}

// recordFailure counts a failed sign-in against name and locks it on the MaxFailures-th failure in a row.
func (s *Service) recordFailure(ctx context.Context, tx store.Tx, name string, cur loginState, why string, now time.Time, result *error) error {
	failures := cur.failures
	lockExpired := cur.lockedUntil != 0 && cur.lockedUntil <= ms(now)
	if lockExpired || cur.lastFailure < ms(now.Add(-failureMemory)) {
		failures = 0
	}
	failures++
	var lockedUntil int64
	if failures >= int64(s.cfg.MaxFailures) {
		lockedUntil = ms(now.Add(s.cfg.LockoutDuration))
	}
	var err error
	if !cur.counted {
		_, err = tx.Exec(ctx, "INSERT INTO auth_lockouts (username, failures, last_failure, locked_until) VALUES ($1, $2, $3, $4)",
			name, failures, ms(now), lockedUntil)
	} else {
		_, err = tx.Exec(ctx, "UPDATE auth_lockouts SET failures = $1, last_failure = $2, locked_until = $3 WHERE username = $4",
			failures, ms(now), lockedUntil, name)
	}
	if err != nil {
		return err
	}
	if err := appendLog(ctx, tx, now, name, ActionLoginFailed, name, fmt.Sprintf("%s (failure %d of %d)", why, failures, s.cfg.MaxFailures)); err != nil {
		return err
	}
	if lockedUntil != 0 {
		*result = record.Errorf(record.EUnauthorized, "%s; after %d failed sign-ins in a row the account is locked until %s",
			errBadLogin.Message, failures, time.UnixMilli(lockedUntil).In(now.Location()).Format("2006-01-02 15:04:05 MST"))
		return appendLog(ctx, tx, now, name, ActionLockout, name, "locked until "+fromMS(lockedUntil).Format(time.RFC3339))
	}
	return nil
}

// prune deletes ended sessions and forgotten failure counts.
func (s *Service) prune(ctx context.Context, tx store.Tx, now time.Time) error {
	if _, err := tx.Exec(ctx, "DELETE FROM auth_sessions WHERE expires_at <= $1 OR last_seen <= $2", ms(now), ms(now.Add(-s.cfg.IdleTimeout))); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "DELETE FROM auth_lockouts WHERE last_failure < $1 AND locked_until <= $2", ms(now.Add(-failureMemory)), ms(now))
	return err
}

var errNoCredentials = record.Errorf(record.EUnauthorized, "not signed in, or the session or token is not valid")

// Authenticate returns the principal that token (a session token or an API token) stands for. Using a session
// slides its idle timeout. A disabled user's credentials are refused.
func (s *Service) Authenticate(ctx context.Context, token string, now time.Time) (Principal, error) {
	if token == "" || len(token) > 200 {
		return Principal{}, errNoCredentials
	}
	if strings.HasPrefix(token, tokenPrefix) {
		return s.authenticateToken(ctx, token, now)
	}
	var p Principal
	var created, lastSeen, expires, disabled, external int64
	err := s.read(ctx, func(tx store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT s.username, s.created_at, s.last_seen, s.expires_at, u.display_name, u.disabled, u.external
			FROM auth_sessions s JOIN auth_users u ON u.username = s.username WHERE s.token_hash = $1`, tokenHash(token)).
			Scan(&p.Username, &created, &lastSeen, &expires, &p.DisplayName, &disabled, &external)
		if errors.Is(err, store.ErrNoRows) {
			return errNoCredentials
		}
		if err != nil {
			return err
		}
		p.Posts, err = postsOf(ctx, tx, p.Username)
		return err
	})
	if err != nil {
		return Principal{}, err
	}
	idleEnd := lastSeen + s.cfg.IdleTimeout.Milliseconds()
	if disabled != 0 {
		return Principal{}, errNoCredentials
	}
	if external != 0 {
		// An outside helper's access ends the moment the confidentiality agreement does (R11.2).
		if err := s.agreementInForce(ctx, p.Username, now); err != nil {
			return Principal{}, err
		}
	}
	switch {
	case ms(now) >= expires:
		return Principal{}, record.Errorf(record.EUnauthorized, "the session has ended (sessions last at most %s); sign in again", humanDuration(s.cfg.SessionLifetime))
	case ms(now) >= idleEnd:
		return Principal{}, record.Errorf(record.EUnauthorized, "the session has ended after %s without use; sign in again", humanDuration(s.cfg.IdleTimeout))
	}
	if ms(now)-lastSeen >= touchEvery.Milliseconds() {
		err := s.write(ctx, func(tx store.Tx) error {
			n, err := tx.Exec(ctx, "UPDATE auth_sessions SET last_seen = $1 WHERE token_hash = $2 AND last_seen < $1", ms(now), tokenHash(token))
			if err == nil && n == 0 {
				// Ended meanwhile (logout, disable) unless a concurrent request touched it first.
				var still int64
				err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM auth_sessions WHERE token_hash = $1", tokenHash(token)).Scan(&still)
				if err == nil && still == 0 {
					err = errNoCredentials
				}
			}
			return err
		})
		if err != nil {
			return Principal{}, err
		}
		idleEnd = ms(now) + s.cfg.IdleTimeout.Milliseconds()
	}
	p.External = external != 0
	p.Scopes = ScopesOf(p.Posts)
	p.ExpiresAt = fromMS(min(idleEnd, expires))
	return p, nil
}

// Logout ends the session of token. An unknown or ended session is not an error; an API token is (revoke it).
func (s *Service) Logout(ctx context.Context, token string, now time.Time) error {
	if strings.HasPrefix(token, tokenPrefix) {
		return record.Invalid("token", "session_token", "this is an API token: revoke it instead of logging out")
	}
	return s.write(ctx, func(tx store.Tx) error {
		var name string
		err := tx.QueryRow(ctx, "SELECT username FROM auth_sessions WHERE token_hash = $1", tokenHash(token)).Scan(&name)
		if errors.Is(err, store.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_sessions WHERE token_hash = $1", tokenHash(token)); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, name, ActionLogout, name, "")
	})
}
