// Package auth keeps the users of the system, their posts (岗位) and how they sign in: passwords hashed with
// argon2id, lockout after repeated failures, sessions with idle and absolute timeouts, and API tokens with
// scopes for machine clients. It enforces the separation of duties between the information unit and business
// users (S1), withdraws access at once when a user is disabled (S2), and writes every user-management action
// and every sign-in to the append-only authentication log (auth_log) that supervisors read.
//
// The Service does not decide who may manage users: the caller checks the acting principal's scopes
// (Principal.Require(ScopeUsersAdmin)) and passes the actor's name, which goes into the log.
//
// The tables (auth_*) are created by the store's schema migrations; run store.Migrate (or open a store.Store)
// before New.
package auth

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Service manages users, posts, sessions and API tokens on one storage engine.
type Service struct {
	d   store.Driver
	cfg Config

	hashing   chan struct{} // bounds concurrent argon2 runs: each takes cfg.Argon2.Memory
	dummyOnce sync.Once
	dummy     string // a hash to verify against when the user does not exist, so timing tells nothing
}

// New returns the service on d. cfg must be valid (Config.Validate); New panics otherwise, as that is a
// programming error.
func New(d store.Driver, cfg Config) *Service {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("auth.New: invalid config: %v", err))
	}
	return &Service{d: d, cfg: cfg, hashing: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

// Config returns the settings the service runs with.
func (s *Service) Config() Config { return s.cfg }

// User is a person (or machine client) who signs in.
type User struct {
	Username    string
	DisplayName string
	Posts       []Post // in the order of Posts
	Disabled    bool
	// External marks an outsider, such as a contractor's engineer, who may only assist (R11.2): such a user is
	// enabled only while a signed confidentiality agreement is on file and valid (see agreement.go).
	External bool
	// AgreementExpires is the last day of the user's latest confidentiality agreement (YYYY-MM-DD), "" when none
	// is on file.
	AgreementExpires string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// LockedUntil is when the lockout after failed sign-ins ends; the account is locked while it is in the
	// future. Zero when there is none.
	LockedUntil time.Time
}

// NewUser is what AddUser needs.
type NewUser struct {
	Username    string
	DisplayName string
	Password    string
	Posts       []Post
	External    bool
	// Agreement is the outside helper's confidentiality agreement, already stored as a material. An external user
	// added without one is created disabled, and cannot be enabled until one is on file (R11.2).
	Agreement *AgreementSpec
}

// Validate checks u.
func (u NewUser) Validate() error {
	if err := ValidateUsername(u.Username); err != nil {
		return err
	}
	if err := validateText("display_name", u.DisplayName, 64); err != nil {
		return err
	}
	if err := ValidatePassword(u.Username, u.Password); err != nil {
		return err
	}
	if err := ValidatePosts(u.Posts); err != nil {
		return err
	}
	if u.External {
		for _, p := range u.Posts {
			if err := checkExternalPost(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ValidateUsername checks a username: 3 to 32 characters of a–z, 0–9, '.', '_' and '-' (field "username").
func ValidateUsername(name string) error {
	if n := len(name); n < 3 || n > 32 {
		return record.Invalid("username", "length", "a username has 3 to 32 characters, not %d", utf8.RuneCountInString(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return record.Invalid("username", "username_chars", "a username has only a-z, 0-9, '.', '_' and '-', not %q", r)
		}
	}
	return nil
}

func validateText(field, s string, maxLen int) error {
	if strings.TrimSpace(s) == "" {
		return record.Invalid(field, "required", "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return record.Invalid(field, "utf8", "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return record.Invalid(field, "max_length", "%s has at most %d characters, not %d", field, maxLen, n)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return record.Invalid(field, "no_control", "%s may not contain control characters", field)
	}
	return nil
}

func validateActor(actor string) error {
	return validateText("actor", actor, 64)
}

// Actions written to the authentication log.
const (
	ActionUserAdd     = "user_add"
	ActionPostGrant   = "post_grant"
	ActionPostRevoke  = "post_revoke"
	ActionUserDisable = "user_disable"
	ActionUserEnable  = "user_enable"
	ActionPasswordSet = "password_set"
	ActionLogin       = "login"
	ActionLoginFailed = "login_failed"
	ActionLockout     = "lockout" // the failure that locked an account
	ActionLogout      = "logout"
	ActionTokenCreate = "token_create"
	ActionTokenRevoke = "token_revoke"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// write runs fn in a write transaction and commits it.
func (s *Service) write(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// read runs fn in a read-only transaction.
func (s *Service) read(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	return fn(tx)
}

// hash hashes password with the configured parameters, waiting its turn.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(password, s.cfg.Argon2)
}

func (s *Service) verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	return VerifyPassword(password, encoded)
}

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) release() { <-s.hashing }

func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		h, err := s.hash(context.Background(), randomToken())
		if err == nil {
			s.dummy = h
		}
	})
	return s.dummy
}

// AddUser creates a user with the given posts. The username must be new.
func (s *Service) AddUser(ctx context.Context, u NewUser, actor string, now time.Time) (User, error) {
	return s.addUser(ctx, u, actor, now, false)
}

// AddFirstSysadmin creates the first system administrator, who then adds everyone else; `sirec init` calls it.
// It refuses (EConflict, rule "first_sysadmin") when a system administrator exists already.
func (s *Service) AddFirstSysadmin(ctx context.Context, username, displayName, password, actor string, now time.Time) (User, error) {
	u := NewUser{Username: username, DisplayName: displayName, Password: password, Posts: []Post{PostSysadmin}}
	return s.addUser(ctx, u, actor, now, true)
}

func (s *Service) addUser(ctx context.Context, u NewUser, actor string, now time.Time, first bool) (User, error) {
	if err := validateActor(actor); err != nil {
		return User{}, err
	}
	u.Posts = slices.Clone(u.Posts)
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	sortPosts(u.Posts)
	if u.Agreement != nil {
		if err := u.Agreement.Validate(s.today(now)); err != nil {
			return User{}, record.WithField("agreement", err)
		}
	}
	// An outside helper without a confidentiality agreement on file is created disabled (R11.2).
	disabled := u.External && u.Agreement == nil
	h, err := s.hash(ctx, u.Password)
	if err != nil {
		return User{}, err
	}
	err = s.write(ctx, func(tx store.Tx) error {
		var n int64
		if first {
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM auth_user_posts WHERE post = $1", string(PostSysadmin)).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return &record.Error{Code: record.EConflict, Field: "username", Rule: "first_sysadmin",
					Message: "a system administrator exists already; use sirec user add"}
			}
		}
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM auth_users WHERE username = $1", u.Username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &record.Error{Code: record.EConflict, Field: "username", Rule: "unique", Message: fmt.Sprintf("user %s already exists", u.Username)}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_users (username, display_name, password, disabled, external, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)`, u.Username, u.DisplayName, h, b2i(disabled), b2i(u.External), ms(now)); err != nil {
			return err
		}
		for _, p := range u.Posts {
			if err := insertPost(ctx, tx, u.Username, p, actor, now); err != nil {
				return err
			}
		}
		detail := fmt.Sprintf("display name %q; posts: %s", u.DisplayName, postList(u.Posts))
		switch {
		case disabled:
			detail += "; external: disabled until a confidentiality agreement is on file"
		case u.External:
			detail += "; external, confidentiality agreement valid until " + u.Agreement.ExpiresOn
		}
		if err := appendLog(ctx, tx, now, actor, ActionUserAdd, u.Username, detail); err != nil {
			return err
		}
		if u.Agreement != nil {
			if _, err := insertAgreement(ctx, tx, u.Username, *u.Agreement, actor, now); err != nil {
				return record.WithField("agreement", err)
			}
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	out := User{Username: u.Username, DisplayName: u.DisplayName, Posts: u.Posts, External: u.External, Disabled: disabled,
		CreatedAt: fromMS(ms(now)), UpdatedAt: fromMS(ms(now))}
	if u.Agreement != nil {
		out.AgreementExpires = u.Agreement.ExpiresOn
	}
	return out, nil
}

func insertPost(ctx context.Context, tx store.Tx, username string, p Post, actor string, now time.Time) error {
	_, err := tx.Exec(ctx, "INSERT INTO auth_user_posts (username, post, granted_at, granted_by) VALUES ($1, $2, $3, $4)",
		username, string(p), ms(now), actor)
	return err
}

func postList(posts []Post) string {
	if len(posts) == 0 {
		return "none"
	}
	s := make([]string, len(posts))
	for i, p := range posts {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Grant gives username the post, refusing a post the user holds already and, with EConflict and rule
// "separation_of_duties", a post that S1 keeps apart from one the user holds.
func (s *Service) Grant(ctx context.Context, username string, post Post, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	if _, ok := post.Info(); !ok {
		return record.Invalid("post", "post_known", "unknown post %q; the posts are %s", post, postNames())
	}
	return s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		if slices.Contains(u.Posts, post) {
			return &record.Error{Code: record.EConflict, Field: "post", Rule: "not_held",
				Message: fmt.Sprintf("user %s already holds post %s", username, post.Label())}
		}
		if err := CheckSeparation(u.Posts, post); err != nil {
			return err
		}
		if u.External {
			if err := checkExternalPost(post); err != nil {
				return err
			}
		}
		if err := insertPost(ctx, tx, username, post, actor, now); err != nil {
			return err
		}
		if err := touchUser(ctx, tx, username, now); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, actor, ActionPostGrant, username, string(post))
	})
}

// Revoke takes the post away from username. Its sessions and tokens lose the post's scopes at once.
func (s *Service) Revoke(ctx context.Context, username string, post Post, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		if !slices.Contains(u.Posts, post) {
			return &record.Error{Code: record.ENotFound, Field: "post", Rule: "held",
				Message: fmt.Sprintf("user %s does not hold post %s", username, post.Label())}
		}
		if post == PostSysadmin && !u.Disabled {
			if err := keepOneSysadmin(ctx, tx, username); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_user_posts WHERE username = $1 AND post = $2", username, string(post)); err != nil {
			return err
		}
		if err := touchUser(ctx, tx, username, now); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, actor, ActionPostRevoke, username, string(post))
	})
}

