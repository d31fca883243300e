// Package objection handles objections (异议, Q4): a person or employer who disagrees with a record files an
// objection with evidence — in the self-service portal, or at the counter where staff file it on their behalf.
// It gets a deadline, is re-checked by a data maintainer (not the one who filed it), and ends either in a
// correction through the maintenance procedure (a maintenance draft, linked here, that passes review and is
// approved: the objection is then corrected) or in a reasoned answer the filer can read in the portal. Objections
// past their deadline and not closed are flagged overdue.
package objection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/access"
	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// States of an objection.
const (
	StatusOpen       = "open"       // filed, waiting for a maintainer to re-check it
	StatusRechecking = "rechecking" // a maintainer is re-checking it
	StatusCorrecting = "correcting" // a maintenance draft correcting the record is under review
	StatusCorrected  = "corrected"  // closed: the correction was approved and recorded
	StatusAnswered   = "answered"   // closed: the record stands; the filer has a reasoned answer
	StatusWithdrawn  = "withdrawn"  // closed: withdrawn by the filer
)

// Statuses lists the states.
var Statuses = []string{StatusOpen, StatusRechecking, StatusCorrecting, StatusCorrected, StatusAnswered, StatusWithdrawn}

func closed(status string) bool {
	return status == StatusCorrected || status == StatusAnswered || status == StatusWithdrawn
}

// Filers.
const (
	FilerPerson   = "person"   // the insured person, in the portal
	FilerEmployer = "employer" // an employer, in the portal, about its own or an employee's record
	FilerCounter  = "counter"  // staff at the counter, on behalf of a person or employer
)

// WorkingDays is the deadline: so many working days (Monday to Friday) after filing, to the end of that day.
// Public holidays are not known to the system; the deadline counts them as working days.
const WorkingDays = 15

// Filer says who files.
type Filer struct {
	Kind string // FilerPerson, FilerEmployer or FilerCounter
	Name string // the portal account, or the staff user
	// Employer is the employer's credit code when an employer files (in the portal, or at the counter on its
	// behalf); the person must have been its employee.
	Employer string
}

// New is an objection as filed.
type New struct {
	Person      string            `json:"person"`    // the person key; or
	IDNumber    string            `json:"id_number"` // the person's citizen ID number (at the counter)
	Employer    string            `json:"employer"`  // at the counter: the employer filing, if it is one
	Subject     string            `json:"subject"`   // which record, in the filer's words: "2024年3月养老保险缴费"
	EventSeq    *int64            `json:"event"`     // the recorded event objected to, when known
	Description string            `json:"description"`
	Materials   []review.Material `json:"materials"` // the evidence (required)
}

