package transfer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/record"
	"sirec/internal/store"
)

// OriginPrefix begins the name of every agency's signing key: "sirec.agency/" and the region code. The same
// Ed25519 note key signs the agency's journal checkpoints and its transfer packages.
const OriginPrefix = "sirec.agency/"

// KeyName returns the signing key name of the agency of a region.
func KeyName(region string) string { return OriginPrefix + region }

// Identity is this agency: its region code and signing key (from the key folder) and its name and address
// (kept in the database, set by a system administrator).
type Identity struct {
	Region    string    `json:"region"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`          // the base URL other agencies deliver to, e.g. https://sirec.hz.example
	Key       string    `json:"verifier_key"` // the note verifier key other agencies put on their trust lists
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// TrustEntry is another agency on the trust list: whose packages and acknowledgements this agency accepts
// (signed by Key) and where it delivers to them (URL).
type TrustEntry struct {
	Region    string    `json:"region"`
	Name      string    `json:"name"`
	Key       string    `json:"verifier_key"`
	URL       string    `json:"url"`
	AddedAt   time.Time `json:"added_at"`
	AddedBy   string    `json:"added_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// TrustLogEntry is one change of the trust list or the agency's identity.
type TrustLogEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // identity_set, trust_add, trust_update, trust_remove
	Region string    `json:"region"`
	Detail string    `json:"detail"`
}

func validateText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return record.Invalid(field, "required", "%s is required", field)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return record.Invalid(field, "text_chars", "%s may hold no control characters", field)
	}
	if utf8.RuneCountInString(s) > max {
		return record.Invalid(field, "text_length", "%s has at most %d characters", field, max)
	}
	return nil
}

// ValidateURL checks an agency's base URL: http or https, a host, no query or fragment. empty allows "".
func ValidateURL(field, s string, empty bool) error {
	if s == "" && empty {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return record.Invalid(field, "agency_url", "%q is not a base URL such as https://sirec.example.gov.cn", s)
	}
	return nil
}

// Identity returns this agency's identity.
func (s *Service) Identity(ctx context.Context) (Identity, error) {
	id := Identity{Region: s.st.Region(), Key: s.st.Keys().VKey}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return id, err
	}
	defer tx.Rollback(ctx)
	var at int64
	err = tx.QueryRow(ctx, "SELECT name, url, updated_at, updated_by FROM agency_identity WHERE id = 1").Scan(&id.Name, &id.URL, &at, &id.UpdatedBy)
	if errors.Is(err, store.ErrNoRows) {
		return id, nil
	}
	if at > 0 {
		id.UpdatedAt = time.UnixMilli(at).UTC()
	}
	return id, err
}

// SetIdentity sets the agency's name and base URL. The region code and key come from the key folder and
// cannot be set here.
func (s *Service) SetIdentity(ctx context.Context, actor, name, baseURL string) (Identity, error) {
	var errs record.Errors
	errs.Append("", validateText("name", name, 100))
	errs.Append("", ValidateURL("url", baseURL, true))
	errs.Append("", validateText("actor", actor, 64))
	if err := errs.Err(); err != nil {
		return Identity{}, err
	}
	now := s.now()
	err := s.write(ctx, func(tx store.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM agency_identity WHERE id = 1"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO agency_identity (id, name, url, updated_at, updated_by) VALUES (1, $1, $2, $3, $4)",
			name, strings.TrimRight(baseURL, "/"), now.UnixMilli(), actor); err != nil {
			return err
		}
		return trustLog(ctx, tx, now, actor, "identity_set", s.st.Region(), fmt.Sprintf("name=%s url=%s", name, baseURL))
	})
	if err != nil {
		return Identity{}, err
	}
	return s.Identity(ctx)
}

func trustLog(ctx context.Context, tx store.Tx, now time.Time, actor, action, region, detail string) error {
	_, err := tx.Exec(ctx, "INSERT INTO agency_trust_log (at, actor, action, region, detail) VALUES ($1, $2, $3, $4, $5)",
		now.UnixMilli(), actor, action, region, detail)
	return err
}

// TrustSpec is an agency to put on the trust list, or the new values of one already on it.
type TrustSpec struct {
	Region string `json:"region"`
	Name   string `json:"name"`
	Key    string `json:"verifier_key"`
	URL    string `json:"url"`
}

// Validate checks a trust list entry: the key must be a note verifier key named after the region, and the
// region must not be this agency's own.
func (t TrustSpec) validate(own string) (note.Verifier, error) {
	var errs record.Errors
	errs.Append("", record.ValidateRegion("region", t.Region))
	errs.Append("", validateText("name", t.Name, 100))
	errs.Append("", ValidateURL("url", t.URL, true))
	var v note.Verifier
	if t.Key == "" {
		errs.Append("verifier_key", record.Invalid("", "required", "the agency's verifier key is required (its `sirec agency show` prints it)"))
	} else if vv, err := note.NewVerifier(strings.TrimSpace(t.Key)); err != nil {
		errs.Append("verifier_key", record.Invalid("", "verifier_key", "not a verifier key: %v", err))
	} else if vv.Name() != KeyName(t.Region) {
		errs.Append("verifier_key", record.Invalid("", "verifier_key_region", "the key is named %s, not %s: it belongs to another region", vv.Name(), KeyName(t.Region)))
	} else {
		v = vv
	}
	if t.Region == own {
		errs.Append("region", record.Invalid("", "trust_self", "region %s is this agency's own", own))
	}
	return v, errs.Err()
}

// Trust adds an agency to the trust list or, when its region is on it, replaces its name, key and address.
// Only system administrators manage the list (the caller checks the post); every change is logged.
func (s *Service) Trust(ctx context.Context, actor string, t TrustSpec) (TrustEntry, error) {
	t.Key = strings.TrimSpace(t.Key)
	t.URL = strings.TrimRight(t.URL, "/")
	if _, err := t.validate(s.st.Region()); err != nil {
		return TrustEntry{}, err
	}
	now := s.now()
	err := s.write(ctx, func(tx store.Tx) error {
		var old TrustEntry
		err := tx.QueryRow(ctx, "SELECT name, vkey, url FROM agency_trust WHERE region = $1", t.Region).Scan(&old.Name, &old.Key, &old.URL)
		switch {
		case errors.Is(err, store.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO agency_trust (region, name, vkey, url, added_at, added_by, updated_at, updated_by)
				VALUES ($1, $2, $3, $4, $5, $6, $5, $6)`, t.Region, t.Name, t.Key, t.URL, now.UnixMilli(), actor); err != nil {
				return err
			}
			return trustLog(ctx, tx, now, actor, "trust_add", t.Region, fmt.Sprintf("name=%s key=%s url=%s", t.Name, t.Key, t.URL))
		case err != nil:
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE agency_trust SET name = $1, vkey = $2, url = $3, updated_at = $4, updated_by = $5 WHERE region = $6",
			t.Name, t.Key, t.URL, now.UnixMilli(), actor, t.Region); err != nil {
			return err
		}
		detail := fmt.Sprintf("name=%s url=%s", t.Name, t.URL)
		if old.Key != t.Key {
			detail += fmt.Sprintf(" key %s → %s", old.Key, t.Key)
		}
		return trustLog(ctx, tx, now, actor, "trust_update", t.Region, detail)
	})
	if err != nil {
		return TrustEntry{}, err
	}
	return s.TrustEntry(ctx, t.Region)
}

