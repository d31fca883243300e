// Package workitem keeps work items (工作事项): faults found in the data — by the integrity and compliance checks
// now, by reconciliation with other departments' feeds later — that a maintainer must deal with (R9.2, R11.1).
// Each item has a source ("check", "reconciliation", …), a kind within it (the check's name), a severity, a
// subject (person key with the masked ID number, employer, month, event; never an ID number in clear), a stable
// finding key, an assignee and a status.
//
// An item is closed only in one of two ways: a maintenance draft that references it is approved through its
// review chain (the correction itself is then in the journal and the maintenance log), or a dismissal with a
// reason, proposed by one person and approved by a different person holding a review post — never an outside
// helper (a "reviewed dismissal"). A finding that a later run no longer finds is marked as such, not closed: it
// too is closed by one of the two ways (a dismissal on the grounds "resolved by data"). Filing the same finding
// again never opens a second item while one is open, nor reopens one dismissed as not a fault.
//
// Every change of an item is also written to its history (work_item_actions), which nothing changes or deletes.
package workitem

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Item statuses.
const (
	StatusOpen              = "open"               // to be dealt with
	StatusDismissalProposed = "dismissal_proposed" // a dismissal waits for a reviewer's decision
	StatusClosed            = "closed"             // resolved by an approved maintenance draft or a reviewed dismissal
)

// Resolutions of a closed item.
const (
	ResolvedByMaintenance = "maintenance" // an approved maintenance draft that references it
	ResolvedByDismissal   = "dismissed"   // a reviewed dismissal
)

// Grounds of a dismissal.
const (
	// GroundsNotAFault: checked, and the data is right as it is. The same finding is not filed again.
	GroundsNotAFault = "not_a_fault"
	// GroundsResolvedByData: a later run no longer finds the fault (the data changed by other procedures). Only
	// for an item the last run did not find; the same finding found later opens a new item.
	GroundsResolvedByData = "resolved_by_data"
)

// Severities, as the checks give them.
var Severities = []string{"high", "medium", "low"}

// Statuses lists every status.
var Statuses = []string{StatusOpen, StatusDismissalProposed, StatusClosed}

// Grounds lists the grounds of a dismissal.
var Grounds = []string{GroundsNotAFault, GroundsResolvedByData}

// Finding is a fault as a source files it.
type Finding struct {
	Source   string // who found it: "check", "reconciliation", …
	Kind     string // what kind of fault within the source: the check's name, the difference's type
	Key      string // names the fault within its kind; the same fault filed again has the same key
	Severity string // high, medium or low
	Person   string // person key, "" when the fault concerns no person
	Employer string // credit code, "" when none
	Period   record.Period
	Seq      int64 // the event at fault, 0 when none
	Detail   string
}

// Validate checks a finding before it is filed.
func (f Finding) Validate() error {
	var errs record.Errors
	for _, c := range []struct{ field, v string }{{"source", f.Source}, {"kind", f.Kind}, {"key", f.Key}, {"detail", f.Detail}} {
		if strings.TrimSpace(c.v) == "" {
			errs.Append(c.field, record.Invalid("", "required", "a finding needs its %s", c.field))
		}
	}
	if !slices.Contains(Severities, f.Severity) {
		errs.Append("severity", record.Invalid("", "severity", "severity must be high, medium or low, not %q", f.Severity))
	}
	if f.Period != 0 {
		errs.Append("period", f.Period.Validate(""))
	}
	return errs.Err()
}

// findingKey is the stored key of a finding: source, kind and key, hashed when long.
func (f Finding) findingKey() string {
	k := f.Source + "/" + f.Kind + "/" + f.Key
	if len(k) > 200 || !utf8.ValidString(k) {
		sum := sha256.Sum256([]byte(k))
		k = f.Source + "/" + f.Kind + "/sha256:" + hex.EncodeToString(sum[:])
	}
	return k
}

// Proposal is a dismissal proposed and waiting for, or given, a decision.
type Proposal struct {
	Grounds    string    `json:"grounds"`
	Reason     string    `json:"reason"`
	ProposedBy string    `json:"proposed_by"`
	ProposedAt time.Time `json:"proposed_at"`
}

