package access

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Service keeps proxy authorisations and other bodies' applications, and serves the reads they allow.
type Service struct {
	st *store.Store
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the agency's time zone: dates ("valid until 2026-12-31") are its civil dates.
	Location *time.Location
}

// New returns the access service of a store.
func New(st *store.Store) *Service { return &Service{st: st, Now: time.Now, Location: time.Local} }

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// MaxValidity bounds how long an authorisation or an approval may last.
const MaxValidity = 366 * 24 * time.Hour

// parseDate reads a civil date in the agency's time zone; end gives the start of the next day (an inclusive
// last day as an exclusive instant).
func (s *Service) parseDate(field, v string, end bool) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(v), s.Location)
	if err != nil {
		return time.Time{}, record.Invalid(field, "date_format", "%q is not a date written YYYY-MM-DD", v)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d.UTC(), nil
}

// Day formats the civil date of an instant in the agency's time zone; for an exclusive end, the day before.
func (s *Service) Day(t time.Time, end bool) string {
	if t.IsZero() {
		return ""
	}
	if end {
		t = t.Add(-time.Millisecond)
	}
	return t.In(s.Location).Format("2006-01-02")
}

// Authorisation is a written authorisation (授权委托书) on file: it lets the named proxy query the fields it
// grants of a person's record, from ValidFrom until ValidUntil (exclusive).
type Authorisation struct {
	ID            int64             `json:"id"`
	Number        string            `json:"number"`
	Person        string            `json:"person"`
	ProxyName     string            `json:"proxy_name"`
	ProxyIDMasked string            `json:"proxy_id_number_masked"`
	Fields        []string          `json:"fields"`
	ValidFrom     time.Time         `json:"valid_from"`
	ValidUntil    time.Time         `json:"valid_until"` // exclusive
	FromDate      string            `json:"from_date"`   // the first day, in the agency's time zone
	UntilDate     string            `json:"until_date"`  // the last day
	RecordedBy    string            `json:"recorded_by"`
	RecordedAt    time.Time         `json:"recorded_at"`
	RevokedAt     time.Time         `json:"revoked_at,omitzero"`
	RevokedBy     string            `json:"revoked_by,omitempty"`
	RevokeReason  string            `json:"revoke_reason,omitempty"`
	Status        string            `json:"status"` // StatusActive, StatusPending, StatusExpired or StatusRevoked, at the time it was read
	Materials     []review.Material `json:"materials"`
	proxyIndex    string
}

// Authorisation and approval states.
const (
	StatusActive  = "active"  // in force now
	StatusPending = "pending" // authorisation: not yet in force; application: waiting for a decision
	StatusExpired = "expired" // its time is over
	StatusRevoked = "revoked" // withdrawn before its time
)

// ProxyNumber formats an authorisation number: P000042.
func ProxyNumber(id int64) string { return fmt.Sprintf("P%06d", id) }

// ParseNumber reads a number with the given prefix letter ("P000042" or "42").
func ParseNumber(field, prefix, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v)), prefix), 10, 64)
	if err != nil || n <= 0 {
		return 0, record.Invalid(field, "number", "%q is not a number such as %s000042", v, prefix)
	}
	return n, nil
}

// NewAuthorisation is what the counter records from a written authorisation.
type NewAuthorisation struct {
	PersonIDNumber string            `json:"person_id_number"` // the person who authorises
	ProxyIDNumber  string            `json:"proxy_id_number"`  // the proxy's citizen ID number
	ProxyName      string            `json:"proxy_name"`
	Fields         []string          `json:"fields"`
	ValidFrom      string            `json:"valid_from"`  // YYYY-MM-DD
	ValidUntil     string            `json:"valid_until"` // YYYY-MM-DD, the last day included
	Materials      []review.Material `json:"materials"`   // the written authorisation, scanned (required)
}