// Distrust removes an agency from the trust list: its packages and acknowledgements are refused from then on.
func (s *Service) Distrust(ctx context.Context, actor, region string) error {
	if err := record.ValidateRegion("region", region); err != nil {
		return err
	}
	now := s.now()
	return s.write(ctx, func(tx store.Tx) error {
		var key string
		err := tx.QueryRow(ctx, "SELECT vkey FROM agency_trust WHERE region = $1", region).Scan(&key)
		if errors.Is(err, store.ErrNoRows) {
			return record.Errorf(record.ENotFound, "region %s is not on the trust list", region)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM agency_trust WHERE region = $1", region); err != nil {
			return err
		}
		return trustLog(ctx, tx, now, actor, "trust_remove", region, "key="+key)
	})
}

// TrustEntry returns one entry of the trust list.
func (s *Service) TrustEntry(ctx context.Context, region string) (TrustEntry, error) {
	list, err := s.trustList(ctx, region)
	if err != nil {
		return TrustEntry{}, err
	}
	if len(list) == 0 {
		return TrustEntry{}, record.Errorf(record.ENotFound, "region %s is not on the trust list", region)
	}
	return list[0], nil
}

// TrustList returns the trust list by region.
func (s *Service) TrustList(ctx context.Context) ([]TrustEntry, error) { return s.trustList(ctx, "") }

func (s *Service) trustList(ctx context.Context, region string) ([]TrustEntry, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	q := "SELECT region, name, vkey, url, added_at, added_by, updated_at, updated_by FROM agency_trust"
	var args []any
	if region != "" {
		q += " WHERE region = $1"
		args = append(args, region)
	}
	rows, err := tx.Query(ctx, q+" ORDER BY region", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TrustEntry{}
	for rows.Next() {
		var e TrustEntry
		var added, updated int64
		if err := rows.Scan(&e.Region, &e.Name, &e.Key, &e.URL, &added, &e.AddedBy, &updated, &e.UpdatedBy); err != nil {
			return nil, err
		}
		e.AddedAt, e.UpdatedAt = time.UnixMilli(added).UTC(), time.UnixMilli(updated).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// TrustLog returns the changes of the trust list and identity, newest first.
func (s *Service) TrustLog(ctx context.Context, offset, limit int) ([]TrustLogEntry, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, record.Invalid("limit", "range", "offset from 0 and limit 1 to 1000")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT at, actor, action, region, detail FROM agency_trust_log ORDER BY id DESC LIMIT $1 OFFSET $2", limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TrustLogEntry{}
	for rows.Next() {
		var e TrustLogEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Region, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// verifiers returns the trust list as note verifiers, for opening packages and acknowledgements.
func (s *Service) verifiers(ctx context.Context) (verifierKeys, error) {
	list, err := s.TrustList(ctx)
	if err != nil {
		return nil, err
	}
	keys := verifierKeys{}
	for _, e := range list {
		keys[KeyName(e.Region)] = e.Key
	}
	return keys, nil
}