// Action is one step of an item's history.
type Action struct {
	N      int       `json:"n"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // created, found_again, not_found, assigned, linked, dismissal_proposed, dismissal_approved, dismissal_rejected, closed_by_maintenance
	Detail string    `json:"detail,omitempty"`
}

// Item is a work item.
type Item struct {
	ID         int64         `json:"id"`
	Number     string        `json:"number"` // W000042
	Source     string        `json:"source"`
	Kind       string        `json:"kind"`
	Key        string        `json:"finding_key"`
	Severity   string        `json:"severity"`
	Person     string        `json:"person,omitempty"`
	MaskedID   string        `json:"masked_id,omitempty"` // 110105********002X
	Employer   string        `json:"employer,omitempty"`
	Period     record.Period `json:"period,omitempty"`
	Seq        int64         `json:"seq,omitempty"`
	Detail     string        `json:"detail"`
	Status     string        `json:"status"`
	Resolution string        `json:"resolution,omitempty"`
	Assignee   string        `json:"assignee,omitempty"`
	Draft      string        `json:"draft,omitempty"` // the maintenance draft that references it, D000042
	Proposal   *Proposal     `json:"proposal,omitempty"`
	ClosedBy   string        `json:"closed_by,omitempty"`
	ClosedAt   time.Time     `json:"closed_at,omitzero"`
	FirstRun   int64         `json:"first_run"`
	LastRun    int64         `json:"last_run"`
	LastSeen   time.Time     `json:"last_seen"`
	// GoneSince is when a run of its kind first no longer found the fault; zero while it is still found.
	GoneSince time.Time `json:"gone_since,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Actions   []Action  `json:"actions,omitempty"`

	draftID int64
}

// Number formats an item number for people: W000042.
func Number(id int64) string { return fmt.Sprintf("W%06d", id) }

// ParseNumber reads "W000042" or "42".
func ParseNumber(field, s string) (int64, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "W")
	id, err := strconv.ParseInt(n, 10, 64)
	if err != nil || id <= 0 {
		return 0, record.Invalid(field, "work_item_number", "%q is not a work item number such as W000042", s)
	}
	return id, nil
}

// Service keeps work items on a store.
type Service struct {
	st    *store.Store
	users *auth.Service
	rv    *review.Service
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the work item service of a store; users is where assignees are checked.
func New(st *store.Store, users *auth.Service) *Service {
	return &Service{st: st, users: users, rv: review.New(st), Now: time.Now}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func (s *Service) write(ctx context.Context, fn func(tx store.Tx) error) error {
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func addAction(ctx context.Context, tx store.Tx, id int64, at time.Time, actor, action, detail string) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(n), 0) + 1 FROM work_item_actions WHERE item_id = $1", id).Scan(&n); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO work_item_actions (item_id, n, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
		id, n, ms(at), actor, action, detail)
	return err
}

const itemColumns = `id, source, kind, finding_key, severity, person, masked_id, employer, period, seq, detail, status, resolution,
	assignee, draft_id, proposal_grounds, proposal_reason, proposed_by, proposed_at, closed_by, closed_at, first_run, last_run,
	last_seen, gone_since, created_at, updated_at`

func scanItem(r store.Row) (Item, error) {
	var it Item
	var period int64
	var grounds, reason, by string
	var proposedAt, closedAt, lastSeen, gone, created, updated int64
	err := r.Scan(&it.ID, &it.Source, &it.Kind, &it.Key, &it.Severity, &it.Person, &it.MaskedID, &it.Employer, &period, &it.Seq,
		&it.Detail, &it.Status, &it.Resolution, &it.Assignee, &it.draftID, &grounds, &reason, &by, &proposedAt, &it.ClosedBy, &closedAt,
		&it.FirstRun, &it.LastRun, &lastSeen, &gone, &created, &updated)
	if err != nil {
		return it, err
	}
	it.Number = Number(it.ID)
	it.Period = record.Period(period)
	if it.draftID != 0 {
		it.Draft = review.DraftID(it.draftID)
	}
	if grounds != "" {
		it.Proposal = &Proposal{Grounds: grounds, Reason: reason, ProposedBy: by, ProposedAt: fromMS(proposedAt)}
	}
	it.ClosedAt, it.LastSeen, it.GoneSince = fromMS(closedAt), fromMS(lastSeen), fromMS(gone)
	it.CreatedAt, it.UpdatedAt = fromMS(created), fromMS(updated)
	return it, nil
}

func getItem(ctx context.Context, tx store.Tx, id int64) (Item, error) {
	it, err := scanItem(tx.QueryRow(ctx, "SELECT "+itemColumns+" FROM work_items WHERE id = $1", id))
	if errors.Is(err, store.ErrNoRows) {
		return it, record.Errorf(record.ENotFound, "work item %s does not exist", Number(id))
	}
	return it, err
}

