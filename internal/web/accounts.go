package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Portal account kinds: an insured person sees their own record; an employer sees its own registration and its
// employees' registration and contributions for the time they worked there (Q1, Q3).
const (
	KindPerson   = "person"
	KindEmployer = "employer"
)

// PortalAccount is a self-service account. Portal accounts are kept apart from staff users (auth): they hold no
// post and can never reach the staff console.
type PortalAccount struct {
	Username  string
	Kind      string // KindPerson or KindEmployer
	Subject   string // the person key, or the employer's unified social credit code
	CreatedAt time.Time
	Disabled  bool
}

// NewPortalAccount is what CreatePortalAccount needs.
type NewPortalAccount struct {
	Username string
	Kind     string
	Subject  string
	Password string
}

// Accounts keeps portal accounts and their sessions. Passwords are hashed with auth's argon2id; sign-in lockout
// and session timeouts follow the staff settings (auth.Config).
type Accounts struct {
	d   store.Driver
	cfg auth.Config

	dummyOnce sync.Once
	dummy     string
}

// NewAccounts returns the portal accounts kept on d, with cfg's lockout, timeouts and hashing cost.
func NewAccounts(d store.Driver, cfg auth.Config) *Accounts { return &Accounts{d: d, cfg: cfg} }

func (a *Accounts) tx(ctx context.Context, write bool, fn func(tx store.Tx) error) error {
	tx, err := a.d.Begin(ctx, write)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if write {
		return tx.Commit(ctx)
	}
	return nil
}

// Create makes a portal account for an existing person (by person key) or employer (by credit code). actor is
// who creates it.
func (a *Accounts) Create(ctx context.Context, n NewPortalAccount, actor string, now time.Time) (PortalAccount, error) {
	if err := auth.ValidateUsername(n.Username); err != nil {
		return PortalAccount{}, err
	}
	if err := auth.ValidatePassword(n.Username, n.Password); err != nil {
		return PortalAccount{}, err
	}
	var exists string
	switch n.Kind {
	case KindPerson:
		exists = "SELECT COUNT(*) FROM persons WHERE person = $1"
	case KindEmployer:
		if err := record.ValidateUSCC("subject", n.Subject); err != nil {
			return PortalAccount{}, err
		}
		exists = "SELECT COUNT(*) FROM employers WHERE credit_code = $1"
	default:
		return PortalAccount{}, record.Invalid("kind", "portal_kind", "kind must be %s or %s, not %q", KindPerson, KindEmployer, n.Kind)
	}
	h, err := auth.HashPassword(n.Password, a.cfg.Argon2)
	if err != nil {
		return PortalAccount{}, err
	}
	err = a.tx(ctx, true, func(tx store.Tx) error {
		var c int64
		if err := tx.QueryRow(ctx, exists, n.Subject).Scan(&c); err != nil {
			return err
		}
		if c == 0 {
			return record.Invalid("subject", "subject_registered", "no registered %s has this key", n.Kind)
		}
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM portal_accounts WHERE username = $1", n.Username).Scan(&c); err != nil {
			return err
		}
		if c > 0 {
			return &record.Error{Code: record.EConflict, Field: "username", Rule: "unique", Message: fmt.Sprintf("portal account %s already exists", n.Username)}
		}
		_, err := tx.Exec(ctx, `INSERT INTO portal_accounts (username, kind, subject, password, created_at, created_by, disabled, failures, last_failure, locked_until)
			VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, 0)`, n.Username, n.Kind, n.Subject, h, now.UnixMilli(), actor)
		return err
	})
	if err != nil {
		return PortalAccount{}, err
	}
	return PortalAccount{Username: n.Username, Kind: n.Kind, Subject: n.Subject, CreatedAt: time.UnixMilli(now.UnixMilli()).UTC()}, nil
}

// Get returns the account named username.
func (a *Accounts) Get(ctx context.Context, username string) (PortalAccount, error) {
	var acc PortalAccount
	err := a.tx(ctx, false, func(tx store.Tx) error {
		var created, disabled int64
		err := tx.QueryRow(ctx, "SELECT username, kind, subject, created_at, disabled FROM portal_accounts WHERE username = $1", username).
			Scan(&acc.Username, &acc.Kind, &acc.Subject, &created, &disabled)
		if errors.Is(err, store.ErrNoRows) {
			return record.Errorf(record.ENotFound, "no portal account %s", username)
		}
		acc.CreatedAt, acc.Disabled = time.UnixMilli(created).UTC(), disabled != 0
		return err
	})
	return acc, err
}

var errPortalLogin = record.Errorf(record.EUnauthorized, "wrong username or password")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return strings.ToLower(b32.EncodeToString(b))
}

func hashToken(t string) []byte {
	h := sha256.Sum256([]byte("portal:" + t))
	return h[:]
}

// dummyHash is verified against when the account does not exist, so that timing says nothing about it.
func (a *Accounts) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = auth.HashPassword(newToken(), a.cfg.Argon2) })
	return a.dummy
}

