package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Outside helpers (R11.2, S2). A user marked external — a contractor's engineer, say — may assist with
// maintenance but never maintain alone, and must have signed a confidentiality agreement (保密协议). The
// agreement's document is stored once by its SHA-256 with the original materials (review_materials, R13) and
// checked against it whenever read; its signing date and its last valid day are kept here.
//
// An external user is enabled only while an agreement is valid: created without one, the user is created
// disabled; Enable refuses without one; and when the last agreement expires the user is disabled — sessions end
// and API tokens are revoked at once, as Disable does — by the first sign-in or request that notices
// (Login, Authenticate) and by the scheduler's sweep (ExpireAgreements). Dates are civil dates in the agency's
// time zone (Config.Location).

// Actions written to the authentication log for outside helpers.
const (
	ActionAgreementAdd = "agreement_add" // a confidentiality agreement filed
	ActionUserExternal = "user_external" // a user marked external or internal
)

// ExpiryActor is the actor the log names when an expired agreement disables a user.
const ExpiryActor = "system:agreement-expiry"

// Agreement is a signed confidentiality agreement on file for a user.
type Agreement struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	SignedOn    string    `json:"signed_on"`  // YYYY-MM-DD
	ExpiresOn   string    `json:"expires_on"` // YYYY-MM-DD: the last day it is valid
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

// ValidOn reports whether the agreement is in force on day (YYYY-MM-DD).
func (a Agreement) ValidOn(day string) bool { return a.SignedOn <= day && day <= a.ExpiresOn }

// AgreementSpec is an agreement to file: its document, already stored as a material by its SHA-256, and dates.
type AgreementSpec struct {
	SHA256      string `json:"sha256"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	SignedOn    string `json:"signed_on"`
	ExpiresOn   string `json:"expires_on"`
}

// Validate checks the fields on their own; today is the civil date (YYYY-MM-DD).
func (a AgreementSpec) Validate(today string) error {
	var errs record.Errors
	if len(a.SHA256) != 64 || strings.Trim(a.SHA256, "0123456789abcdef") != "" {
		errs.Append("sha256", record.Invalid("", "sha256", "the document's SHA-256 is 64 lower-case hex digits"))
	}
	if strings.TrimSpace(a.Name) == "" || utf8.RuneCountInString(a.Name) > 120 {
		errs.Append("name", record.Invalid("", "material_name", "give the document's file name, at most 120 characters, e.g. 保密协议.pdf"))
	}
	signed, err1 := time.Parse("2006-01-02", a.SignedOn)
	expires, err2 := time.Parse("2006-01-02", a.ExpiresOn)
	if err1 != nil {
		errs.Append("signed_on", record.Invalid("", "date_format", "%q is not a date written YYYY-MM-DD", a.SignedOn))
	}
	if err2 != nil {
		errs.Append("expires_on", record.Invalid("", "date_format", "%q is not a date written YYYY-MM-DD", a.ExpiresOn))
	}
	if err1 == nil && a.SignedOn > today {
		errs.Append("signed_on", record.Invalid("", "signed_future", "an agreement signed on %s is not signed yet (today is %s)", a.SignedOn, today))
	}
	if err1 == nil && err2 == nil && !expires.After(signed) {
		errs.Append("expires_on", record.Invalid("", "expiry_after_signing", "the agreement must end after it is signed (%s)", a.SignedOn))
	}
	if err2 == nil && a.ExpiresOn < today {
		errs.Append("expires_on", record.Invalid("", "agreement_expired", "the agreement ended on %s; file one in force", a.ExpiresOn))
	}
	return errs.Err()
}

// today is now's civil date in the agency's time zone.
func (s *Service) today(now time.Time) string {
	loc := s.cfg.Location
	if loc == nil {
		loc = time.Local
	}
	return now.In(loc).Format("2006-01-02")
}

func errNoAgreement(username string) error {
	return &record.Error{Code: record.EConflict, Field: "agreement", Rule: "confidentiality_agreement",
		Message: fmt.Sprintf("user %s is an outside helper: a signed confidentiality agreement in force must be on file before the account is enabled (R11.2)", username)}
}

// externalPosts are the posts an outside helper may not hold: the review stages, where only the agency's own
// staff decide (R11.2).
var externalPosts = []Post{PostInitialReviewer, PostReviewer, PostRechecker, PostApprover}

func checkExternalPost(p Post) error {
	for _, x := range externalPosts {
		if p == x {
			return &record.Error{Code: record.EConflict, Field: "posts", Rule: "external_reviewer",
				Message: "an outside helper cannot hold the review post " + p.Label() + ": reviews are made by the agency's own staff (R11.2)"}
		}
	}
	return nil
}

func insertAgreement(ctx context.Context, tx store.Tx, username string, a AgreementSpec, actor string, now time.Time) (int64, error) {
	var n int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM review_materials WHERE sha256 = $1", a.SHA256).Scan(&n); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, record.Invalid("sha256", "material_stored", "no document with SHA-256 %s is stored; upload it first", a.SHA256)
	}
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO auth_agreements (username, sha256, name, content_type, signed_on, expires_on, added_by, added_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, username, a.SHA256, strings.TrimSpace(a.Name), ct, a.SignedOn, a.ExpiresOn, actor, ms(now)).Scan(&id)
	if err != nil {
		return 0, err
	}
	return id, appendLog(ctx, tx, now, actor, ActionAgreementAdd, username,
		fmt.Sprintf("confidentiality agreement %s signed %s, valid until %s, document %s", a.Name, a.SignedOn, a.ExpiresOn, a.SHA256))
}

// AddAgreement files a signed confidentiality agreement for username; the document must be stored already
// (review.Service.AddMaterial). It does not enable the user: Enable does, once an agreement is in force.
func (s *Service) AddAgreement(ctx context.Context, username string, a AgreementSpec, actor string, now time.Time) (Agreement, error) {
	if err := validateActor(actor); err != nil {
		return Agreement{}, err
	}
	if err := a.Validate(s.today(now)); err != nil {
		return Agreement{}, err
	}
	var id int64
	err := s.write(ctx, func(tx store.Tx) error {
		if _, err := getUser(ctx, tx, username); err != nil {
			return err
		}
		var err error
		id, err = insertAgreement(ctx, tx, username, a, actor, now)
		return err
	})
	if err != nil {
		return Agreement{}, err
	}
	return Agreement{ID: id, Username: username, SHA256: a.SHA256, Name: strings.TrimSpace(a.Name), ContentType: a.ContentType,
		SignedOn: a.SignedOn, ExpiresOn: a.ExpiresOn, AddedBy: actor, AddedAt: fromMS(ms(now))}, nil
}

// Agreements lists username's agreements, the latest ending first.
func (s *Service) Agreements(ctx context.Context, username string) ([]Agreement, error) {
	out := []Agreement{}
	err := s.read(ctx, func(tx store.Tx) error {
		if _, err := getUser(ctx, tx, username); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, username, sha256, name, content_type, signed_on, expires_on, added_by, added_at
			FROM auth_agreements WHERE username = $1 ORDER BY expires_on DESC, id DESC`, username)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAgreement(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	return out, err
}