// Get returns an item with its history.
func (s *Service) Get(ctx context.Context, id int64) (Item, error) {
	if _, err := s.Sync(ctx); err != nil {
		return Item{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Item{}, err
	}
	defer tx.Rollback(ctx)
	it, err := getItem(ctx, tx, id)
	if err != nil {
		return it, err
	}
	rows, err := tx.Query(ctx, "SELECT n, at, actor, action, detail FROM work_item_actions WHERE item_id = $1 ORDER BY n", id)
	if err != nil {
		return it, err
	}
	defer rows.Close()
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.N, &at, &a.Actor, &a.Action, &a.Detail); err != nil {
			return it, err
		}
		a.At = fromMS(at)
		it.Actions = append(it.Actions, a)
	}
	return it, rows.Err()
}

// Filter selects items; empty fields select everything.
type Filter struct {
	Status   string // open, dismissal_proposed, closed, or "active" for every status but closed
	Severity string
	Source   string
	Kind     string
	Assignee string // a user name, or "-" for items assigned to nobody
	Person   string // person key
	Gone     string // "yes": no longer found by the last run; "no": still found
	Draft    int64  // the maintenance draft that references the item
}

// Validate checks the filter's enumerated fields.
func (f Filter) Validate() error {
	if f.Status != "" && f.Status != "active" && !slices.Contains(Statuses, f.Status) {
		return record.Invalid("status", "work_item_status", "status must be one of %s or active, not %q", strings.Join(Statuses, ", "), f.Status)
	}
	if f.Severity != "" && !slices.Contains(Severities, f.Severity) {
		return record.Invalid("severity", "severity", "severity must be high, medium or low, not %q", f.Severity)
	}
	if f.Gone != "" && f.Gone != "yes" && f.Gone != "no" {
		return record.Invalid("gone", "yes_no", "gone must be yes or no, not %q", f.Gone)
	}
	return nil
}

// Sorts are the orders a list can take, by name.
var Sorts = map[string]string{
	"id":       "id",
	"severity": "CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END",
	"kind":     "kind",
	"status":   "status",
	"assignee": "assignee",
	"period":   "period",
	"updated":  "updated_at",
}

// Sort is the order of a list: a key of Sorts and the direction.
type Sort struct {
	By   string
	Desc bool
}

// ParseSort reads "severity" or "-severity" (descending); "" is newest first.
func ParseSort(s string) (Sort, error) {
	if s == "" {
		return Sort{By: "id", Desc: true}, nil
	}
	by, desc := strings.CutPrefix(s, "-")
	if _, ok := Sorts[by]; !ok {
		names := make([]string, 0, len(Sorts))
		for k := range Sorts {
			names = append(names, k)
		}
		slices.Sort(names)
		return Sort{}, record.Invalid("sort", "sort_key", "cannot sort by %q; sort by %s, with - in front for descending", s, strings.Join(names, ", "))
	}
	return Sort{By: by, Desc: desc}, nil
}

// String writes the sort back as ParseSort reads it.
func (o Sort) String() string {
	if o.Desc {
		return "-" + o.By
	}
	return o.By
}

// MaxPage is the most items a list returns at once; exports may ask for up to MaxExport.
const (
	MaxPage   = 500
	MaxExport = 50000
)

