// Package archive is the archive of original materials (R13, R2.6): every document kept for collection and
// maintenance — the scans and files attached to drafts, the uploaded batch files, and outside helpers'
// confidentiality agreements — listed per draft and per person, each with its material type, the retention
// period the system administrator set for that type and the date until which it is kept. A material is served
// only after its bytes are checked against its SHA-256 (review.ReadMaterial); one that no longer matches is
// refused, never served.
//
// Nothing here deletes a material: the retention period says until when a document must at least be kept; when
// it has passed, the listing says the document is due for appraisal (鉴定). Disposal is a reviewed procedure that
// is not built.
package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// Stages of the work a material was kept for (R13).
const (
	StageCollection  = "collection"  // 采集: intake of any business type
	StageMaintenance = "maintenance" // 维护: corrections and supplements, and outside helpers' agreements
)

// Agreement is the material type of confidentiality agreements (R11.2).
const Agreement = "agreement"

// Type is a material type: the business type of the draft a material is attached to, or "agreement".
type Type struct {
	Name    string `json:"type"`
	Title   string `json:"title"` // Chinese
	Stage   string `json:"stage"`
	Default int    `json:"default_years"` // 0: kept permanently (永久)
}

// defaultYears are the retention periods a new agency starts with, in years (0: permanent). They follow the
// classes of social insurance business archives — permanent or a fixed term — and are meant to be set to the
// agency's own archive plan (《社会保险业务档案管理规定（试行）》, GB/T 31599-2015 Annex A) by its system
// administrator; being long, they never let a document be appraised too early.
var defaultYears = map[string]int{
	"contribution": 100, "contribution_batch": 100, "subsidy": 100, "benefit_payment": 100, "other": 30, Agreement: 10,
}

// Types lists every material type: one per business type, then the agreements.
func Types() []Type {
	names := make([]string, 0, len(review.Kinds))
	for n := range review.Kinds {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]Type, 0, len(names)+1)
	for _, n := range names {
		stage := StageCollection
		if n == review.Maintenance {
			stage = StageMaintenance
		}
		out = append(out, Type{Name: n, Title: review.Kinds[n].Title, Stage: stage, Default: defaultYears[n]})
	}
	return append(out, Type{Name: Agreement, Title: "保密协议", Stage: StageMaintenance, Default: defaultYears[Agreement]})
}

func typeOf(name string) (Type, bool) {
	for _, t := range Types() {
		if t.Name == name {
			return t, true
		}
	}
	return Type{}, false
}

