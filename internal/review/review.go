package review

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Draft states.
const (
	StatusInReview  = "in_review" // waiting at Stage
	StatusReturned  = "returned"  // rejected back to its maker, with a reason
	StatusApproved  = "approved"  // recorded: its events are in the journal
	StatusWithdrawn = "withdrawn" // withdrawn by its maker
)

// Decisions at a stage.
const (
	Approve = "approve"
	Reject  = "reject"
)

// Actor is the person acting: their user name, their posts, and whether they are an outside helper.
type Actor struct {
	User     string
	Posts    []string
	External bool
}

func (a Actor) holds(post string) bool { return indexOf(a.Posts, post) >= 0 }

// DraftFact is one proposed fact as intake writes it: the event type, the person's ID number or the
// employer's credit code in clear, and the fact's fields.
type DraftFact struct {
	Type       string          `json:"type"`
	IDNumber   string          `json:"id_number,omitempty"`
	CreditCode string          `json:"credit_code,omitempty"`
	Data       json.RawMessage `json:"data"`
	// NewIDNumber is the corrected ID number of a person.changed fact, in clear like IDNumber (maintenance
	// drafts only: a correction confirmed by public security).
	NewIDNumber string `json:"new_id_number,omitempty"`
	// Supersedes names the recorded event this fact corrects (maintenance drafts only).
	Supersedes *int64 `json:"supersedes,omitempty"`
}

// Fact builds the record fact.
func (f DraftFact) Fact() (record.Fact, error) {
	fact := record.NewFact(f.Type)
	if fact == nil {
		return nil, record.Invalid("type", "event_type", "%q is not a kind of fact", f.Type)
	}
	if len(f.Data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(f.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(fact); err != nil {
			var e *record.Error
			if errors.As(err, &e) {
				// A field's own decoder (a period, an amount) does not know its name: find it.
				return nil, record.WithField(badField(f.Type, f.Data), err)
			}
			return nil, record.Invalid("data", "json", "fields do not fit a %s: %v", f.Type, err)
		}
	}
	if pf, ok := fact.(record.PersonFact); ok {
		pf.Ref().IDNumber = f.IDNumber
	}
	if _, ok := fact.(*record.PersonChanged); !ok && f.NewIDNumber != "" {
		return nil, record.Invalid("new_id_number", "new_id_for_change", "new_id_number belongs only to a %s fact", record.TypePersonChanged)
	}
	switch x := fact.(type) {
	case *record.PersonChanged:
		x.NewIDNumber = f.NewIDNumber
	case *record.EmployerRegistered:
		x.CreditCode = f.CreditCode
	case *record.EmployerChanged:
		x.CreditCode = f.CreditCode
	}
	return fact, nil
}

// badField returns the name of the first field of data that does not decode on its own, or "data".
func badField(typ string, data json.RawMessage) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return "data"
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if json.Unmarshal(one, record.NewFact(typ)) != nil {
			return k
		}
	}
	return "data"
}

