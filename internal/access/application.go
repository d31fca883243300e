package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/export"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Kinds of body that apply (Q6).
const (
	BodyGovernment = "government" // 政府部门
	BodyJudicial   = "judicial"   // 司法机关
	BodyOther      = "other"      // 其他单位
)

// BodyKinds lists the kinds of body.
var BodyKinds = []string{BodyGovernment, BodyJudicial, BodyOther}

// Application states besides StatusActive/StatusExpired, which an approved application has by its dates.
const (
	AppPending  = "pending"  // waiting for the approver
	AppApproved = "approved" // granted: active or expired by its dates
	AppRefused  = "refused"  // refused, with a reason
)

// Scopes of an application: the persons it may read.
const (
	ScopePersons  = "persons"  // persons named by ID number
	ScopeEmployer = "employer" // every person ever enrolled through one employer
)

// MaxPersons bounds the persons one application may name, and one export: there is no whole-database exchange
// (Q6).
const MaxPersons = 10_000

// Application is another body's written application to query records (Q6).
type Application struct {
	ID             int64             `json:"id"`
	Number         string            `json:"number"`
	BodyName       string            `json:"body_name"`
	BodyKind       string            `json:"body_kind"`
	Credential     string            `json:"credential"` // the body's credential: letter of assistance number, warrant, certificate
	Contact        string            `json:"contact"`
	Purpose        string            `json:"purpose"`
	LegalBasis     string            `json:"legal_basis"`
	Fields         []string          `json:"fields"` // requested; once approved, what is granted
	Scope          string            `json:"scope"`
	Employer       string            `json:"employer,omitempty"`
	Persons        int               `json:"persons"` // persons named (scope persons)
	RequestedUntil time.Time         `json:"requested_until"`
	Status         string            `json:"status"`
	Access         string            `json:"access"` // what it grants now: active, expired, or "" when not approved
	RegisteredBy   string            `json:"registered_by"`
	RegisteredAt   time.Time         `json:"registered_at"`
	DecidedBy      string            `json:"decided_by,omitempty"`
	DecidedAt      time.Time         `json:"decided_at,omitzero"`
	Reason         string            `json:"reason,omitempty"`
	ValidFrom      time.Time         `json:"valid_from,omitzero"`
	ValidUntil     time.Time         `json:"valid_until,omitzero"` // exclusive
	UntilDate      string            `json:"until_date"`           // the last day of access (approved) or asked for
	Materials      []review.Material `json:"materials"`
}

// ApplicationNumber formats an application number: A000042.
func ApplicationNumber(id int64) string { return fmt.Sprintf("A%06d", id) }

// NewApplication is a body's written application as the agency registers it.
type NewApplication struct {
	BodyName       string            `json:"body_name"`
	BodyKind       string            `json:"body_kind"`
	Credential     string            `json:"credential"`
	Contact        string            `json:"contact"`
	Purpose        string            `json:"purpose"`
	LegalBasis     string            `json:"legal_basis"`
	Fields         []string          `json:"fields"`
	IDNumbers      []string          `json:"id_numbers"` // the persons, by citizen ID number; or
	Employer       string            `json:"employer"`   // every person enrolled through this employer
	RequestedUntil string            `json:"requested_until"`
	Materials      []review.Material `json:"materials"` // the written application and the credentials (required)
}

func text(errs *record.Errors, field, v string, max int) string {
	v = strings.TrimSpace(v)
	if l := utf8.RuneCountInString(v); l < 1 || l > max {
		errs.Append("", record.Invalid(field, "text_length", "%s must be 1 to %d characters", field, max))
	}
	return v
}