// Login checks a portal account's password and opens a session, returning its token. Unknown accounts and wrong
// passwords give the same error; after cfg.MaxFailures failures in a row the account is locked for
// cfg.LockoutDuration.
func (a *Accounts) Login(ctx context.Context, username, password string, now time.Time) (string, PortalAccount, error) {
	name := strings.ToLower(strings.TrimSpace(username))
	if auth.ValidateUsername(name) != nil || len(password) > 4*auth.MaxPasswordLength {
		return "", PortalAccount{}, errPortalLogin
	}
	var hash string
	var acc PortalAccount
	var disabled, failures, lastFailure, lockedUntil int64
	found := true
	err := a.tx(ctx, false, func(tx store.Tx) error {
		err := tx.QueryRow(ctx, "SELECT username, kind, subject, password, disabled, failures, last_failure, locked_until FROM portal_accounts WHERE username = $1", name).
			Scan(&acc.Username, &acc.Kind, &acc.Subject, &hash, &disabled, &failures, &lastFailure, &lockedUntil)
		if errors.Is(err, store.ErrNoRows) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return "", PortalAccount{}, err
	}
	if !found {
		auth.VerifyPassword(password, a.dummyHash())
		return "", PortalAccount{}, errPortalLogin
	}
	if lockedUntil > now.UnixMilli() {
		return "", PortalAccount{}, record.Errorf(record.EUnauthorized, "account locked after repeated failed sign-ins until %s",
			time.UnixMilli(lockedUntil).In(now.Location()).Format("2006-01-02 15:04"))
	}
	ok, err := auth.VerifyPassword(password, hash)
	if err != nil {
		ok = false
	}
	if ok && disabled != 0 {
		return "", PortalAccount{}, record.Errorf(record.EUnauthorized, "account %s is disabled", name)
	}
	if !ok {
		if lockedUntil != 0 && lockedUntil <= now.UnixMilli() || lastFailure < now.Add(-24*time.Hour).UnixMilli() {
			failures = 0
		}
		failures++
		var until int64
		if failures >= int64(a.cfg.MaxFailures) {
			until = now.Add(a.cfg.LockoutDuration).UnixMilli()
		}
		if err := a.tx(ctx, true, func(tx store.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE portal_accounts SET failures = $1, last_failure = $2, locked_until = $3 WHERE username = $4",
				failures, now.UnixMilli(), until, name)
			return err
		}); err != nil {
			return "", PortalAccount{}, err
		}
		return "", PortalAccount{}, errPortalLogin
	}
	token := newToken()
	err = a.tx(ctx, true, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE portal_accounts SET failures = 0, locked_until = 0 WHERE username = $1", name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM portal_sessions WHERE expires_at <= $1 OR last_seen <= $2",
			now.UnixMilli(), now.Add(-a.cfg.IdleTimeout).UnixMilli()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO portal_sessions (token_hash, username, created_at, last_seen, expires_at) VALUES ($1, $2, $3, $3, $4)",
			hashToken(token), name, now.UnixMilli(), now.Add(a.cfg.SessionLifetime).UnixMilli())
		return err
	})
	if err != nil {
		return "", PortalAccount{}, err
	}
	return token, acc, nil
}

var errPortalSession = record.Errorf(record.EUnauthorized, "not signed in, or the session has ended")

// Authenticate returns the account a session token belongs to, sliding the session's idle timeout.
func (a *Accounts) Authenticate(ctx context.Context, token string, now time.Time) (PortalAccount, error) {
	if token == "" || len(token) > 200 {
		return PortalAccount{}, errPortalSession
	}
	var acc PortalAccount
	var lastSeen, expires, disabled int64
	err := a.tx(ctx, false, func(tx store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT a.username, a.kind, a.subject, a.disabled, s.last_seen, s.expires_at
			FROM portal_sessions s JOIN portal_accounts a ON a.username = s.username WHERE s.token_hash = $1`, hashToken(token)).
			Scan(&acc.Username, &acc.Kind, &acc.Subject, &disabled, &lastSeen, &expires)
		if errors.Is(err, store.ErrNoRows) {
			return errPortalSession
		}
		return err
	})
	if err != nil {
		return PortalAccount{}, err
	}
	if disabled != 0 || now.UnixMilli() >= expires || now.UnixMilli() >= lastSeen+a.cfg.IdleTimeout.Milliseconds() {
		return PortalAccount{}, errPortalSession
	}
	if now.UnixMilli()-lastSeen >= time.Minute.Milliseconds() {
		if err := a.tx(ctx, true, func(tx store.Tx) error {
			_, err := tx.Exec(ctx, "UPDATE portal_sessions SET last_seen = $1 WHERE token_hash = $2", now.UnixMilli(), hashToken(token))
			return err
		}); err != nil {
			return PortalAccount{}, err
		}
	}
	return acc, nil
}

// Logout ends the session of token; an unknown one is not an error.
func (a *Accounts) Logout(ctx context.Context, token string) error {
	return a.tx(ctx, true, func(tx store.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM portal_sessions WHERE token_hash = $1", hashToken(token))
		return err
	})
}