// Action is one step of a draft's history: who, when, at which stage, what decision, why.
type Action struct {
	N        int       `json:"n"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Stage    string    `json:"stage"`
	Decision string    `json:"decision"` // submit, approve, reject, resubmit, withdraw
	Reason   string    `json:"reason,omitempty"`
}

// Material is an original document attached to a draft, kept by its SHA-256 (R13).
type Material struct {
	SHA256      string    `json:"sha256"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

// Draft is a proposed change of the record under review.
type Draft struct {
	ID         int64       `json:"id"`
	Number     string      `json:"number"`
	Kind       string      `json:"kind"`
	Maker      string      `json:"maker"`
	Status     string      `json:"status"`
	Stage      string      `json:"stage,omitempty"` // the stage it waits at, when in review
	Chain      []string    `json:"chain"`
	Summary    string      `json:"summary"`
	FactCount  int         `json:"fact_count"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	FirstSeq   int64       `json:"first_seq,omitempty"` // recorded events, once approved
	EventCount int64       `json:"event_count,omitempty"`
	Actions    []Action    `json:"actions,omitempty"`
	Materials  []Material  `json:"materials,omitempty"`
	Facts      []DraftFact `json:"-"`
	Reason     string      `json:"reason,omitempty"` // maintenance: why (维护原因)
	Method     string      `json:"method,omitempty"` // maintenance: how it is handled (处理方式)
	stageIndex int
}

// payload is what a draft's sealed payload holds.
type payload struct {
	Facts  []DraftFact `json:"facts"`
	Reason string      `json:"reason,omitempty"`
	Method string      `json:"method,omitempty"`
}

// Service runs intake and review on a store.
type Service struct {
	st  *store.Store
	Now func() time.Time
}

// New returns the review service of a store.
func New(st *store.Store) *Service { return &Service{st: st, Now: time.Now} }

const payloadLabel = "review-draft-payload"

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Chain returns the review chain in force for a kind.
func (s *Service) Chain(ctx context.Context, kind string) ([]string, error) {
	k, err := kindOf(kind)
	if err != nil {
		return nil, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	return chainIn(ctx, tx, k)
}

func chainIn(ctx context.Context, tx store.Tx, k Kind) ([]string, error) {
	var stages string
	err := tx.QueryRow(ctx, "SELECT stages FROM review_chains WHERE kind = $1", k.Name).Scan(&stages)
	if errors.Is(err, store.ErrNoRows) {
		return k.Default, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Split(stages, ","), nil
}

// SetChain configures the review chain of a kind. Only a system administrator may; drafts already in review
// keep the chain they were submitted with.
func (s *Service) SetChain(ctx context.Context, actor Actor, kind string, chain []string) error {
	if !actor.holds("sysadmin") {
		return record.Errorf(record.EForbidden, "only a system administrator (系统管理员) configures review chains")
	}
	if _, err := kindOf(kind); err != nil {
		return err
	}
	if err := ValidateChain("chain", chain); err != nil {
		return err
	}
	now := s.now()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "DELETE FROM review_chains WHERE kind = $1", kind); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO review_chains (kind, stages, updated_at, updated_by) VALUES ($1, $2, $3, $4)",
		kind, strings.Join(chain, ","), now.UnixMilli(), actor.User); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// validateFacts checks every fact of a draft on its own; every bad one is reported (I6).
func validateFacts(kind Kind, facts []DraftFact, today time.Time) ([]record.Fact, error) {
	if len(facts) == 0 {
		return nil, record.Invalid("facts", "required", "a draft needs at least one fact")
	}
	var errs record.Errors
	out := make([]record.Fact, 0, len(facts))
	for i, df := range facts {
		field := fmt.Sprintf("facts[%d]", i)
		if indexOf(kind.Types, df.Type) < 0 {
			errs.Append(field+".type", record.Invalid("", "kind_fact_type", "a %s draft cannot hold a %s fact", kind.Name, df.Type))
			continue
		}
		if (df.Supersedes != nil) != (kind.Name == Maintenance && df.Supersedes != nil) {
			errs.Append(field+".supersedes", record.Invalid("", "supersedes_maintenance", "only a maintenance draft corrects recorded events"))
			continue
		}
		if df.NewIDNumber != "" && kind.Name != Maintenance {
			errs.Append(field+".new_id_number", record.Invalid("", "new_id_by_maintenance", "an ID number is corrected by a maintenance draft (数据维护), which states the reason and how it was confirmed"))
			continue
		}
		if df.Type == record.TypeEventVoided && df.Supersedes == nil {
			errs.Append(field+".supersedes", record.Invalid("", "void_names_event", "a void must name the event it withdraws"))
			continue
		}
		f, err := df.Fact()
		if err != nil {
			errs.Append(field, err)
			continue
		}
		if df.Supersedes != nil {
			f = &record.Correction{Seq: *df.Supersedes, Fact: f}
		}
		if err := f.Validate(today); err != nil {
			errs.Append(field, err)
			continue
		}
		if t, ok := f.(*record.AccountTransferred); ok && kind.Name == "account_transfer_in" && t.Direction != "in" {
			errs.Append(field+".direction", record.Invalid("", "transfer_in", "an account transfer-in draft records transfers in; a transfer out goes through the transfer procedure"))
			continue
		}
		out = append(out, f)
	}
	return out, errs.Err()
}

// sealFacts validates a draft's content and returns it encoded and sealed for storage.
func (s *Service) sealFacts(k Kind, p payload, now time.Time) ([]byte, error) {
	if _, err := validateFacts(k, p.Facts, now); err != nil {
		return nil, err
	}
	if k.Name == Maintenance {
		var errs record.Errors
		if strings.TrimSpace(p.Reason) == "" {
			errs.Append("reason", record.Invalid("", "maintenance_reason", "a maintenance draft states its reason (维护原因)"))
		}
		if strings.TrimSpace(p.Method) == "" {
			errs.Append("method", record.Invalid("", "maintenance_method", "a maintenance draft states its handling method (处理方式)"))
		}
		if err := errs.Err(); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return s.st.Keys().Seal(b, payloadLabel), nil
}

// Submission is a new draft.
type Submission struct {
	Kind      string
	Facts     []DraftFact
	Materials []Material // references to materials stored with AddMaterial; Name and ContentType are kept per draft
	Summary   string     // a line for queues and lists, without ID numbers
	FileHash  string     // SHA-256 of the uploaded file a batch came from, to recognise a second upload
	Reason    string     // maintenance: why the record is corrected or supplemented
	Method    string     // maintenance: how it is handled
}

// Submit makes a draft. The maker must hold the collector post; every fact is validated first and every bad one
// reported with its index, field and rule; nothing is kept while any is bad.
func (s *Service) Submit(ctx context.Context, actor Actor, sub Submission) (Draft, error) {
	return s.submit(ctx, actor, sub, false, nil)
}

func (s *Service) submit(ctx context.Context, actor Actor, sub Submission, byProcedure bool, also func(context.Context, store.Tx, int64) error) (Draft, error) {
	k, err := kindOf(sub.Kind)
	if err != nil {
		return Draft{}, err
	}
	if procedureKinds[k.Name] && !byProcedure {
		return Draft{}, record.Invalid("kind", "kind_by_procedure", "%s drafts are made by their procedure (a transfer is requested at POST /api/v1/transfers; a transfer in arrives as a package), not submitted directly", k.Name)
	}
	if post := makerPost(k.Name); !actor.holds(post) {
		return Draft{}, record.Errorf(record.EForbidden, "making %s drafts needs the %s post", k.Name, post)
	}
	now := s.now()
	sealed, err := s.sealFacts(k, payload{Facts: sub.Facts, Reason: sub.Reason, Method: sub.Method}, now)
	if err != nil {
		return Draft{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(ctx)
	if sub.FileHash != "" {
		var other int64
		err := tx.QueryRow(ctx, "SELECT id FROM review_drafts WHERE file_hash = $1 AND status <> $2 ORDER BY id LIMIT 1", sub.FileHash, StatusWithdrawn).Scan(&other)
		if err == nil {
			return Draft{}, record.Errorf(record.EConflict, "this file was already uploaded as draft %s; it is not posted twice", DraftID(other))
		}
		if !errors.Is(err, store.ErrNoRows) {
			return Draft{}, err
		}
	}
	chain, err := chainIn(ctx, tx, k)
	if err != nil {
		return Draft{}, err
	}
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM review_drafts").Scan(&id); err != nil {
		return Draft{}, err
	}
	summary := sub.Summary
	if summary == "" {
		summary = fmt.Sprintf("%s：%d 项", k.Title, len(sub.Facts))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO review_drafts (id, kind, maker, status, stage, chain, payload, facts, summary, file_hash, created_at, updated_at, first_seq, event_count)
		VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $9, $10, $10, 0, 0)`,
		id, k.Name, actor.User, StatusInReview, strings.Join(chain, ","), sealed, len(sub.Facts), summary, sub.FileHash, now.UnixMilli()); err != nil {
		return Draft{}, err
	}
	for _, m := range sub.Materials {
		if err := attach(ctx, tx, id, m, actor.User, now); err != nil {
			return Draft{}, err
		}
	}
	if err := addAction(ctx, tx, id, now, actor.User, "", "submit", ""); err != nil {
		return Draft{}, err
	}
	if also != nil {
		if err := also(ctx, tx, id); err != nil {
			return Draft{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, id)
}

func addAction(ctx context.Context, tx store.Tx, id int64, now time.Time, actor, stage, decision, reason string) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(n), 0) + 1 FROM review_actions WHERE draft_id = $1", id).Scan(&n); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "INSERT INTO review_actions (draft_id, n, at, actor, stage, decision, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		id, n, now.UnixMilli(), actor, stage, decision, reason)
	return err
}