// RegisterApplication keeps a body's application, pending the approver's decision. Every problem is reported
// at once; nothing is kept while any remains.
func (s *Service) RegisterApplication(ctx context.Context, actor string, n NewApplication) (Application, error) {
	now := s.now()
	var errs record.Errors
	n.BodyName = text(&errs, "body_name", n.BodyName, 100)
	if !slices.Contains(BodyKinds, n.BodyKind) {
		errs.Append("", record.Invalid("body_kind", "body_kind", "body_kind must be one of %s", strings.Join(BodyKinds, ", ")))
	}
	n.Credential = text(&errs, "credential", n.Credential, 200)
	n.Contact = strings.TrimSpace(n.Contact)
	n.Purpose = text(&errs, "purpose", n.Purpose, 500)
	n.LegalBasis = text(&errs, "legal_basis", n.LegalBasis, 500)
	fields, err := ParseFields("fields", n.Fields)
	errs.Append("", err)
	until, err := s.parseDate("requested_until", n.RequestedUntil, true)
	if err != nil {
		errs.Append("", err)
	} else if !until.After(now) || until.Sub(now) > MaxValidity {
		errs.Append("", record.Invalid("requested_until", "validity_max", "the period asked for must end within a year from today"))
	}
	if len(n.Materials) == 0 {
		errs.Append("", record.Invalid("materials", "application_on_file", "the written application and the body's credentials must be on file: upload their scans"))
	}
	var persons []string
	scope := ScopePersons
	n.Employer = strings.ToUpper(strings.TrimSpace(n.Employer))
	switch {
	case n.Employer != "" && len(n.IDNumbers) > 0:
		errs.Append("", record.Invalid("employer", "scope_one", "name either persons or one employer, not both"))
	case n.Employer != "":
		scope = ScopeEmployer
		if err := record.ValidateUSCC("employer", n.Employer); err != nil {
			errs.Append("", err)
		}
	case len(n.IDNumbers) == 0:
		errs.Append("", record.Invalid("id_numbers", "scope_required", "name the persons (by ID number) or the employer whose employees are asked for"))
	case len(n.IDNumbers) > MaxPersons:
		errs.Append("", record.Invalid("id_numbers", "scope_size", "an application may name at most %d persons", MaxPersons))
	default:
		seen := map[string]bool{}
		for i, id := range n.IDNumbers {
			id = strings.ToUpper(strings.TrimSpace(id))
			field := fmt.Sprintf("id_numbers[%d]", i)
			if err := record.ValidateCitizenID(field, id, now); err != nil {
				errs.Append("", err)
				continue
			}
			p, err := s.st.FindPerson(ctx, id)
			if record.ErrorCode(err) == record.ENotFound {
				errs.Append("", record.Invalid(field, "person_registered", "no registered person has ID number %s", record.MaskID(id)))
				continue
			}
			if err != nil {
				return Application{}, err
			}
			if !seen[p] {
				seen[p] = true
				persons = append(persons, p)
			}
		}
	}
	if err := errs.Err(); err != nil {
		return Application{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Application{}, err
	}
	defer tx.Rollback(ctx)
	if scope == ScopeEmployer {
		var c int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM employers WHERE credit_code = $1", n.Employer).Scan(&c); err != nil {
			return Application{}, err
		}
		if c == 0 {
			return Application{}, record.Invalid("employer", "employer_registered", "no registered employer has credit code %s", n.Employer)
		}
	}
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM access_applications").Scan(&id); err != nil {
		return Application{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO access_applications (id, body_name, body_kind, credential, contact, purpose, legal_basis, fields, scope, employer,
		requested_until, status, registered_by, registered_at, decided_by, decided_at, reason, valid_from, valid_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '', 0, '', 0, 0)`,
		id, n.BodyName, n.BodyKind, n.Credential, n.Contact, n.Purpose, n.LegalBasis, strings.Join(fields, ","), scope, n.Employer,
		until.UnixMilli(), AppPending, actor, now.UnixMilli()); err != nil {
		return Application{}, err
	}
	for _, p := range persons {
		if _, err := tx.Exec(ctx, "INSERT INTO access_application_persons (application_id, person) VALUES ($1, $2)", id, p); err != nil {
			return Application{}, err
		}
	}
	if err := AttachMaterials(ctx, tx, "materials", "application:"+ApplicationNumber(id), n.Materials, actor, now); err != nil {
		return Application{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Application{}, err
	}
	return s.Application(ctx, id)
}

const appCols = `id, body_name, body_kind, credential, contact, purpose, legal_basis, fields, scope, employer, requested_until, status,
	registered_by, registered_at, decided_by, decided_at, reason, valid_from, valid_until,
	(SELECT COUNT(*) FROM access_application_persons p WHERE p.application_id = access_applications.id)`

func (s *Service) scanApplication(r store.Row, now time.Time) (Application, error) {
	var a Application
	var fields string
	var req, reg, dec, from, until int64
	if err := r.Scan(&a.ID, &a.BodyName, &a.BodyKind, &a.Credential, &a.Contact, &a.Purpose, &a.LegalBasis, &fields, &a.Scope, &a.Employer,
		&req, &a.Status, &a.RegisteredBy, &reg, &a.DecidedBy, &dec, &a.Reason, &from, &until, &a.Persons); err != nil {
		return a, err
	}
	a.Number = ApplicationNumber(a.ID)
	a.Fields = strings.Split(fields, ",")
	a.RequestedUntil, a.RegisteredAt = time.UnixMilli(req).UTC(), time.UnixMilli(reg).UTC()
	if dec != 0 {
		a.DecidedAt = time.UnixMilli(dec).UTC()
	}
	if a.Status == AppApproved {
		a.ValidFrom, a.ValidUntil = time.UnixMilli(from).UTC(), time.UnixMilli(until).UTC()
		a.Access = StatusActive
		if !now.Before(a.ValidUntil) {
			a.Access = StatusExpired
		} else if now.Before(a.ValidFrom) {
			a.Access = StatusPending
		}
	}
	a.UntilDate = s.Day(a.RequestedUntil, true)
	if a.Status == AppApproved {
		a.UntilDate = s.Day(a.ValidUntil, true)
	}
	return a, nil
}

// Application reads one application with its materials.
func (s *Service) Application(ctx context.Context, id int64) (Application, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Application{}, err
	}
	defer tx.Rollback(ctx)
	a, err := s.scanApplication(tx.QueryRow(ctx, "SELECT "+appCols+" FROM access_applications WHERE id = $1", id), s.now())
	if errors.Is(err, store.ErrNoRows) {
		return a, record.Errorf(record.ENotFound, "application %s does not exist", ApplicationNumber(id))
	}
	if err != nil {
		return a, err
	}
	a.Materials, err = Materials(ctx, tx, "application:"+a.Number)
	return a, err
}

// Applications lists applications, newest first, optionally of one status (pending, approved, refused), at most
// limit (1–500) after offset, and how many match.
func (s *Service) Applications(ctx context.Context, status string, offset, limit int) ([]Application, int, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "page_limit", "offset from 0 and limit 1 to 500")
	}
	cond, args := "", []any{}
	if status != "" {
		if !slices.Contains([]string{AppPending, AppApproved, AppRefused}, status) {
			return nil, 0, record.Invalid("status", "application_status", "status must be pending, approved or refused")
		}
		cond, args = " WHERE status = $1", append(args, status)
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM access_applications"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM access_applications%s ORDER BY id DESC LIMIT $%d OFFSET $%d", appCols, cond, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	now := s.now()
	out := []Application{}
	for rows.Next() {
		a, err := s.scanApplication(rows, now)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, total, rows.Err()
}

// Decisions on an application.
const (
	Approve = "approve"
	Refuse  = "refuse"
)

// Decision is the approver's decision: approve with the last day of access and optionally fewer field groups than
// asked for (what is lawful); or refuse with a reason the body is told.
type Decision struct {
	Decision   string   `json:"decision"`
	Reason     string   `json:"reason"`
	ValidUntil string   `json:"valid_until"` // YYYY-MM-DD, on approval
	Fields     []string `json:"fields"`      // on approval: a subset of the fields asked for; empty grants them all
}

// Decide records the approver's decision on a pending application. The approver must not be who registered it.
func (s *Service) Decide(ctx context.Context, actor string, id int64, d Decision) (Application, error) {
	a, err := s.Application(ctx, id)
	if err != nil {
		return a, err
	}
	now := s.now()
	switch {
	case d.Decision != Approve && d.Decision != Refuse:
		return a, record.Invalid("decision", "decision", "decision must be approve or refuse")
	case a.Status != AppPending:
		return a, record.Errorf(record.EConflict, "application %s is %s already", a.Number, a.Status)
	case actor == a.RegisteredBy:
		return a, record.Errorf(record.EForbidden, "%s registered application %s and cannot decide it (separation of duties)", actor, a.Number)
	}
	reason := strings.TrimSpace(d.Reason)
	fields := a.Fields
	var until time.Time
	if d.Decision == Refuse {
		if reason == "" {
			return a, record.Invalid("reason", "refusal_reason", "a refusal must give the reason the body is told")
		}
	} else {
		if until, err = s.parseDate("valid_until", d.ValidUntil, true); err != nil {
			return a, err
		}
		if !until.After(now) || until.After(a.RequestedUntil) || until.Sub(now) > MaxValidity {
			return a, record.Invalid("valid_until", "validity_granted", "access must end after today and no later than asked for (%s)", s.Day(a.RequestedUntil, true))
		}
		if len(d.Fields) > 0 {
			if fields, err = ParseFields("fields", d.Fields); err != nil {
				return a, err
			}
			for _, f := range fields {
				if !slices.Contains(a.Fields, f) {
					return a, record.Invalid("fields", "fields_asked", "field group %s was not asked for", f)
				}
			}
		}
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return a, err
	}
	defer tx.Rollback(ctx)
	status := map[string]string{Approve: AppApproved, Refuse: AppRefused}[d.Decision]
	var from, untilMs int64
	if d.Decision == Approve {
		from, untilMs = now.UnixMilli(), until.UnixMilli()
	}
	n, err := tx.Exec(ctx, `UPDATE access_applications SET status = $1, decided_by = $2, decided_at = $3, reason = $4, fields = $5, valid_from = $6, valid_until = $7
		WHERE id = $8 AND status = $9`, status, actor, now.UnixMilli(), reason, strings.Join(fields, ","), from, untilMs, id, AppPending)
	if err != nil {
		return a, err
	}
	if n != 1 {
		return a, record.Errorf(record.EConflict, "application %s changed meanwhile; reload it", a.Number)
	}
	if err := tx.Commit(ctx); err != nil {
		return a, err
	}
	return s.Application(ctx, id)
}

// granting returns the application if it grants access now, or an error saying why not.
func (s *Service) granting(ctx context.Context, id int64) (Application, error) {
	a, err := s.Application(ctx, id)
	if err != nil {
		return a, err
	}
	switch {
	case a.Status == AppPending:
		return a, record.Errorf(record.EForbidden, "application %s is not decided yet; it grants no access", a.Number)
	case a.Status == AppRefused:
		return a, record.Errorf(record.EForbidden, "application %s was refused; it grants no access", a.Number)
	case a.Access == StatusExpired:
		return a, record.Errorf(record.EForbidden, "application %s's approval expired after %s; it no longer grants access", a.Number, s.Day(a.ValidUntil, true))
	case a.Access != StatusActive:
		return a, record.Errorf(record.EForbidden, "application %s grants access only from %s", a.Number, s.Day(a.ValidFrom, false))
	}
	return a, nil
}

// inScope reports whether the application covers person.
func (s *Service) inScope(ctx context.Context, a Application, person string) (bool, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var n int
	if a.Scope == ScopeEmployer {
		err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM enrolments WHERE employer = $1 AND person = $2", a.Employer, person).Scan(&n)
	} else {
		err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM access_application_persons WHERE application_id = $1 AND person = $2", a.ID, person).Scan(&n)
	}
	return n > 0, err
}

// scopePersons lists the persons an application covers, in key order.
func (s *Service) scopePersons(ctx context.Context, a Application) ([]string, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var rows store.Rows
	if a.Scope == ScopeEmployer {
		rows, err = tx.Query(ctx, "SELECT DISTINCT person FROM enrolments WHERE employer = $1 ORDER BY person LIMIT $2", a.Employer, MaxPersons+1)
	} else {
		rows, err = tx.Query(ctx, "SELECT person FROM access_application_persons WHERE application_id = $1 ORDER BY person", a.ID)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// BodyRead serves one person's record, limited to the fields granted, to the body of application id. The
// application must be approved and in its period, and cover the person; the read is logged (actor kind body, the
// application's number) before anything is returned. via is the staff member who serves the body.
func (s *Service) BodyRead(ctx context.Context, id int64, idNumber, via, page string) (map[string]any, Application, error) {
	a, err := s.granting(ctx, id)
	if err != nil {
		return nil, a, err
	}
	idNumber = strings.ToUpper(strings.TrimSpace(idNumber))
	if err := record.ValidateCitizenID("id_number", idNumber, s.now()); err != nil {
		return nil, a, err
	}
	person, err := s.st.FindPerson(ctx, idNumber)
	if err != nil {
		return nil, a, err
	}
	ok, err := s.inScope(ctx, a, person)
	if err != nil {
		return nil, a, err
	}
	if !ok {
		return nil, a, record.Errorf(record.EForbidden, "application %s does not cover this person", a.Number)
	}
	v, err := s.st.PersonRecord(ctx, person)
	if err != nil {
		return nil, a, err
	}
	if err := querylog.Append(ctx, s.st.Driver(), s.bodyEntry(a, person, via, page)); err != nil {
		return nil, a, err
	}
	return Restrict(v, a.Fields), a, nil
}

func (s *Service) bodyEntry(a Application, person, via, page string) querylog.Entry {
	return querylog.Entry{At: s.now(), ActorKind: querylog.ActorBody, Actor: a.BodyName + " via " + via, Person: person, Page: page,
		Fields: strings.Join(a.Fields, ","), Purpose: "other_body", Application: a.Number}
}

// BodyExport is the only bulk export of personal data: every person the application covers, with the fields it
// grants, as one table. The application must grant access now; every person exported is logged, in one
// transaction, before the table is returned.
func (s *Service) BodyExport(ctx context.Context, id int64, via string) (export.Table, Application, error) {
	a, err := s.granting(ctx, id)
	if err != nil {
		return export.Table{}, a, err
	}
	persons, err := s.scopePersons(ctx, a)
	if err != nil {
		return export.Table{}, a, err
	}
	if len(persons) > MaxPersons {
		return export.Table{}, a, record.Invalid("scope", "scope_size", "the application covers more than %d persons; no export is that large", MaxPersons)
	}
	t := export.Table{Sheet: a.Number, Header: Columns(a.Fields)}
	entries := make([]querylog.Entry, 0, len(persons))
	for _, p := range persons {
		v, err := s.st.PersonRecord(ctx, p)
		if err != nil {
			return export.Table{}, a, err
		}
		t.Rows = append(t.Rows, Row(v, a.Fields))
		entries = append(entries, s.bodyEntry(a, p, via, "api/applications/export"))
	}
	if err := querylog.Append(ctx, s.st.Driver(), entries...); err != nil {
		return export.Table{}, a, err
	}
	return t, a, nil
}
