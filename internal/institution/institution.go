// Package institution takes in what service institutions under agreement submit (社会保险服务机构, R5.3):
// medical institutions and pharmacies their settlements, work-injury rehabilitation institutions and
// assistive-device fitters what they provided, banks the benefit payments that failed. Each institution submits
// through a machine account of its own with an API token scoped to its kind of submission. A submission carries
// an idempotency key — a repeat returns the first result — is checked row by row against the record, and lands
// as a draft for the agency's review: nothing it says is record until approved (I1). A bank's report of failed
// payments also marks those payments for follow-up at once, each a work item.
package institution

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// Kinds of service institution.
const (
	KindMedical         = "medical"          // 定点医疗机构
	KindPharmacy        = "pharmacy"         // 定点零售药店
	KindRehabilitation  = "rehabilitation"   // 工伤康复协议机构
	KindAssistiveDevice = "assistive_device" // 辅助器具配置协议机构
	KindBank            = "bank"             // 金融机构（待遇代发银行）
)

// Kind describes a kind of service institution and what it submits.
type Kind struct {
	Name      string
	Chinese   string
	English   string
	Scope     auth.Scope // the token scope its submissions need
	DraftKind string     // the business type its submissions become
	Submits   string     // what it submits, 中文
	Fields    []Field    // the fields of each row of a submission
}

// Field is one field of a submission row. Every value is a JSON string.
type Field struct {
	Name     string
	Required bool
	Doc      string
}

// Kinds lists the kinds of service institution.
var Kinds = []Kind{
	{KindMedical, "定点医疗机构", "medical institution", auth.ScopeSubmitMedical, "institution_medical", "医疗费用结算", []Field{
		{"id_number", true, "citizen ID number of the insured person"},
		{"document", true, "the settlement's number (结算单号), unique within the institution"},
		{"settled_on", true, "date of the settlement, YYYY-MM-DD"},
		{"category", true, "outpatient, inpatient or emergency"},
		{"total", true, "the total cost in yuan"},
		{"fund_paid", true, "what the insurance fund paid, in yuan"},
		{"self_paid", true, "what the person paid, in yuan; fund_paid + self_paid = total"},
	}},
	{KindPharmacy, "定点零售药店", "pharmacy", auth.ScopeSubmitPharmacy, "institution_pharmacy", "购药结算", []Field{
		{"id_number", true, "citizen ID number"},
		{"document", true, "the settlement's number"},
		{"settled_on", true, "date, YYYY-MM-DD"},
		{"total", true, "the total in yuan"},
		{"fund_paid", true, "paid by the fund (personal account or pooled), in yuan"},
		{"self_paid", true, "paid by the person, in yuan; fund_paid + self_paid = total"},
	}},
	{KindRehabilitation, "工伤康复协议机构", "work-injury rehabilitation institution", auth.ScopeSubmitRehab, "institution_rehabilitation", "工伤康复记录", []Field{
		{"id_number", true, "citizen ID number of the injured worker; they need a work-injury eligibility on record"},
		{"document", true, "the record's number"},
		{"from", true, "first day of the rehabilitation, YYYY-MM-DD"},
		{"to", true, "last day, YYYY-MM-DD"},
		{"program", true, "the rehabilitation programme"},
		{"cost", true, "the cost in yuan"},
		{"fund_paid", true, "what the work-injury fund is to pay, in yuan, at most the cost"},
	}},
	{KindAssistiveDevice, "辅助器具配置协议机构", "assistive-device fitter", auth.ScopeSubmitDevice, "institution_assistive_device", "辅助器具配置记录", []Field{
		{"id_number", true, "citizen ID number of the injured worker; they need a work-injury eligibility on record"},
		{"document", true, "the fitting's number"},
		{"fitted_on", true, "date of the fitting, YYYY-MM-DD"},
		{"device", true, "the device fitted"},
		{"cost", true, "the cost in yuan"},
		{"fund_paid", true, "what the work-injury fund is to pay, in yuan, at most the cost"},
	}},
	{KindBank, "金融机构", "bank", auth.ScopeSubmitBank, "institution_bank_failure", "待遇发放失败报告", []Field{
		{"id_number", true, "citizen ID number of the beneficiary"},
		{"period", true, "the month the benefit was for, YYYYMM"},
		{"kind", true, "benefit kind: " + strings.Join(record.EligibilityKinds, ", ")},
		{"amount", true, "the amount that could not be paid, in yuan: a recorded payment's"},
		{"reason", true, "why it failed, e.g. 账户已销户 (account closed)"},
		{"reference", true, "the bank's reference of the failed transfer"},
	}},
}