// RecordAuthorisation keeps a written authorisation on file. It needs the scanned authorisation (at least one
// material), a registered person, a valid proxy ID number other than the person's, the field groups granted and
// a period of at most MaxValidity. Every problem is reported; nothing is kept while any remains.
func (s *Service) RecordAuthorisation(ctx context.Context, actor string, n NewAuthorisation) (Authorisation, error) {
	now := s.now()
	var errs record.Errors
	n.PersonIDNumber = strings.ToUpper(strings.TrimSpace(n.PersonIDNumber))
	n.ProxyIDNumber = strings.ToUpper(strings.TrimSpace(n.ProxyIDNumber))
	var person string
	if err := record.ValidateCitizenID("person_id_number", n.PersonIDNumber, now); err != nil {
		errs.Append("", err)
	} else if p, err := s.st.FindPerson(ctx, n.PersonIDNumber); err != nil {
		if record.ErrorCode(err) != record.ENotFound {
			return Authorisation{}, err
		}
		errs.Append("", record.Invalid("person_id_number", "person_registered", "no registered person has ID number %s", record.MaskID(n.PersonIDNumber)))
	} else {
		person = p
	}
	if err := record.ValidateCitizenID("proxy_id_number", n.ProxyIDNumber, now); err != nil {
		errs.Append("", err)
	} else if n.ProxyIDNumber == n.PersonIDNumber {
		errs.Append("", record.Invalid("proxy_id_number", "proxy_other_person", "the proxy must be someone other than the person"))
	}
	n.ProxyName = strings.TrimSpace(n.ProxyName)
	if l := utf8.RuneCountInString(n.ProxyName); l < 1 || l > 50 {
		errs.Append("", record.Invalid("proxy_name", "name_length", "the proxy's name must be 1 to 50 characters"))
	}
	fields, err := ParseFields("fields", n.Fields)
	errs.Append("", err)
	from, err := s.parseDate("valid_from", n.ValidFrom, false)
	errs.Append("", err)
	until, err2 := s.parseDate("valid_until", n.ValidUntil, true)
	errs.Append("", err2)
	if err == nil && err2 == nil {
		switch {
		case !until.After(from):
			errs.Append("", record.Invalid("valid_until", "period_order", "the authorisation must end after it begins"))
		case until.Sub(from) > MaxValidity:
			errs.Append("", record.Invalid("valid_until", "validity_max", "an authorisation may last at most a year; a longer one needs a new written authorisation"))
		case !until.After(now):
			errs.Append("", record.Invalid("valid_until", "validity_past", "the authorisation would already have ended"))
		}
	}
	if len(n.Materials) == 0 {
		errs.Append("", record.Invalid("materials", "authorisation_on_file", "the written authorisation must be on file: upload its scan"))
	}
	if err := errs.Err(); err != nil {
		return Authorisation{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Authorisation{}, err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM proxy_authorisations").Scan(&id); err != nil {
		return Authorisation{}, err
	}
	keys := s.st.Keys()
	if _, err := tx.Exec(ctx, `INSERT INTO proxy_authorisations (id, person, proxy_index, proxy_sealed, proxy_name, fields, valid_from, valid_until,
		recorded_by, recorded_at, revoked_at, revoked_by, revoke_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, '', '')`,
		id, person, keys.IndexID(n.ProxyIDNumber), keys.SealID(n.ProxyIDNumber), n.ProxyName, strings.Join(fields, ","),
		from.UnixMilli(), until.UnixMilli(), actor, now.UnixMilli()); err != nil {
		return Authorisation{}, err
	}
	if err := AttachMaterials(ctx, tx, "materials", "proxy:"+ProxyNumber(id), n.Materials, actor, now); err != nil {
		return Authorisation{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Authorisation{}, err
	}
	return s.Authorisation(ctx, id)
}

const authCols = "id, person, proxy_index, proxy_sealed, proxy_name, fields, valid_from, valid_until, recorded_by, recorded_at, revoked_at, revoked_by, revoke_reason"

func (s *Service) scanAuthorisation(r store.Row, now time.Time) (Authorisation, error) {
	var a Authorisation
	var sealed []byte
	var fields string
	var from, until, at, revoked int64
	if err := r.Scan(&a.ID, &a.Person, &a.proxyIndex, &sealed, &a.ProxyName, &fields, &from, &until, &a.RecordedBy, &at, &revoked, &a.RevokedBy, &a.RevokeReason); err != nil {
		return a, err
	}
	a.Number = ProxyNumber(a.ID)
	a.Fields = strings.Split(fields, ",")
	a.ValidFrom, a.ValidUntil, a.RecordedAt = time.UnixMilli(from).UTC(), time.UnixMilli(until).UTC(), time.UnixMilli(at).UTC()
	if revoked != 0 {
		a.RevokedAt = time.UnixMilli(revoked).UTC()
	}
	if id, err := s.st.Keys().OpenID(sealed); err == nil {
		a.ProxyIDMasked = record.MaskID(id)
	}
	a.Status = authStatus(a, now)
	a.FromDate, a.UntilDate = s.Day(a.ValidFrom, false), s.Day(a.ValidUntil, true)
	return a, nil
}

func authStatus(a Authorisation, now time.Time) string {
	switch {
	case !a.RevokedAt.IsZero():
		return StatusRevoked
	case !now.Before(a.ValidUntil):
		return StatusExpired
	case now.Before(a.ValidFrom):
		return StatusPending
	}
	return StatusActive
}

// Authorisation reads one authorisation with its materials.
func (s *Service) Authorisation(ctx context.Context, id int64) (Authorisation, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Authorisation{}, err
	}
	defer tx.Rollback(ctx)
	a, err := s.scanAuthorisation(tx.QueryRow(ctx, "SELECT "+authCols+" FROM proxy_authorisations WHERE id = $1", id), s.now())
	if errors.Is(err, store.ErrNoRows) {
		return a, record.Errorf(record.ENotFound, "authorisation %s does not exist", ProxyNumber(id))
	}
	if err != nil {
		return a, err
	}
	a.Materials, err = Materials(ctx, tx, "proxy:"+a.Number)
	return a, err
}

// AuthorisationFilter narrows Authorisations: by the person who authorised, or by the proxy's key (the keyed
// hash of their ID number, which is also their person key when they are insured here); Active keeps only those
// in force.
type AuthorisationFilter struct {
	Person string
	Proxy  string
	Active bool
}

// Authorisations lists authorisations, newest first, at most limit (1–500) after offset, and how many match.
func (s *Service) Authorisations(ctx context.Context, f AuthorisationFilter, offset, limit int) ([]Authorisation, int, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "page_limit", "offset from 0 and limit 1 to 500")
	}
	now := s.now()
	var conds []string
	var args []any
	if f.Person != "" {
		args = append(args, f.Person)
		conds = append(conds, fmt.Sprintf("person = $%d", len(args)))
	}
	if f.Proxy != "" {
		args = append(args, f.Proxy)
		conds = append(conds, fmt.Sprintf("proxy_index = $%d", len(args)))
	}
	if f.Active {
		args = append(args, now.UnixMilli())
		conds = append(conds, fmt.Sprintf("revoked_at = 0 AND valid_from <= $%d AND valid_until > $%[1]d", len(args)))
	}
	cond := ""
	if len(conds) > 0 {
		cond = " WHERE " + strings.Join(conds, " AND ")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM proxy_authorisations"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM proxy_authorisations%s ORDER BY id DESC LIMIT $%d OFFSET $%d", authCols, cond, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Authorisation{}
	for rows.Next() {
		a, err := s.scanAuthorisation(rows, now)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// RevokeAuthorisation withdraws an authorisation before its time (the person revoked it in writing, or it was
// recorded in error); a reason is required.
func (s *Service) RevokeAuthorisation(ctx context.Context, actor string, id int64, reason string) (Authorisation, error) {
	if strings.TrimSpace(reason) == "" {
		return Authorisation{}, record.Invalid("reason", "revoke_reason", "say why the authorisation is revoked")
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Authorisation{}, err
	}
	defer tx.Rollback(ctx)
	n, err := tx.Exec(ctx, "UPDATE proxy_authorisations SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at = 0",
		s.now().UnixMilli(), actor, strings.TrimSpace(reason), id)
	if err != nil {
		return Authorisation{}, err
	}
	if n != 1 {
		if _, err := s.Authorisation(ctx, id); err != nil {
			return Authorisation{}, err
		}
		return Authorisation{}, record.Errorf(record.EConflict, "authorisation %s is revoked already", ProxyNumber(id))
	}
	if err := tx.Commit(ctx); err != nil {
		return Authorisation{}, err
	}
	return s.Authorisation(ctx, id)
}

// Proxy says who is asking as a proxy: at the counter the ID number the proxy presents (checked by the staff
// member Via); in the portal the proxy's own person key and portal account.
type Proxy struct {
	IDNumber string // at the counter
	Key      string // in the portal: the proxy's person key
	Account  string // in the portal: the proxy's portal account
	Via      string // at the counter: the staff member serving the proxy
}

// ProxyRead serves a proxy's query under authorisation id: the authorisation must be in force and name this
// proxy; the read is logged (actor kind proxy, the authorisation's number) before the fields it grants are
// returned. page names where it is shown.
func (s *Service) ProxyRead(ctx context.Context, id int64, p Proxy, page string) (map[string]any, Authorisation, error) {
	a, err := s.Authorisation(ctx, id)
	if err != nil {
		return nil, a, err
	}
	key := p.Key
	if p.IDNumber != "" {
		id := strings.ToUpper(strings.TrimSpace(p.IDNumber))
		if err := record.ValidateCitizenID("proxy_id_number", id, s.now()); err != nil {
			return nil, a, err
		}
		key = s.st.Keys().IndexID(id)
	}
	if key == "" || key != a.proxyIndex {
		return nil, a, record.Errorf(record.EForbidden, "authorisation %s does not name this proxy", a.Number)
	}
	switch a.Status {
	case StatusRevoked:
		return nil, a, record.Errorf(record.EForbidden, "authorisation %s was revoked on %s; it no longer lets the proxy query", a.Number, s.Day(a.RevokedAt, false))
	case StatusExpired:
		return nil, a, record.Errorf(record.EForbidden, "authorisation %s expired after %s; it no longer lets the proxy query", a.Number, s.Day(a.ValidUntil, true))
	case StatusPending:
		return nil, a, record.Errorf(record.EForbidden, "authorisation %s is in force only from %s", a.Number, s.Day(a.ValidFrom, false))
	}
	v, err := s.st.PersonRecord(ctx, a.Person)
	if err != nil {
		return nil, a, err
	}
	actor := p.Account
	if p.Via != "" {
		actor = "proxy " + a.ProxyIDMasked + " via " + p.Via
	}
	if err := querylog.Append(ctx, s.st.Driver(), querylog.Entry{At: s.now(), ActorKind: querylog.ActorProxy, Actor: actor, Person: a.Person,
		Page: page, Fields: strings.Join(a.Fields, ","), Purpose: "proxy", Application: a.Number}); err != nil {
		return nil, a, err
	}
	return Restrict(v, a.Fields), a, nil
}
