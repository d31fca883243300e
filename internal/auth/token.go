package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Token describes an API token; the token itself is shown once, at creation, and only its SHA-256 is stored.
type Token struct {
	ID        string // public handle, for listing and revoking
	Username  string // the user the token acts for
	Name      string // what it is for, e.g. "bank feed"
	Scopes    []Scope
	CreatedAt time.Time
	CreatedBy string
	ExpiresAt time.Time
	RevokedAt time.Time // zero while not revoked
}

// TokenSpec is what CreateToken needs.
type TokenSpec struct {
	Username  string
	Name      string
	Scopes    []Scope
	ExpiresAt time.Time
}

// CreateToken creates an API token for a machine client acting as spec.Username, and returns the token (format
// sirec_<base32>, to be shown once) with its description. Its scopes must be known and allowed by the user's
// posts; it expires at spec.ExpiresAt, at most Config.MaxTokenLifetime from now.
func (s *Service) CreateToken(ctx context.Context, spec TokenSpec, actor string, now time.Time) (string, Token, error) {
	if err := validateActor(actor); err != nil {
		return "", Token{}, err
	}
	if err := validateText("name", spec.Name, 64); err != nil {
		return "", Token{}, err
	}
	if err := validateScopes(spec.Scopes); err != nil {
		return "", Token{}, err
	}
	switch {
	case !spec.ExpiresAt.After(now):
		return "", Token{}, record.Invalid("expires_at", "future", "the expiry must be in the future")
	case spec.ExpiresAt.After(now.Add(s.cfg.MaxTokenLifetime)):
		return "", Token{}, record.Invalid("expires_at", "max_lifetime", "a token may be valid for at most %s", humanDuration(s.cfg.MaxTokenLifetime))
	}
	id := make([]byte, 10)
	if _, err := rand.Read(id); err != nil {
		return "", Token{}, err
	}
	t := Token{ID: strings.ToLower(b32.EncodeToString(id)), Username: spec.Username, Name: spec.Name,
		Scopes: slices.Clone(spec.Scopes), CreatedAt: fromMS(ms(now)), CreatedBy: actor, ExpiresAt: fromMS(ms(spec.ExpiresAt))}
	secret := tokenPrefix + randomToken()
	err := s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, spec.Username)
		if err != nil {
			return err
		}
		if u.Disabled {
			return record.Errorf(record.EConflict, "user %s is disabled", u.Username)
		}
		allowed := ScopesOf(u.Posts)
		for _, sc := range t.Scopes {
			if !slices.Contains(allowed, sc) {
				return record.Invalid("scopes", "within_posts", "the posts of %s (%s) do not allow scope %s", u.Username, postList(u.Posts), sc)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_tokens (id, token_hash, username, name, scopes, created_at, created_by, expires_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)`,
			t.ID, tokenHash(secret), t.Username, t.Name, joinScopes(t.Scopes), ms(now), actor, ms(t.ExpiresAt)); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, actor, ActionTokenCreate, t.Username,
			fmt.Sprintf("token %s %q, scopes %s, expires %s", t.ID, t.Name, joinScopes(t.Scopes), t.ExpiresAt.Format(time.RFC3339)))
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// RevokeToken revokes the API token with the given ID at once.
func (s *Service) RevokeToken(ctx context.Context, id, actor string, now time.Time) error {
	if err := validateActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx store.Tx) error {
		var username string
		var revoked int64
		err := tx.QueryRow(ctx, "SELECT username, revoked_at FROM auth_tokens WHERE id = $1", id).Scan(&username, &revoked)
		if errors.Is(err, store.ErrNoRows) {
			return &record.Error{Code: record.ENotFound, Field: "id", Rule: "exists", Message: fmt.Sprintf("no API token %s", id)}
		}
		if err != nil {
			return err
		}
		if revoked != 0 {
			return record.Errorf(record.EConflict, "API token %s was revoked already at %s", id, fromMS(revoked).Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, "UPDATE auth_tokens SET revoked_at = $1 WHERE id = $2", ms(now), id); err != nil {
			return err
		}
		return appendLog(ctx, tx, now, actor, ActionTokenRevoke, username, "token "+id)
	})
}

// ListTokens returns username's API tokens, revoked and expired ones included, newest first.
func (s *Service) ListTokens(ctx context.Context, username string) ([]Token, error) {
	var out []Token
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := getUser(ctx, tx, username); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, username, name, scopes, created_at, created_by, expires_at, revoked_at
			FROM auth_tokens WHERE username = $1 ORDER BY created_at DESC, id`, username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t Token
			var scopes string
			var created, expires, revoked int64
			if err := rows.Scan(&t.ID, &t.Username, &t.Name, &scopes, &created, &t.CreatedBy, &expires, &revoked); err != nil {
				return err
			}
			t.Scopes = splitScopes(scopes)
			t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMS(created), fromMS(expires), fromMS(revoked)
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// authenticateToken is Authenticate for an API token: valid while neither revoked nor expired, for an enabled
// user, with its scopes cut down to what the user's posts allow now.
func (s *Service) authenticateToken(ctx context.Context, token string, now time.Time) (Principal, error) {
	var p Principal
	var scopes string
	var expires, revoked, disabled, external int64
	err := s.read(ctx, func(tx store.Tx) error {
		err := tx.QueryRow(ctx, `SELECT t.id, t.name, t.scopes, t.expires_at, t.revoked_at, u.username, u.display_name, u.disabled, u.external
			FROM auth_tokens t JOIN auth_users u ON u.username = t.username WHERE t.token_hash = $1`, tokenHash(token)).
			Scan(&p.TokenID, &p.TokenName, &scopes, &expires, &revoked, &p.Username, &p.DisplayName, &disabled, &external)
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
	switch {
	case revoked != 0 || disabled != 0:
		return Principal{}, record.Errorf(record.EUnauthorized, "API token %s has been revoked", p.TokenID)
	case ms(now) >= expires:
		return Principal{}, record.Errorf(record.EUnauthorized, "API token %s expired at %s", p.TokenID, fromMS(expires).Format(time.RFC3339))
	case external != 0:
		if err := s.agreementInForce(ctx, p.Username, now); err != nil {
			return Principal{}, err
		}
	}
	allowed := ScopesOf(p.Posts)
	for _, sc := range splitScopes(scopes) {
		if slices.Contains(allowed, sc) {
			p.Scopes = append(p.Scopes, sc)
		}
	}
	p.External = external != 0
	p.ExpiresAt = fromMS(expires)
	return p, nil
}