// Agreement returns username's agreement whose document has the hash sha, for downloading it.
func (s *Service) Agreement(ctx context.Context, username, sha string) (Agreement, error) {
	var a Agreement
	err := s.read(ctx, func(tx store.Tx) error {
		var err error
		a, err = scanAgreement(tx.QueryRow(ctx, `SELECT id, username, sha256, name, content_type, signed_on, expires_on, added_by, added_at
			FROM auth_agreements WHERE username = $1 AND sha256 = $2 ORDER BY id DESC LIMIT 1`, username, sha))
		if errors.Is(err, store.ErrNoRows) {
			return record.Errorf(record.ENotFound, "user %s has no agreement with document %s", username, sha)
		}
		return err
	})
	return a, err
}

func scanAgreement(r store.Row) (Agreement, error) {
	var a Agreement
	var at int64
	err := r.Scan(&a.ID, &a.Username, &a.SHA256, &a.Name, &a.ContentType, &a.SignedOn, &a.ExpiresOn, &a.AddedBy, &at)
	a.AddedAt = fromMS(at)
	return a, err
}

// validAgreement returns username's agreement in force on day, if any.
func validAgreement(ctx context.Context, tx store.Tx, username, day string) (Agreement, bool, error) {
	a, err := scanAgreement(tx.QueryRow(ctx, `SELECT id, username, sha256, name, content_type, signed_on, expires_on, added_by, added_at
		FROM auth_agreements WHERE username = $1 AND signed_on <= $2 AND expires_on >= $2 ORDER BY expires_on DESC LIMIT 1`, username, day))
	if errors.Is(err, store.ErrNoRows) {
		return a, false, nil
	}
	return a, err == nil, err
}