// Service is the archive on a store.
type Service struct {
	st *store.Store
	rv *review.Service
	// Location is the agency's time zone, for dates; nil means time.Local.
	Location *time.Location
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns the archive of a store.
func New(st *store.Store) *Service { return &Service{st: st, rv: review.New(st), Now: time.Now} }

func (s *Service) loc() *time.Location {
	if s.Location == nil {
		return time.Local
	}
	return s.Location
}

// Entry is one material in the archive.
type Entry struct {
	Source      string    `json:"source"`          // "draft" or "agreement"
	Draft       string    `json:"draft,omitempty"` // the draft it is attached to
	DraftStatus string    `json:"draft_status,omitempty"`
	User        string    `json:"user,omitempty"` // an agreement's user
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`   // -1 when the stored bytes are missing
	Stored      bool      `json:"stored"` // whether the bytes are stored at all (their hash is checked on read)
	Type        string    `json:"type"`
	Stage       string    `json:"stage"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
	// RetentionYears is the type's retention period; 0 means permanent (永久).
	RetentionYears int `json:"retention_years"`
	// KeptUntil is the last day the material is kept at least (YYYY-MM-DD), counted in whole years from 1 January
	// after the year it was filed; "" when it is kept permanently.
	KeptUntil string `json:"kept_until,omitempty"`
	// Elapsed says the retention period is over: the material is due for appraisal (鉴定). It is not deleted.
	Elapsed bool `json:"retention_elapsed"`
}

// Filter selects materials; empty fields select everything.
type Filter struct {
	Person string // person key: materials of drafts that concern the person
	Draft  int64
	User   string // agreements of a user
	Type   string
	Stage  string
	SHA256 string    // one material, wherever it is kept
	From   time.Time // filed at or after
	To     time.Time // filed before
}

// Sorts are the orders a listing can take.
var Sorts = map[string]string{"added": "added_at", "name": "name", "type": "type", "size": "size", "draft": "draft_id"}

// ParseSort reads "added" or "-added" (descending); "" is the newest first.
func ParseSort(s string) (string, bool, error) {
	if s == "" {
		return "added", true, nil
	}
	by, desc := strings.CutPrefix(s, "-")
	if _, ok := Sorts[by]; !ok {
		return "", false, record.Invalid("sort", "sort_key", "cannot sort by %q; sort by added, name, type, size or draft, with - in front for descending", s)
	}
	return by, desc, nil
}

const listing = `SELECT src, draft_id, username, sha256, name, content_type, size, type, draft_status, added_by, added_at FROM (
	SELECT 'draft' AS src, dm.draft_id AS draft_id, '' AS username, dm.sha256 AS sha256, dm.name AS name, dm.content_type AS content_type,
		COALESCE(m.size, -1) AS size, d.kind AS type, d.status AS draft_status, dm.added_by AS added_by, dm.added_at AS added_at
	FROM review_draft_materials dm JOIN review_drafts d ON d.id = dm.draft_id LEFT JOIN review_materials m ON m.sha256 = dm.sha256
	UNION ALL
	SELECT 'agreement', 0, a.username, a.sha256, a.name, a.content_type, COALESCE(m.size, -1), 'agreement', '', a.added_by, a.added_at
	FROM auth_agreements a LEFT JOIN review_materials m ON m.sha256 = a.sha256
) x`

// List returns one page of the materials f selects, sorted by sort ("added", "-added", …), and how many f selects.
// A listing by person first brings the index of the persons each draft concerns up to date.
func (s *Service) List(ctx context.Context, f Filter, sort string, offset, limit int) ([]Entry, int64, error) {
	if offset < 0 || limit < 1 || limit > 50000 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 50000 and offset 0 or more")
	}
	by, desc, err := ParseSort(sort)
	if err != nil {
		return nil, 0, err
	}
	if f.Type != "" {
		if _, ok := typeOf(f.Type); !ok {
			return nil, 0, record.Invalid("type", "material_type", "%q is not a material type", f.Type)
		}
	}
	if f.Stage != "" && f.Stage != StageCollection && f.Stage != StageMaintenance {
		return nil, 0, record.Invalid("stage", "archive_stage", "stage must be %s or %s, not %q", StageCollection, StageMaintenance, f.Stage)
	}
	if f.Person != "" {
		if err := s.SyncIndex(ctx); err != nil {
			return nil, 0, err
		}
	}
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		idx := make([]any, len(v))
		for i := range v {
			args = append(args, v[i])
			idx[i] = len(args)
		}
		where = append(where, fmt.Sprintf(cond, idx...))
	}
	if f.Person != "" {
		add("src = 'draft' AND draft_id IN (SELECT draft_id FROM archive_draft_persons WHERE person = $%d)", f.Person)
	}
	if f.Draft != 0 {
		add("src = 'draft' AND draft_id = $%d", f.Draft)
	}
	if f.User != "" {
		add("src = 'agreement' AND username = $%d", f.User)
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if f.SHA256 != "" {
		add("sha256 = $%d", f.SHA256)
	}
	if f.Stage != "" {
		var ph []string
		for _, t := range Types() {
			if t.Stage == f.Stage {
				args = append(args, t.Name)
				ph = append(ph, "$"+strconv.Itoa(len(args)))
			}
		}
		where = append(where, "type IN ("+strings.Join(ph, ", ")+")")
	}
	if !f.From.IsZero() {
		add("added_at >= $%d", f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		add("added_at < $%d", f.To.UnixMilli())
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	years, err := s.retentionYears(ctx)
	if err != nil {
		return nil, 0, err
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM ("+listing+cond+") c", args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	args = append(args, limit, offset)
	rows, err := tx.Query(ctx, fmt.Sprintf("%s%s ORDER BY %s%s, draft_id%s, sha256 LIMIT $%d OFFSET $%d", listing, cond, Sorts[by], dir, dir, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	today := s.Now().In(s.loc()).Format("2006-01-02")
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var draft, at int64
		if err := rows.Scan(&e.Source, &draft, &e.User, &e.SHA256, &e.Name, &e.ContentType, &e.Size, &e.Type, &e.DraftStatus, &e.AddedBy, &at); err != nil {
			return nil, 0, err
		}
		if e.Source == "draft" {
			e.Draft = review.DraftID(draft)
		}
		e.Stored = e.Size >= 0
		e.AddedAt = time.UnixMilli(at).UTC()
		t, _ := typeOf(e.Type)
		e.Stage = t.Stage
		e.RetentionYears = years[e.Type]
		if e.RetentionYears > 0 {
			e.KeptUntil = fmt.Sprintf("%04d-12-31", e.AddedAt.In(s.loc()).Year()+e.RetentionYears)
			e.Elapsed = today > e.KeptUntil
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// ErrHashMismatch is the rule of the error Read returns for a material whose bytes no longer match their hash.
const ErrHashMismatch = review.MaterialHashRule

// Read returns an archived material's bytes after checking them against its SHA-256, with the first entry that
// lists it (of draft, when draft is not 0). A material that no longer matches is refused: an EConflict error with
// rule "material_hash"; it is never served.
func (s *Service) Read(ctx context.Context, sha string, draft int64) (Entry, []byte, error) {
	f := Filter{Draft: draft}
	es, err := s.find(ctx, sha, f)
	if err != nil {
		return Entry{}, nil, err
	}
	b, err := s.rv.ReadMaterial(ctx, sha)
	if errors.Is(err, review.ErrMaterialChanged) {
		return es, nil, &record.Error{Code: record.EConflict, Field: "sha256", Rule: ErrHashMismatch,
			Message: fmt.Sprintf("material %s (%s) no longer matches its SHA-256: it was changed after it was stored, and is not served; report it to the database administrator (sirec check data lists it too)", sha, es.Name)}
	}
	return es, b, err
}

func (s *Service) find(ctx context.Context, sha string, f Filter) (Entry, error) {
	if len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
		return Entry{}, record.Invalid("sha256", "sha256", "%q is not a SHA-256 (64 lower-case hex digits)", sha)
	}
	f.SHA256 = sha
	es, _, err := s.List(ctx, f, "added", 0, 1)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, record.Errorf(record.ENotFound, "no archived material has SHA-256 %s", sha)
	}
	return es[0], nil
}