// KindOf returns the named kind of institution.
func KindOf(field, name string) (Kind, error) {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		names := make([]string, len(Kinds))
		for j, k := range Kinds {
			names[j] = k.Name
		}
		return Kind{}, record.Invalid(field, "institution_kind", "%q is not a kind of service institution; the kinds are %s", name, strings.Join(names, ", "))
	}
	return Kinds[i], nil
}

func (k Kind) field(name string) bool {
	return slices.ContainsFunc(k.Fields, func(f Field) bool { return f.Name == name })
}

// The business types of submissions: made by the submission procedure only, by the institution's machine
// account, reviewed at initial review and approval by default.
func init() {
	for _, k := range Kinds {
		review.RegisterProcedureKind(review.Kind{Name: k.DraftKind, Title: k.Submits + "（" + k.Chinese + "报送）",
			Types: []string{record.TypeOtherRecorded}, Default: []string{review.StageInitialReview, review.StageApproval}}, string(auth.PostInstitution))
		review.RegisterProcedure(k.DraftKind, review.Procedure{
			// A submission the agency rejects is closed, not returned: the institution corrects its data and
			// submits again, under a new idempotency key.
			Rejected: func(context.Context, *store.Store, store.Tx, review.Draft, string, string, time.Time) (bool, error) {
				return true, nil
			},
		})
	}
}

// Institution is a service institution under agreement with the agency.
type Institution struct {
	Code           string    `json:"code"` // unified social credit code
	Kind           string    `json:"kind"`
	Name           string    `json:"name"`
	Username       string    `json:"username"`        // its machine account
	Agreement      string    `json:"agreement"`       // the service agreement's number (服务协议编号)
	AgreementUntil string    `json:"agreement_until"` // its last day, YYYY-MM-DD
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by"`
}

// Service keeps service institutions and takes in their submissions.
type Service struct {
	st    *store.Store
	users *auth.Service
	rv    *review.Service
	items *workitem.Service
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the agency's time zone, for "today"; nil means time.Local.
	Location *time.Location
}

// New returns the institution service of a store.
func New(st *store.Store, users *auth.Service, items *workitem.Service) *Service {
	return &Service{st: st, users: users, rv: review.New(st), items: items, Now: time.Now}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *Service) today() time.Time {
	loc := s.Location
	if loc == nil {
		loc = time.Local
	}
	y, m, d := s.Now().In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// NewInstitution is what Add needs.
type NewInstitution struct {
	Code           string `json:"code"`
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	Agreement      string `json:"agreement"`
	AgreementUntil string `json:"agreement_until"`
}

// Validate checks every field and reports every bad one.
func (n NewInstitution) Validate(today time.Time) error {
	var errs record.Errors
	errs.Append("", record.ValidateUSCC("code", n.Code))
	if _, err := KindOf("kind", n.Kind); err != nil {
		errs.Append("", err)
	}
	errs.Append("", text("name", n.Name, 100))
	errs.Append("", text("agreement", n.Agreement, 64))
	if d, err := time.Parse("2006-01-02", n.AgreementUntil); err != nil {
		errs.Append("agreement_until", record.Invalid("", "date_format", "%q is not a date written YYYY-MM-DD", n.AgreementUntil))
	} else if d.Before(today) {
		errs.Append("agreement_until", record.Invalid("", "agreement_in_force", "the agreement ended on %s", n.AgreementUntil))
	}
	return errs.Err()
}

func text(field, v string, max int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return record.Invalid(field, "required", "%s is required", field)
	case !utf8.ValidString(v) || utf8.RuneCountInString(v) > max:
		return record.Invalid(field, "text_length", "%s is valid UTF-8 of at most %d characters", field, max)
	}
	return nil
}

// Username is the machine account of the institution with a credit code: "inst-" and the code in lower case.
func Username(code string) string { return "inst-" + strings.ToLower(code) }