// Action is one step of an objection's history.
type Action struct {
	N      int       `json:"n"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // file, assign, link_correction, corrected, correction_withdrawn, answer, withdraw
	Note   string    `json:"note,omitempty"`
}

// Objection is an objection with its history and evidence.
type Objection struct {
	ID          int64             `json:"id"`
	Number      string            `json:"number"`
	Person      string            `json:"person"`
	Employer    string            `json:"employer,omitempty"`
	FilerKind   string            `json:"filer_kind"`
	Filer       string            `json:"filer"`
	Channel     string            `json:"channel"` // portal or counter
	Subject     string            `json:"subject"`
	EventSeq    *int64            `json:"event,omitempty"`
	Description string            `json:"description"`
	Status      string            `json:"status"`
	FiledAt     time.Time         `json:"filed_at"`
	DueAt       time.Time         `json:"due_at"`   // the end of the deadline (exclusive)
	DueDate     string            `json:"due_date"` // the deadline's last day, in the agency's time zone
	Overdue     bool              `json:"overdue"`
	Assignee    string            `json:"assignee,omitempty"`
	Draft       string            `json:"draft,omitempty"` // the linked maintenance draft
	Answer      string            `json:"answer,omitempty"`
	AnsweredBy  string            `json:"answered_by,omitempty"`
	ClosedAt    time.Time         `json:"closed_at,omitzero"`
	Actions     []Action          `json:"actions,omitempty"`
	Materials   []review.Material `json:"materials,omitempty"`
	draftID     int64
}

// Number formats an objection number: O000042.
func Number(id int64) string { return fmt.Sprintf("O%06d", id) }

// ParseNumber reads an objection number ("O000042" or "42").
func ParseNumber(v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(v)), "O"), 10, 64)
	if err != nil || n <= 0 {
		return 0, record.Invalid("id", "objection_number", "%q is not an objection number such as O000042", v)
	}
	return n, nil
}

// Service files and handles objections.
type Service struct {
	st *store.Store
	rv *review.Service
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the agency's time zone, for deadlines.
	Location *time.Location
}

// NewService returns the objection service: rv finds the maintenance drafts that correct records.
func NewService(st *store.Store, rv *review.Service) *Service {
	return &Service{st: st, rv: rv, Now: time.Now, Location: time.Local}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Due returns the deadline of an objection filed at t: the end of the WorkingDays-th working day after it.
func (s *Service) Due(t time.Time) time.Time {
	d := t.In(s.Location)
	d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.Location)
	for n := 0; n < WorkingDays; {
		d = d.AddDate(0, 0, 1)
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return d.AddDate(0, 0, 1).UTC()
}

// File files an objection. Every problem is reported at once; nothing is kept while any remains.
func (s *Service) File(ctx context.Context, f Filer, n New) (Objection, error) {
	now := s.now()
	var errs record.Errors
	channel := "portal"
	switch f.Kind {
	case FilerCounter:
		channel = "counter"
		n.IDNumber = strings.ToUpper(strings.TrimSpace(n.IDNumber))
		if n.Person == "" {
			if err := record.ValidateCitizenID("id_number", n.IDNumber, now); err != nil {
				errs.Append("", err)
			} else if p, err := s.st.FindPerson(ctx, n.IDNumber); err == nil {
				n.Person = p
			} else if record.ErrorCode(err) == record.ENotFound {
				errs.Append("", record.Invalid("id_number", "person_registered", "no registered person has ID number %s", record.MaskID(n.IDNumber)))
			} else {
				return Objection{}, err
			}
		}
		f.Employer = strings.ToUpper(strings.TrimSpace(n.Employer))
		if f.Employer != "" {
			errs.Append("", record.ValidateUSCC("employer", f.Employer))
		}
	case FilerPerson, FilerEmployer:
	default:
		return Objection{}, record.Invalid("filer", "filer_kind", "an objection is filed by a person, an employer, or at the counter")
	}
	if f.Name == "" || n.Person == "" && len(errs) == 0 {
		return Objection{}, record.Invalid("person", "required", "say whose record the objection is about")
	}
	n.Subject = strings.TrimSpace(n.Subject)
	if l := utf8.RuneCountInString(n.Subject); l < 2 || l > 200 {
		errs.Append("", record.Invalid("subject", "text_length", "say which record is objected to, in 2 to 200 characters"))
	}
	n.Description = strings.TrimSpace(n.Description)
	if l := utf8.RuneCountInString(n.Description); l < 10 || l > 4000 {
		errs.Append("", record.Invalid("description", "text_length", "describe what is wrong and what is right, in 10 to 4000 characters"))
	}
	if len(n.Materials) == 0 {
		errs.Append("", record.Invalid("materials", "evidence_required", "attach the evidence: pay slips, contracts, receipts or other documents"))
	}
	if err := errs.Err(); err != nil {
		return Objection{}, err
	}
	v, err := s.st.PersonRecord(ctx, n.Person)
	if err != nil {
		return Objection{}, err
	}
	if f.Employer != "" && !slices.ContainsFunc(v.Enrolments, func(e store.EnrolmentView) bool { return e.Employer == f.Employer }) {
		return Objection{}, record.Errorf(record.EForbidden, "an employer may object only to the records of its own employees")
	}
	eventSeq := int64(-1)
	if n.EventSeq != nil {
		e, _, err := s.st.Event(ctx, *n.EventSeq)
		if err != nil || e.Person != n.Person {
			return Objection{}, record.Invalid("event", "event_of_person", "event %d is not a record of this person", *n.EventSeq)
		}
		eventSeq = *n.EventSeq
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Objection{}, err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM objections").Scan(&id); err != nil {
		return Objection{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO objections (id, person, employer, filer_kind, filer, channel, subject, event_seq, description, status, filed_at, due_at,
		assignee, draft_id, answer, answered_by, closed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '', 0, '', '', 0, $11)`,
		id, n.Person, f.Employer, f.Kind, f.Name, channel, n.Subject, eventSeq, n.Description, StatusOpen, now.UnixMilli(), s.Due(now).UnixMilli()); err != nil {
		return Objection{}, err
	}
	if err := access.AttachMaterials(ctx, tx, "materials", "objection:"+Number(id), n.Materials, f.Name, now); err != nil {
		return Objection{}, err
	}
	if err := addAction(ctx, tx, id, now, f.Name, "file", ""); err != nil {
		return Objection{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Objection{}, err
	}
	return s.Get(ctx, id)
}