// List returns one page of the items f selects in the order o, and how many f selects.
func (s *Service) List(ctx context.Context, f Filter, o Sort, offset, limit int) ([]Item, int64, error) {
	if offset < 0 || limit < 1 || limit > MaxExport {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to %d and offset 0 or more", MaxExport)
	}
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	order, ok := Sorts[o.By]
	if !ok {
		return nil, 0, record.Invalid("sort", "sort_key", "cannot sort by %q", o.By)
	}
	if _, err := s.Sync(ctx); err != nil {
		return nil, 0, err
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	switch f.Status {
	case "":
	case "active":
		add("status <> $%d", StatusClosed)
	default:
		add("status = $%d", f.Status)
	}
	if f.Severity != "" {
		add("severity = $%d", f.Severity)
	}
	if f.Source != "" {
		add("source = $%d", f.Source)
	}
	if f.Kind != "" {
		add("kind = $%d", f.Kind)
	}
	switch f.Assignee {
	case "":
	case "-":
		add("assignee = $%d", "")
	default:
		add("assignee = $%d", f.Assignee)
	}
	if f.Person != "" {
		add("person = $%d", f.Person)
	}
	switch f.Gone {
	case "yes":
		add("gone_since <> $%d", 0)
	case "no":
		add("gone_since = $%d", 0)
	}
	if f.Draft != 0 {
		add("draft_id = $%d", f.Draft)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	dir := " ASC"
	if o.Desc {
		dir = " DESC"
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM work_items"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, limit, offset)
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM work_items%s ORDER BY %s%s, id%s LIMIT $%d OFFSET $%d",
		itemColumns, cond, order, dir, dir, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, it)
	}
	return out, total, rows.Err()
}

// Summary counts items by state.
type Summary struct {
	Open       int64            `json:"open"`     // not closed, of which:
	ByLevel    map[string]int64 `json:"severity"` // … by severity
	Proposed   int64            `json:"dismissal_proposed"`
	Unassigned int64            `json:"unassigned"`
	Gone       int64            `json:"no_longer_found"`
	Closed     int64            `json:"closed"`
}

// Summarise counts the items by state.
func (s *Service) Summarise(ctx context.Context) (Summary, error) {
	if _, err := s.Sync(ctx); err != nil {
		return Summary{}, err
	}
	sum := Summary{ByLevel: map[string]int64{}}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return sum, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT status, severity, CASE WHEN assignee = '' THEN 1 ELSE 0 END, CASE WHEN gone_since <> 0 THEN 1 ELSE 0 END, COUNT(*)
		FROM work_items GROUP BY status, severity, CASE WHEN assignee = '' THEN 1 ELSE 0 END, CASE WHEN gone_since <> 0 THEN 1 ELSE 0 END`)
	if err != nil {
		return sum, err
	}
	defer rows.Close()
	for rows.Next() {
		var status, sev string
		var unassigned, gone, n int64
		if err := rows.Scan(&status, &sev, &unassigned, &gone, &n); err != nil {
			return sum, err
		}
		if status == StatusClosed {
			sum.Closed += n
			continue
		}
		sum.Open += n
		sum.ByLevel[sev] += n
		if status == StatusDismissalProposed {
			sum.Proposed += n
		}
		sum.Unassigned += unassigned * n
		sum.Gone += gone * n
	}
	return sum, rows.Err()
}

// Sync closes every item whose referencing maintenance draft has been approved, with the approval's time and
// approver, and reports how many it closed. Every read of items calls it first, so an approved correction shows
// its items closed at once.
func (s *Service) Sync(ctx context.Context) (int, error) {
	type cand struct{ item, draft int64 }
	var todo []cand
	err := func() error {
		tx, err := s.st.Driver().Begin(ctx, false)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		rows, err := tx.Query(ctx, `SELECT w.id, w.draft_id FROM work_items w JOIN review_drafts d ON d.id = w.draft_id
			WHERE w.status <> $1 AND w.draft_id <> 0 AND d.status = $2 AND d.kind = $3 ORDER BY w.id`, StatusClosed, review.StatusApproved, review.Maintenance)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.item, &c.draft); err != nil {
				return err
			}
			todo = append(todo, c)
		}
		return rows.Err()
	}()
	if err != nil || len(todo) == 0 {
		return 0, err
	}
	closed := 0
	err = s.write(ctx, func(tx store.Tx) error {
		for _, c := range todo {
			var approver string
			var at, first, count int64
			err := tx.QueryRow(ctx, `SELECT a.actor, a.at, d.first_seq, d.event_count FROM review_actions a JOIN review_drafts d ON d.id = a.draft_id
				WHERE a.draft_id = $1 AND a.decision = $2 AND d.status = $3 ORDER BY a.n DESC LIMIT 1`, c.draft, review.Approve, review.StatusApproved).
				Scan(&approver, &at, &first, &count)
			if errors.Is(err, store.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			n, err := tx.Exec(ctx, `UPDATE work_items SET status = $1, resolution = $2, closed_by = $3, closed_at = $4, updated_at = $4
				WHERE id = $5 AND status <> $1 AND draft_id = $6`, StatusClosed, ResolvedByMaintenance, approver, at, c.item, c.draft)
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			detail := fmt.Sprintf("maintenance draft %s approved by %s; recorded as events %d to %d", review.DraftID(c.draft), approver, first, first+count-1)
			if err := addAction(ctx, tx, c.item, fromMS(at), approver, "closed_by_maintenance", detail); err != nil {
				return err
			}
			closed++
		}
		return nil
	})
	return closed, err
}