// Act records a decision at the stage a draft waits at. The actor must hold that stage's post, must not be the
// draft's maker, and must not have acted at an earlier stage of it (each stage a different person); an outside
// helper never reviews. A rejection needs a reason and returns the draft to its maker. Approval at the last
// stage appends the draft's facts to the journal — in the same transaction that marks the draft approved — with
// the derived values computed by the rules at that moment (I1, R6.4).
func (s *Service) Act(ctx context.Context, actor Actor, id int64, decision, reason string) (Draft, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	if d.Status != StatusInReview {
		return Draft{}, record.Errorf(record.EConflict, "draft %s is %s, not waiting for review", d.Number, d.Status)
	}
	stage := d.Stage
	post := StagePost[stage]
	switch {
	case decision != Approve && decision != Reject:
		return Draft{}, record.Invalid("decision", "decision", "decision must be approve or reject")
	case decision == Reject && strings.TrimSpace(reason) == "":
		return Draft{}, record.Invalid("reason", "reject_reason", "a rejection must say why, for the maker to correct it")
	case actor.User == d.Maker:
		return Draft{}, record.Errorf(record.EForbidden, "%s made draft %s and cannot review it (separation of duties)", actor.User, d.Number)
	case actor.External:
		return Draft{}, record.Errorf(record.EForbidden, "%s is an outside helper and cannot review draft %s: every stage of review is made by the agency's own staff, so an outside helper never maintains data alone (R11.2)", actor.User, d.Number)
	case !actor.holds(post):
		return Draft{}, record.Errorf(record.EForbidden, "draft %s waits for %s (%s), which needs the %s post", d.Number, stage, StageNames[stage], post)
	}
	for _, a := range d.Actions {
		if a.Actor == actor.User && (a.Decision == Approve || a.Decision == Reject) && a.N > lastSubmission(d.Actions) {
			return Draft{}, record.Errorf(record.EForbidden, "%s already acted on draft %s at %s; each stage needs a different person", actor.User, d.Number, StageNames[a.Stage])
		}
	}
	now := s.now()
	last := d.stageIndex == len(d.Chain)-1
	if decision == Approve && last {
		return s.approve(ctx, actor, d, now)
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(ctx)
	var q string
	var args []any
	if decision == Reject {
		q, args = "UPDATE review_drafts SET status = $1, stage = 0, updated_at = $2 WHERE id = $3 AND status = $4 AND stage = $5",
			[]any{StatusReturned, now.UnixMilli(), id, StatusInReview, d.stageIndex}
	} else {
		q, args = "UPDATE review_drafts SET stage = stage + 1, updated_at = $1 WHERE id = $2 AND status = $3 AND stage = $4",
			[]any{now.UnixMilli(), id, StatusInReview, d.stageIndex}
	}
	n, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return Draft{}, err
	}
	if n != 1 {
		return Draft{}, record.Errorf(record.EConflict, "draft %s changed meanwhile; reload it", d.Number)
	}
	if err := addAction(ctx, tx, id, now, actor.User, stage, decision, reason); err != nil {
		return Draft{}, err
	}
	if decision == Reject {
		proc, isProc, err := procedureOf(d.Kind)
		if err != nil {
			return Draft{}, err
		}
		if isProc && proc.Rejected != nil {
			closed, err := proc.Rejected(ctx, s.st, tx, d, actor.User, reason, now)
			if err != nil {
				return Draft{}, err
			}
			if closed {
				if err := closeDraft(ctx, tx, id, now); err != nil {
					return Draft{}, err
				}
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, id)
}

func lastSubmission(actions []Action) int {
	n := 0
	for _, a := range actions {
		if a.Decision == "submit" || a.Decision == "resubmit" {
			n = a.N
		}
	}
	return n
}

func (s *Service) approve(ctx context.Context, actor Actor, d Draft, now time.Time) (Draft, error) {
	k, _ := kindOf(d.Kind)
	facts, err := validateFacts(k, d.Facts, now)
	if err != nil {
		return Draft{}, err
	}
	if k.Name == Maintenance {
		entry, err := s.maintenanceEntry(ctx, actor, d)
		if err != nil {
			return Draft{}, err
		}
		facts = append(facts, entry)
	}
	proc, isProc, err := procedureOf(k.Name)
	if err != nil {
		return Draft{}, err
	}
	if isProc && proc.Facts != nil {
		if facts, err = proc.Facts(ctx, s.st, d, now); err != nil {
			return Draft{}, err
		}
	}
	_, err = s.st.RecordWith(ctx, "draft:"+d.Number, facts, func(ctx context.Context, tx store.Tx, rc store.Receipt) error {
		n, err := tx.Exec(ctx, "UPDATE review_drafts SET status = $1, updated_at = $2, first_seq = $3, event_count = $4 WHERE id = $5 AND status = $6 AND stage = $7",
			StatusApproved, now.UnixMilli(), rc.First, rc.Count, d.ID, StatusInReview, d.stageIndex)
		if err != nil {
			return err
		}
		if n != 1 {
			return record.Errorf(record.EConflict, "draft %s changed meanwhile; reload it", d.Number)
		}
		if err := addAction(ctx, tx, d.ID, now, actor.User, d.Stage, Approve, ""); err != nil {
			return err
		}
		if isProc && proc.Approved != nil {
			return proc.Approved(ctx, s.st, tx, d, rc, actor.User, now)
		}
		return nil
	})
	if err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, d.ID)
}

// maintenanceEntry builds the maintenance log entry (R12) of an approved maintenance draft: each change with
// the recorded data it replaces, the reason and handling method, the maker as the person responsible, and
// everyone who approved it.
func (s *Service) maintenanceEntry(ctx context.Context, approver Actor, d Draft) (*record.MaintenanceLogged, error) {
	e := &record.MaintenanceLogged{Draft: d.Number, Reason: d.Reason, Method: d.Method, Responsible: d.Maker}
	for _, f := range d.Facts {
		c := record.MaintenanceChange{Type: f.Type, After: f.Data, Supersedes: f.Supersedes}
		if f.Supersedes != nil {
			ev, _, err := s.st.Event(ctx, *f.Supersedes)
			if err != nil {
				return nil, record.WithField("supersedes", err)
			}
			c.Before = ev.Data
			if e.Person == "" {
				e.Person = ev.Person
			}
		}
		if e.Person == "" && f.IDNumber != "" {
			if p, err := s.st.FindPerson(ctx, f.IDNumber); err == nil {
				e.Person = p
			}
		}
		e.Changes = append(e.Changes, c)
	}
	since := lastSubmission(d.Actions)
	for _, a := range d.Actions {
		if a.N > since && a.Decision == Approve {
			e.Reviewers = append(e.Reviewers, a.Stage+":"+a.Actor)
		}
	}
	e.Reviewers = append(e.Reviewers, d.Stage+":"+approver.User)
	return e, nil
}

// Resubmission is what a maker sends back with a returned draft.
type Resubmission struct {
	// Facts are the corrected facts; nil resubmits the draft's facts as they are.
	Facts []DraftFact `json:"facts"`
	// Materials are added to the draft's materials (stored first, as for a submission); those it holds are kept.
	Materials []Material `json:"materials"`
	// Note says what was corrected, for the reviewers.
	Note string `json:"note"`
}

// Resubmit sends a returned draft, corrected or with materials added, back to the start of its chain. Only its
// maker may.
func (s *Service) Resubmit(ctx context.Context, actor Actor, id int64, re Resubmission) (Draft, error) {
	facts := re.Facts
	d, err := s.Get(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	if d.Maker != actor.User {
		return Draft{}, record.Errorf(record.EForbidden, "only the maker of draft %s can resubmit it", d.Number)
	}
	if d.Status != StatusReturned {
		return Draft{}, record.Errorf(record.EConflict, "draft %s is %s; only a returned draft is resubmitted", d.Number, d.Status)
	}
	k, _ := kindOf(d.Kind)
	now := s.now()
	if facts != nil && procedureKinds[k.Name] {
		return Draft{}, record.Invalid("facts", "procedure_facts", "a %s draft is made by its procedure; it is resubmitted as it is", k.Name)
	}
	if facts == nil {
		facts = d.Facts
	}
	sealed, err := s.sealFacts(k, payload{Facts: facts, Reason: d.Reason, Method: d.Method}, now)
	if err != nil {
		return Draft{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(ctx)
	n, err := tx.Exec(ctx, "UPDATE review_drafts SET status = $1, stage = 0, payload = $2, facts = $3, updated_at = $4 WHERE id = $5 AND status = $6",
		StatusInReview, sealed, len(facts), now.UnixMilli(), id, StatusReturned)
	if err != nil {
		return Draft{}, err
	}
	if n != 1 {
		return Draft{}, record.Errorf(record.EConflict, "draft %s changed meanwhile; reload it", d.Number)
	}
	for _, m := range re.Materials {
		if slices.ContainsFunc(d.Materials, func(x Material) bool { return x.SHA256 == m.SHA256 }) {
			continue // attached already: one copy, under its first name
		}
		if err := attach(ctx, tx, id, m, actor.User, now); err != nil {
			return Draft{}, err
		}
		d.Materials = append(d.Materials, m)
	}
	if err := addAction(ctx, tx, id, now, actor.User, "", "resubmit", re.Note); err != nil {
		return Draft{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, id)
}

// Withdraw withdraws a draft that is not yet approved. Only its maker may.
func (s *Service) Withdraw(ctx context.Context, actor Actor, id int64, reason string) (Draft, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	if d.Maker != actor.User {
		return Draft{}, record.Errorf(record.EForbidden, "only the maker of draft %s can withdraw it", d.Number)
	}
	if d.Status != StatusInReview && d.Status != StatusReturned {
		return Draft{}, record.Errorf(record.EConflict, "draft %s is %s and cannot be withdrawn", d.Number, d.Status)
	}
	if strings.TrimSpace(reason) == "" {
		return Draft{}, record.Invalid("reason", "withdraw_reason", "say why the draft is withdrawn")
	}
	now := s.now()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE review_drafts SET status = $1, updated_at = $2 WHERE id = $3", StatusWithdrawn, now.UnixMilli(), id); err != nil {
		return Draft{}, err
	}
	if err := addAction(ctx, tx, id, now, actor.User, "", "withdraw", reason); err != nil {
		return Draft{}, err
	}
	if proc, isProc, err := procedureOf(d.Kind); err != nil {
		return Draft{}, err
	} else if isProc && proc.Withdrawn != nil {
		if err := proc.Withdrawn(ctx, s.st, tx, d, actor.User, reason, now); err != nil {
			return Draft{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Draft{}, err
	}
	return s.Get(ctx, id)
}

// Get reads a draft with its facts, history and materials.
func (s *Service) Get(ctx context.Context, id int64) (Draft, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Draft{}, err
	}
	defer tx.Rollback(ctx)
	var d Draft
	var chain string
	var sealed []byte
	var created, updated int64
	err = tx.QueryRow(ctx, `SELECT id, kind, maker, status, stage, chain, payload, facts, summary, created_at, updated_at, first_seq, event_count
		FROM review_drafts WHERE id = $1`, id).Scan(&d.ID, &d.Kind, &d.Maker, &d.Status, &d.stageIndex, &chain, &sealed, &d.FactCount,
		&d.Summary, &created, &updated, &d.FirstSeq, &d.EventCount)
	if errors.Is(err, store.ErrNoRows) {
		return Draft{}, record.Errorf(record.ENotFound, "draft %s does not exist", DraftID(id))
	}
	if err != nil {
		return Draft{}, err
	}
	d.Number = DraftID(d.ID)
	d.Chain = strings.Split(chain, ",")
	d.CreatedAt, d.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	if d.Status == StatusInReview {
		d.Stage = d.Chain[d.stageIndex]
	}
	plain, err := s.st.Keys().Open(sealed, payloadLabel)
	if err != nil {
		return Draft{}, fmt.Errorf("draft %s: %w", d.Number, err)
	}
	var pl payload
	if err := json.Unmarshal(plain, &pl); err != nil {
		return Draft{}, err
	}
	d.Facts, d.Reason, d.Method = pl.Facts, pl.Reason, pl.Method
	rows, err := tx.Query(ctx, "SELECT n, at, actor, stage, decision, reason FROM review_actions WHERE draft_id = $1 ORDER BY n", id)
	if err != nil {
		return Draft{}, err
	}
	for rows.Next() {
		var a Action
		var at int64
		if err := rows.Scan(&a.N, &at, &a.Actor, &a.Stage, &a.Decision, &a.Reason); err != nil {
			rows.Close()
			return Draft{}, err
		}
		a.At = time.UnixMilli(at).UTC()
		d.Actions = append(d.Actions, a)
	}
	rows.Close()
	rows, err = tx.Query(ctx, `SELECT m.sha256, dm.name, dm.content_type, m.size, dm.added_by, dm.added_at
		FROM review_draft_materials dm JOIN review_materials m ON m.sha256 = dm.sha256 WHERE dm.draft_id = $1 ORDER BY dm.added_at, dm.name`, id)
	if err != nil {
		return Draft{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var m Material
		var at int64
		if err := rows.Scan(&m.SHA256, &m.Name, &m.ContentType, &m.Size, &m.AddedBy, &at); err != nil {
			return Draft{}, err
		}
		m.AddedAt = time.UnixMilli(at).UTC()
		d.Materials = append(d.Materials, m)
	}
	return d, rows.Err()
}

// QueueQuery narrows and pages a review queue.
type QueueQuery struct {
	// Kind, if set, keeps only drafts of that business type (a key of Kinds).
	Kind string
	// Offset and Limit page the queue (Limit 0: every draft).
	Offset, Limit int
}

// Queue lists the drafts waiting at a stage whose post the actor holds, that the actor neither made nor already
// acted on since the draft was last submitted, oldest first; it also returns how many there are in all. Only
// the page's drafts are read whole.
func (s *Service) Queue(ctx context.Context, actor Actor, q QueueQuery) ([]Draft, int, error) {
	if q.Kind != "" {
		if _, err := kindOf(q.Kind); err != nil {
			return nil, 0, err
		}
	}
	if q.Offset < 0 || q.Limit < 0 {
		return nil, 0, record.Invalid("offset", "page_offset", "offset and limit must not be negative")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	// A reviewer who acted on a draft (approved it at an earlier stage, or rejected it) does not see it again
	// until the maker submits it anew.
	rows, err := tx.Query(ctx, `SELECT d.id, d.kind, d.chain, d.stage FROM review_drafts d
		WHERE d.status = $1 AND d.maker <> $2
		AND NOT EXISTS (SELECT 1 FROM review_actions a WHERE a.draft_id = d.id AND a.actor = $2
			AND a.n > (SELECT COALESCE(MAX(b.n), 0) FROM review_actions b
				WHERE b.draft_id = d.id AND b.decision IN ('submit', 'resubmit')))
		ORDER BY d.id`, StatusInReview, actor.User)
	if err != nil {
		return nil, 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		var kind, chain string
		var stage int
		if err := rows.Scan(&id, &kind, &chain, &stage); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if q.Kind != "" && kind != q.Kind {
			continue
		}
		if st := strings.Split(chain, ","); stage < len(st) && actor.holds(StagePost[st[stage]]) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	tx.Rollback(ctx)
	total := len(ids)
	page := ids[min(q.Offset, total):]
	if q.Limit > 0 && len(page) > q.Limit {
		page = page[:q.Limit]
	}
	out := make([]Draft, 0, len(page))
	for _, id := range page {
		d, err := s.Get(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, nil
}

// AddMaterial stores an original document by its SHA-256 and returns its reference. Storing the same bytes
// twice keeps one copy.
func (s *Service) AddMaterial(ctx context.Context, content []byte) (string, error) {
	if len(content) == 0 {
		return "", record.Invalid("file", "file_empty", "the file is empty")
	}
	if len(content) > 50<<20 {
		return "", record.Invalid("file", "file_size", "a material may be at most 50 MiB")
	}
	sum := sha256.Sum256(content)
	h := hex.EncodeToString(sum[:])
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM review_materials WHERE sha256 = $1", h).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		if _, err := tx.Exec(ctx, "INSERT INTO review_materials (sha256, size, content, created_at) VALUES ($1, $2, $3, $4)", h, int64(len(content)), content, s.now().UnixMilli()); err != nil {
			return "", err
		}
	}
	return h, tx.Commit(ctx)
}

// ErrMaterialChanged is returned when a stored material no longer matches its hash.
var ErrMaterialChanged = errors.New("material does not match its SHA-256: it was changed after it was stored")

// ReadMaterial returns a material's bytes, checking them against their hash (R13).
func (s *Service) ReadMaterial(ctx context.Context, sha string) ([]byte, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var content []byte
	err = tx.QueryRow(ctx, "SELECT content FROM review_materials WHERE sha256 = $1", sha).Scan(&content)
	if errors.Is(err, store.ErrNoRows) {
		return nil, record.Errorf(record.ENotFound, "material %s is not stored", sha)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	if hex.EncodeToString(sum[:]) != sha {
		return nil, &changedError{re: &record.Error{Code: record.EConflict, Field: "sha256", Rule: MaterialHashRule,
			Message: fmt.Sprintf("material %s no longer matches its SHA-256: it was changed after it was stored, and is not served; report it to the database administrator (sirec check data lists it too)", sha)}}
	}
	return content, nil
}

// MaterialHashRule is the rule a changed material breaks.
const MaterialHashRule = "material_hash"

// changedError is a material that no longer matches its hash: a conflict (409 over HTTP) with the rule
// material_hash for whoever shows errors, and ErrMaterialChanged for whoever checks for it.
type changedError struct{ re *record.Error }

func (e *changedError) Error() string   { return e.re.Error() }
func (e *changedError) Unwrap() []error { return []error{e.re, ErrMaterialChanged} }

func attach(ctx context.Context, tx store.Tx, id int64, m Material, by string, now time.Time) error {
	var n int
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM review_materials WHERE sha256 = $1", m.SHA256).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return record.Invalid("materials", "material_stored", "material %s is not stored; upload it first", m.SHA256)
	}
	if strings.TrimSpace(m.Name) == "" {
		return record.Invalid("materials", "material_name", "each material needs a name, e.g. 身份证复印件.pdf")
	}
	_, err := tx.Exec(ctx, "INSERT INTO review_draft_materials (draft_id, sha256, name, content_type, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6)",
		id, m.SHA256, m.Name, m.ContentType, by, now.UnixMilli())
	return err
}