func addAction(ctx context.Context, tx store.Tx, id int64, now time.Time, actor, action, note string) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(n), 0) + 1 FROM objection_actions WHERE objection_id = $1", id).Scan(&n); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO objection_actions (objection_id, n, at, actor, action, note) VALUES ($1, $2, $3, $4, $5, $6)", id, n, now.UnixMilli(), actor, action, note)
	return err
}

const cols = "id, person, employer, filer_kind, filer, channel, subject, event_seq, description, status, filed_at, due_at, assignee, draft_id, answer, answered_by, closed_at"

func (s *Service) scan(r store.Row, now time.Time) (Objection, error) {
	var o Objection
	var seq, filed, due, closedAt int64
	if err := r.Scan(&o.ID, &o.Person, &o.Employer, &o.FilerKind, &o.Filer, &o.Channel, &o.Subject, &seq, &o.Description, &o.Status, &filed, &due,
		&o.Assignee, &o.draftID, &o.Answer, &o.AnsweredBy, &closedAt); err != nil {
		return o, err
	}
	o.Number = Number(o.ID)
	if seq >= 0 {
		o.EventSeq = &seq
	}
	o.FiledAt, o.DueAt = time.UnixMilli(filed).UTC(), time.UnixMilli(due).UTC()
	o.DueDate = o.DueAt.Add(-time.Millisecond).In(s.Location).Format("2006-01-02")
	if closedAt != 0 {
		o.ClosedAt = time.UnixMilli(closedAt).UTC()
	}
	if o.draftID != 0 {
		o.Draft = review.DraftID(o.draftID)
	}
	o.Overdue = !closed(o.Status) && !now.Before(o.DueAt)
	return o, nil
}