// SetExternal marks username as an outside helper or as the agency's own staff. Marking a user external who has
// no agreement in force disables the user at once; a user holding a review post cannot be marked external.
func (s *Service) SetExternal(ctx context.Context, username string, external bool, actor string, now time.Time) (User, error) {
	if err := validateActor(actor); err != nil {
		return User{}, err
	}
	err := s.write(ctx, func(tx store.Tx) error {
		u, err := getUser(ctx, tx, username)
		if err != nil {
			return err
		}
		if u.External == external {
			return record.Errorf(record.EConflict, "user %s is %s already", username, map[bool]string{true: "external", false: "internal"}[external])
		}
		if external {
			for _, p := range u.Posts {
				if err := checkExternalPost(p); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE auth_users SET external = $1, updated_at = $2 WHERE username = $3", b2i(external), ms(now), username); err != nil {
			return err
		}
		if !external {
			return appendLog(ctx, tx, now, actor, ActionUserExternal, username, "marked as the agency's own staff")
		}
		if err := appendLog(ctx, tx, now, actor, ActionUserExternal, username, "marked as an outside helper (R11.2)"); err != nil {
			return err
		}
		if _, ok, err := validAgreement(ctx, tx, username, s.today(now)); err != nil || ok || u.Disabled {
			return err
		}
		return disableTx(ctx, tx, username, actor, "outside helper without a confidentiality agreement in force", now)
	})
	if err != nil {
		return User{}, err
	}
	return s.GetUser(ctx, username)
}

// expire disables username, an outside helper whose agreement is no longer in force, unless it is disabled
// already or an agreement is in force after all (checked again in the same transaction). It reports whether it
// disabled the user.
func (s *Service) expire(ctx context.Context, username string, now time.Time) (bool, error) {
	done := false
	err := s.write(ctx, func(tx store.Tx) error {
		var disabled, external int64
		if err := tx.QueryRow(ctx, "SELECT disabled, external FROM auth_users WHERE username = $1", username).Scan(&disabled, &external); err != nil {
			return err
		}
		if disabled != 0 || external == 0 {
			return nil
		}
		if _, ok, err := validAgreement(ctx, tx, username, s.today(now)); err != nil || ok {
			return err
		}
		var last string
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(expires_on), '') FROM auth_agreements WHERE username = $1", username).Scan(&last); err != nil {
			return err
		}
		why := "no confidentiality agreement in force"
		if last != "" {
			why = "confidentiality agreement expired after " + last
		}
		done = true
		return disableTx(ctx, tx, username, ExpiryActor, why+" (R11.2)", now)
	})
	return done, err
}

// agreementInForce reports whether an outside helper's agreement is in force now; when it is not, the user is
// disabled at once and the error says why.
func (s *Service) agreementInForce(ctx context.Context, username string, now time.Time) error {
	var ok bool
	if err := s.read(ctx, func(tx store.Tx) (err error) {
		_, ok, err = validAgreement(ctx, tx, username, s.today(now))
		return err
	}); err != nil {
		return err
	}
	if ok {
		return nil
	}
	if _, err := s.expire(ctx, username, now); err != nil {
		return err
	}
	return errAgreementEnded(username)
}

func errAgreementEnded(username string) error {
	return record.Errorf(record.EUnauthorized, "account %s is disabled: its confidentiality agreement is no longer in force (R11.2); ask a system administrator", username)
}

// ExpireAgreements disables every enabled outside helper without an agreement in force now, and returns their
// names. The scheduler runs it; Login and Authenticate do the same for the one user they see.
func (s *Service) ExpireAgreements(ctx context.Context, now time.Time) ([]string, error) {
	var names []string
	err := s.read(ctx, func(tx store.Tx) error {
		rows, err := tx.Query(ctx, `SELECT u.username FROM auth_users u WHERE u.external = 1 AND u.disabled = 0 AND NOT EXISTS
			(SELECT 1 FROM auth_agreements a WHERE a.username = u.username AND a.signed_on <= $1 AND a.expires_on >= $1) ORDER BY u.username`, s.today(now))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		done, err := s.expire(ctx, n, now)
		if err != nil {
			return out, err
		}
		if done {
			out = append(out, n)
		}
	}
	return out, nil
}

// Today is now's civil date (YYYY-MM-DD) in the agency's time zone: the day agreements' dates are compared with.
func (s *Service) Today(now time.Time) string { return s.today(now) }