// keepOneSysadmin refuses to leave the system without an enabled system administrator: nobody could manage
// users any more.
func keepOneSysadmin(ctx context.Context, tx store.Tx, except string) error {
	var n int64
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM auth_user_posts p JOIN auth_users u ON u.username = p.username
		WHERE p.post = $1 AND u.disabled = 0 AND u.username <> $2`, string(PostSysadmin), except).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return &record.Error{Code: record.EConflict, Field: "username", Rule: "last_sysadmin",
			Message: fmt.Sprintf("%s is the last enabled system administrator; make another one first", except)}
	}
	return nil
}

func touchUser(ctx context.Context, tx store.Tx, username string, now time.Time) error {
	_, err := tx.Exec(ctx, "UPDATE auth_users SET updated_at = $1 WHERE username = $2", ms(now), username)
	return err
}

// Disable withdraws username's access at once (S2): the account can no longer sign in, every session of it
// ends and every API token of it is revoked, all in one transaction.
func (s *Service) Disable(ctx context.Context, username, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		if u.Disabled {
			return record.Errorf(record.EConflict, "user %s is already disabled", username)
		}
		if slices.Contains(u.Posts, PostSysadmin) {
			if err := keepOneSysadmin(ctx, tx, username); err != nil {
				return err
			}
		}
		return disableTx(ctx, tx, username, actor, "", now)
	})
}

// disableTx disables username in tx: the account cannot sign in, its sessions end and its API tokens are
// revoked. why, when given, is written to the log before what was ended.
func disableTx(ctx context.Context, tx store.Tx, username, actor, why string, now time.Time) error {
	if _, err := tx.Exec(ctx, "UPDATE auth_users SET disabled = 1, updated_at = $1 WHERE username = $2", ms(now), username); err != nil {
		return err
	}
	sessions, err := tx.Exec(ctx, "DELETE FROM auth_sessions WHERE username = $1", username)
	if err != nil {
		return err
	}
	tokens, err := tx.Exec(ctx, "UPDATE auth_tokens SET revoked_at = $1 WHERE username = $2 AND revoked_at = 0", ms(now), username)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("ended %d sessions, revoked %d API tokens", sessions, tokens)
	if why != "" {
		detail = why + "; " + detail
	}
	return appendLog(ctx, tx, now, actor, ActionUserDisable, username, detail)
}

// Enable lets a disabled or locked-out user sign in again. API tokens revoked by Disable stay revoked.
func (s *Service) Enable(ctx context.Context, username, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		locked := u.LockedUntil.After(now)
		if !u.Disabled && !locked {
			return record.Errorf(record.EConflict, "user %s is neither disabled nor locked", username)
		}
		if u.External && u.Disabled {
			if _, ok, err := validAgreement(ctx, tx, username, s.today(now)); err != nil {
				return err
			} else if !ok {
				return errNoAgreement(username)
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE auth_users SET disabled = 0, updated_at = $1 WHERE username = $2", ms(now), username); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_lockouts WHERE username = $1", username); err != nil {
			return err
		}
		var was []string
		if u.Disabled {
			was = append(was, "was disabled")
		}
		if locked {
			was = append(was, "was locked until "+u.LockedUntil.Format(time.RFC3339))
		}
		return appendLog(ctx, tx, now, actor, ActionUserEnable, username, strings.Join(was, "; "))
	})
}

// SetPassword sets username's password after checking the policy. It ends the user's sessions and clears a
// lockout; API tokens are not affected.
func (s *Service) SetPassword(ctx context.Context, username, password, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	if err := ValidatePassword(username, password); err != nil {
		return err
	}
	if _, err := s.GetUser(ctx, username); err != nil {
		return err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx store.Tx) error {
		n, err := tx.Exec(ctx, "UPDATE auth_users SET password = $1, updated_at = $2 WHERE username = $3", h, ms(now), username)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound(username)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM auth_lockouts WHERE username = $1", username); err != nil {
			return err
		}
		sessions, err := tx.Exec(ctx, "DELETE FROM auth_sessions WHERE username = $1", username)
		if err != nil {
			return err
		}
		return appendLog(ctx, tx, now, actor, ActionPasswordSet, username, fmt.Sprintf("ended %d sessions", sessions))
	})
}

func notFound(username string) error {
	return &record.Error{Code: record.ENotFound, Field: "username", Rule: "exists", Message: fmt.Sprintf("no user %s", username)}
}

// GetUser returns the user named username.
func (s *Service) GetUser(ctx context.Context, username string) (User, error) {
	var u User
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		u, err = getUser(ctx, tx, username)
		return err
	})
	return u, err
}

const userColumns = `u.username, u.display_name, u.disabled, u.external, u.created_at, u.updated_at,
	COALESCE((SELECT l.locked_until FROM auth_lockouts l WHERE l.username = u.username), 0),
	COALESCE((SELECT MAX(a.expires_on) FROM auth_agreements a WHERE a.username = u.username), '')`

func scanUser(r store.Row) (User, error) {
	var u User
	var disabled, external, created, updated, locked int64
	if err := r.Scan(&u.Username, &u.DisplayName, &disabled, &external, &created, &updated, &locked, &u.AgreementExpires); err != nil {
		return u, err
	}
	u.Disabled, u.External = disabled != 0, external != 0
	u.CreatedAt, u.UpdatedAt, u.LockedUntil = fromMS(created), fromMS(updated), fromMS(locked)
	return u, nil
}

func getUser(ctx context.Context, tx store.Tx, username string) (User, error) {
	u, err := scanUser(tx.QueryRow(ctx, "SELECT "+userColumns+" FROM auth_users u WHERE u.username = $1", username))
	if errors.Is(err, store.ErrNoRows) {
		return u, notFound(username)
	}
	if err != nil {
		return u, err
	}
	u.Posts, err = postsOf(ctx, tx, username)
	return u, err
}

func postsOf(ctx context.Context, tx store.Tx, username string) ([]Post, error) {
	rows, err := tx.Query(ctx, "SELECT post FROM auth_user_posts WHERE username = $1", username)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var posts []Post
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		posts = append(posts, Post(p))
	}
	sortPosts(posts)
	return posts, rows.Err()
}

// MaxPage is the most rows a list returns at once.
const MaxPage = 1000

func validatePage(offset, limit int) (int, error) {
	if offset < 0 {
		return 0, record.Invalid("offset", "min", "offset may not be negative")
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > MaxPage {
		return 0, record.Invalid("limit", "range", "limit must be between 1 and %d", MaxPage)
	}
	return limit, nil
}

// ListUsers returns users in username order, limit of them (0 means 100, at most MaxPage) after skipping
// offset, and the total number of users.
func (s *Service) ListUsers(ctx context.Context, offset, limit int) ([]User, int, error) {
	limit, err := validatePage(offset, limit)
	if err != nil {
		return nil, 0, err
	}
	var users []User
	var total int64
	err = s.read(ctx, func(tx store.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM auth_users").Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT "+userColumns+" FROM auth_users u ORDER BY u.username LIMIT $1 OFFSET $2", limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(users) == 0 {
			return nil
		}
		// The posts of the page in one query.
		ph := make([]string, len(users))
		args := make([]any, len(users))
		at := map[string]int{}
		for i, u := range users {
			ph[i] = fmt.Sprintf("$%d", i+1)
			args[i] = u.Username
			at[u.Username] = i
		}
		prow, err := tx.Query(ctx, "SELECT username, post FROM auth_user_posts WHERE username IN ("+strings.Join(ph, ", ")+")", args...)
		if err != nil {
			return err
		}
		defer prow.Close()
		for prow.Next() {
			var name, p string
			if err := prow.Scan(&name, &p); err != nil {
				return err
			}
			i := at[name]
			users[i].Posts = append(users[i].Posts, Post(p))
		}
		return prow.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	for i := range users {
		sortPosts(users[i].Posts)
	}
	return users, int(total), nil
}