// Add registers a service institution and opens its machine account: a user holding only the institution post,
// with a random password nobody is told — it signs in only with API tokens (Token).
func (s *Service) Add(ctx context.Context, n NewInstitution, actor string) (Institution, error) {
	if err := n.Validate(s.today()); err != nil {
		return Institution{}, err
	}
	if _, err := s.Get(ctx, n.Code); err == nil {
		return Institution{}, &record.Error{Code: record.EConflict, Field: "code", Rule: "unique", Message: fmt.Sprintf("institution %s is registered already", n.Code)}
	} else if record.ErrorCode(err) != record.ENotFound {
		return Institution{}, err
	}
	now := s.now()
	k, _ := KindOf("kind", n.Kind)
	inst := Institution{Code: n.Code, Kind: n.Kind, Name: n.Name, Username: Username(n.Code), Agreement: n.Agreement, AgreementUntil: n.AgreementUntil,
		CreatedAt: now, CreatedBy: actor}
	secret := make([]byte, 30)
	if _, err := rand.Read(secret); err != nil {
		return Institution{}, err
	}
	display := []rune(k.Chinese + "：" + n.Name)
	if len(display) > 64 {
		display = display[:64]
	}
	if _, err := s.users.AddUser(ctx, auth.NewUser{Username: inst.Username, DisplayName: string(display),
		Password: "Aa1-" + base32.StdEncoding.EncodeToString(secret), Posts: []auth.Post{auth.PostInstitution}}, actor, now); err != nil {
		return Institution{}, err
	}
	err := func() error {
		tx, err := s.st.Driver().Begin(ctx, true)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO institutions (code, kind, name, username, agreement, agreement_until, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, inst.Code, inst.Kind, inst.Name, inst.Username, inst.Agreement, inst.AgreementUntil, now.UnixMilli(), actor); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}()
	if err != nil {
		// The account must not outlive a registration that failed: it is disabled, with its reason in the log.
		if derr := s.users.Disable(context.WithoutCancel(ctx), inst.Username, actor, now); derr != nil {
			return Institution{}, errors.Join(err, derr)
		}
		return Institution{}, err
	}
	return inst, nil
}

const instColumns = "code, kind, name, username, agreement, agreement_until, created_at, created_by"

func scanInstitution(r store.Row) (Institution, error) {
	var i Institution
	var at int64
	err := r.Scan(&i.Code, &i.Kind, &i.Name, &i.Username, &i.Agreement, &i.AgreementUntil, &at, &i.CreatedBy)
	i.CreatedAt = time.UnixMilli(at).UTC()
	return i, err
}

func (s *Service) one(ctx context.Context, where string, arg any) (Institution, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Institution{}, err
	}
	defer tx.Rollback(ctx)
	return scanInstitution(tx.QueryRow(ctx, "SELECT "+instColumns+" FROM institutions WHERE "+where, arg))
}

// Get returns the institution with a credit code.
func (s *Service) Get(ctx context.Context, code string) (Institution, error) {
	i, err := s.one(ctx, "code = $1", code)
	if errors.Is(err, store.ErrNoRows) {
		return i, record.Errorf(record.ENotFound, "no service institution %s is registered", code)
	}
	return i, err
}

// ByUsername returns the institution a machine account belongs to.
func (s *Service) ByUsername(ctx context.Context, username string) (Institution, error) {
	i, err := s.one(ctx, "username = $1", username)
	if errors.Is(err, store.ErrNoRows) {
		return i, record.Errorf(record.EConflict, "user %s holds the institution post but no service institution is registered for it; a system administrator registers institutions (sirec institution add)", username)
	}
	return i, err
}

// List returns every institution, by kind and name.
func (s *Service) List(ctx context.Context) ([]Institution, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT "+instColumns+" FROM institutions ORDER BY kind, code")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Institution{}
	for rows.Next() {
		i, err := scanInstitution(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Token creates an API token for an institution's machine account with the one scope its kind submits with.
// The token is shown once.
func (s *Service) Token(ctx context.Context, code, name string, expires time.Time, actor string) (string, auth.Token, error) {
	inst, err := s.Get(ctx, code)
	if err != nil {
		return "", auth.Token{}, err
	}
	k, _ := KindOf("kind", inst.Kind)
	if name == "" {
		name = k.Submits
	}
	return s.users.CreateToken(ctx, auth.TokenSpec{Username: inst.Username, Name: name, Scopes: []auth.Scope{k.Scope}, ExpiresAt: expires}, actor, s.now())
}