// sync closes objections whose correction has been approved, and reopens those whose correcting draft was
// withdrawn: the maintenance procedure decides, this follows it.
func (s *Service) sync(ctx context.Context) error {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT o.id, d.status, d.updated_at FROM objections o JOIN review_drafts d ON d.id = o.draft_id
		WHERE o.status = $1 AND d.status IN ($2, $3)`, StatusCorrecting, review.StatusApproved, review.StatusWithdrawn)
	if err != nil {
		tx.Rollback(ctx)
		return err
	}
	type change struct {
		id     int64
		status string
		at     int64
	}
	var changes []change
	for rows.Next() {
		var c change
		if err := rows.Scan(&c.id, &c.status, &c.at); err != nil {
			rows.Close()
			tx.Rollback(ctx)
			return err
		}
		changes = append(changes, c)
	}
	rows.Close()
	tx.Rollback(ctx)
	if len(changes) == 0 {
		return nil
	}
	wtx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer wtx.Rollback(ctx)
	now := s.now()
	for _, c := range changes {
		if c.status == review.StatusApproved {
			n, err := wtx.Exec(ctx, "UPDATE objections SET status = $1, closed_at = $2, updated_at = $3 WHERE id = $4 AND status = $5",
				StatusCorrected, c.at, now.UnixMilli(), c.id, StatusCorrecting)
			if err != nil {
				return err
			}
			if n == 1 {
				if err := addAction(ctx, wtx, c.id, time.UnixMilli(c.at), "system", "corrected", "the maintenance draft was approved and recorded"); err != nil {
					return err
				}
			}
			continue
		}
		n, err := wtx.Exec(ctx, "UPDATE objections SET status = $1, draft_id = 0, updated_at = $2 WHERE id = $3 AND status = $4",
			StatusRechecking, now.UnixMilli(), c.id, StatusCorrecting)
		if err != nil {
			return err
		}
		if n == 1 {
			if err := addAction(ctx, wtx, c.id, now, "system", "correction_withdrawn", "the maintenance draft was withdrawn; the objection is being re-checked again"); err != nil {
				return err
			}
		}
	}
	return wtx.Commit(ctx)
}

// Get reads an objection with its history and evidence.
func (s *Service) Get(ctx context.Context, id int64) (Objection, error) {
	if err := s.sync(ctx); err != nil {
		return Objection{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Objection{}, err
	}
	defer tx.Rollback(ctx)
	o, err := s.scan(tx.QueryRow(ctx, "SELECT "+cols+" FROM objections WHERE id = $1", id), s.now())
	if errors.Is(err, store.ErrNoRows) {
		return o, record.Errorf(record.ENotFound, "objection %s does not exist", Number(id))
	}
	if err != nil {
		return o, err
	}
	rows, err := tx.Query(ctx, "SELECT n, at, actor, action, note FROM objection_actions WHERE objection_id = $1 ORDER BY n", id)
	if err != nil {
		return o, err
	}
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.N, &at, &a.Actor, &a.Action, &a.Note); err != nil {
			rows.Close()
			return o, err
		}
		a.At = time.UnixMilli(at).UTC()
		o.Actions = append(o.Actions, a)
	}
	rows.Close()
	o.Materials, err = access.Materials(ctx, tx, "objection:"+o.Number)
	return o, err
}

// Filter narrows List; empty fields match everything.
type Filter struct {
	Status   string // one of Statuses, or "active" for every state not closed
	Person   string
	Filer    string // the portal account or staff user who filed
	Employer string
	Assignee string
	Overdue  bool
}

// List returns the objections matching f, oldest deadline first for active ones and newest first otherwise, at
// most limit (1–500) after offset, and how many match.
func (s *Service) List(ctx context.Context, f Filter, offset, limit int) ([]Objection, int, error) {
	if offset < 0 || limit < 1 || limit > 500 {
		return nil, 0, record.Invalid("limit", "page_limit", "offset from 0 and limit 1 to 500")
	}
	if err := s.sync(ctx); err != nil {
		return nil, 0, err
	}
	now := s.now()
	var conds []string
	var args []any
	add := func(c string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(c, len(args)))
	}
	order := "id DESC"
	switch {
	case f.Status == "active":
		conds = append(conds, fmt.Sprintf("status NOT IN ('%s', '%s', '%s')", StatusCorrected, StatusAnswered, StatusWithdrawn))
		order = "due_at, id"
	case f.Status != "":
		if !slices.Contains(Statuses, f.Status) {
			return nil, 0, record.Invalid("status", "objection_status", "status must be active or one of %s", strings.Join(Statuses, ", "))
		}
		add("status = $%d", f.Status)
	}
	if f.Overdue {
		conds = append(conds, fmt.Sprintf("status NOT IN ('%s', '%s', '%s')", StatusCorrected, StatusAnswered, StatusWithdrawn))
		add("due_at <= $%d", now.UnixMilli())
		order = "due_at, id"
	}
	if f.Person != "" {
		add("person = $%d", f.Person)
	}
	if f.Filer != "" {
		add("filer = $%d", f.Filer)
	}
	if f.Employer != "" {
		add("employer = $%d", f.Employer)
	}
	if f.Assignee != "" {
		add("assignee = $%d", f.Assignee)
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
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM objections"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM objections%s ORDER BY %s LIMIT $%d OFFSET $%d", cols, cond, order, len(args)+1, len(args)+2),
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Objection{}
	for rows.Next() {
		o, err := s.scan(rows, now)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, o)
	}
	return out, total, rows.Err()
}

// OverdueCount counts the objections past their deadline and not closed.
func (s *Service) OverdueCount(ctx context.Context) (int, error) {
	_, n, err := s.List(ctx, Filter{Overdue: true}, 0, 1)
	return n, err
}

// change applies an update to an objection in one of the states from, with an action, refusing the filer
// (maker ≠ checker). It returns the objection after.
func (s *Service) change(ctx context.Context, actor string, id int64, from []string, action, note, set string, args ...any) (Objection, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return o, err
	}
	if o.FilerKind == FilerCounter && o.Filer == actor {
		return o, record.Errorf(record.EForbidden, "%s filed objection %s at the counter and cannot also re-check it (separation of duties)", actor, o.Number)
	}
	if !slices.Contains(from, o.Status) {
		return o, record.Errorf(record.EConflict, "objection %s is %s; this is done only when it is %s", o.Number, o.Status, strings.Join(from, " or "))
	}
	now := s.now()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return o, err
	}
	defer tx.Rollback(ctx)
	placeholders := make([]string, len(from))
	all := append([]any{}, args...)
	all = append(all, now.UnixMilli(), id)
	for i, st := range from {
		all = append(all, st)
		placeholders[i] = fmt.Sprintf("$%d", len(all))
	}
	q := fmt.Sprintf("UPDATE objections SET %s, updated_at = $%d WHERE id = $%d AND status IN (%s)", set, len(args)+1, len(args)+2, strings.Join(placeholders, ", "))
	n, err := tx.Exec(ctx, q, all...)
	if err != nil {
		return o, err
	}
	if n != 1 {
		return o, record.Errorf(record.EConflict, "objection %s changed meanwhile; reload it", o.Number)
	}
	if err := addAction(ctx, tx, id, now, actor, action, note); err != nil {
		return o, err
	}
	if err := tx.Commit(ctx); err != nil {
		return o, err
	}
	return s.Get(ctx, id)
}

// Assign takes an open objection for re-checking by actor (a data maintainer).
func (s *Service) Assign(ctx context.Context, actor string, id int64) (Objection, error) {
	return s.change(ctx, actor, id, []string{StatusOpen, StatusRechecking}, "assign", "", "status = $1, assignee = $2", StatusRechecking, actor)
}

// LinkCorrection records that the maintenance draft correcting the record is under review: the objection is
// corrected when the draft is approved. The draft must be a maintenance draft about the objection's person,
// not withdrawn or already approved.
func (s *Service) LinkCorrection(ctx context.Context, actor string, id int64, draft string) (Objection, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return o, err
	}
	did, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(draft)), "D"), 10, 64)
	if err != nil || did <= 0 {
		return o, record.Invalid("draft", "draft_id", "%q is not a draft number such as D000042", draft)
	}
	d, err := s.rv.Get(ctx, did)
	if err != nil {
		return o, record.WithField("draft", err)
	}
	if d.Kind != review.Maintenance {
		return o, record.Invalid("draft", "maintenance_draft", "draft %s is a %s draft; a correction goes through a maintenance draft", d.Number, d.Kind)
	}
	if d.Status == review.StatusWithdrawn || d.Status == review.StatusApproved {
		return o, record.Invalid("draft", "draft_open", "draft %s is %s already; link a draft under review", d.Number, d.Status)
	}
	if !s.draftAbout(ctx, d, o.Person) {
		return o, record.Invalid("draft", "draft_person", "draft %s does not correct this person's record", d.Number)
	}
	return s.change(ctx, actor, id, []string{StatusOpen, StatusRechecking}, "link_correction", d.Number,
		"status = $1, draft_id = $2, assignee = CASE WHEN assignee = '' THEN $3 ELSE assignee END", StatusCorrecting, did, actor)
}

// draftAbout reports whether a draft's facts name person (by ID number, or through the events they supersede).
func (s *Service) draftAbout(ctx context.Context, d review.Draft, person string) bool {
	for _, f := range d.Facts {
		if f.IDNumber != "" {
			if p, err := s.st.FindPerson(ctx, f.IDNumber); err == nil && p == person {
				return true
			}
		}
		if f.Supersedes != nil {
			if _, raw, err := s.st.Event(ctx, *f.Supersedes); err == nil {
				if e, err := journal.Decode(raw); err == nil && e.Person == person {
					return true
				}
			}
		}
	}
	return false
}

// Answer closes an objection with a reasoned answer: the record stands, and why. The filer reads it in the
// portal.
func (s *Service) Answer(ctx context.Context, actor string, id int64, answer string) (Objection, error) {
	answer = strings.TrimSpace(answer)
	if l := utf8.RuneCountInString(answer); l < 10 || l > 4000 {
		return Objection{}, record.Invalid("answer", "answer_reason", "the answer must give the reasons the record stands, in 10 to 4000 characters")
	}
	now := s.now()
	return s.change(ctx, actor, id, []string{StatusOpen, StatusRechecking}, "answer", "",
		"status = $1, answer = $2, answered_by = $3, closed_at = $4, assignee = CASE WHEN assignee = '' THEN $3 ELSE assignee END",
		StatusAnswered, answer, actor, now.UnixMilli())
}

// Withdraw lets the filer withdraw an objection not yet closed; a reason is kept.
func (s *Service) Withdraw(ctx context.Context, filer string, id int64, reason string) (Objection, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return o, err
	}
	if o.Filer != filer {
		return o, record.Errorf(record.EForbidden, "only who filed objection %s may withdraw it", o.Number)
	}
	if o.Status != StatusOpen && o.Status != StatusRechecking {
		return o, record.Errorf(record.EConflict, "objection %s is %s; it can no longer be withdrawn", o.Number, o.Status)
	}
	now := s.now()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return o, err
	}
	defer tx.Rollback(ctx)
	n, err := tx.Exec(ctx, "UPDATE objections SET status = $1, closed_at = $2, updated_at = $2 WHERE id = $3 AND status IN ($4, $5)",
		StatusWithdrawn, now.UnixMilli(), id, StatusOpen, StatusRechecking)
	if err != nil {
		return o, err
	}
	if n != 1 {
		return o, record.Errorf(record.EConflict, "objection %s changed meanwhile; reload it", o.Number)
	}
	if err := addAction(ctx, tx, id, now, filer, "withdraw", strings.TrimSpace(reason)); err != nil {
		return o, err
	}
	if err := tx.Commit(ctx); err != nil {
		return o, err
	}
	return s.Get(ctx, id)
}
