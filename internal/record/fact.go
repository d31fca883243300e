package record

import (
	"encoding/json"
	"time"
)

// Event types. Each approved fact becomes one event of one of these types (R2.1–R2.5).
const (
	TypePersonRegistered   = "person.registered"   // 参保人员登记
	TypePersonChanged      = "person.changed"      // 参保人员信息变更 (name, ID number, status, death)
	TypeEmployerRegistered = "employer.registered" // 用人单位登记
	TypeEmployerChanged    = "employer.changed"    // 用人单位变更 / 注销
	TypeEnrolmentStarted   = "enrolment.started"   // 参保关系建立 (per insurance type)
	TypeEnrolmentStopped   = "enrolment.stopped"   // 参保关系终止
	TypeContributionPosted = "contribution.posted" // 缴费 (one month, one insurance type)
	TypeSubsidyGranted     = "subsidy.granted"     // 补贴
	TypeEligibilityGranted = "eligibility.granted" // 待遇资格
	TypeBenefitPaid        = "benefit.paid"        // 待遇发放
	TypeDeemedRecorded     = "deemed.recorded"     // 视同缴费年限
	TypeAccountTransferred = "account.transferred" // 个人账户转入 / 转出
	TypeOtherRecorded      = "other.recorded"      // 其他反映权益的信息 (R2.5)
	TypeRuleSetAdopted     = "ruleset.adopted"     // 业务规则 (rule set) adopted
	TypeEventVoided        = "event.voided"        // an earlier event withdrawn by procedure, no replacement
)

// Insurance types (险种).
const (
	Pension      = "pension"
	Medical      = "medical"
	Unemployment = "unemployment"
	WorkInjury   = "work_injury"
	Maternity    = "maternity"
)

// InsuranceTypes lists the insurance types in display order.
var InsuranceTypes = []string{Pension, Medical, Unemployment, WorkInjury, Maternity}

// Contribution states (应缴 / 实缴 / 欠缴).
const (
	StatusPaid    = "paid"
	StatusDue     = "due"
	StatusArrears = "arrears"
)

// Fact is a proposed fact about a rights record: the payload of one event. Its JSON encoding is the event's
// data, so every payload struct declares its fields in alphabetical order of their JSON names and keeps money
// as integer fen: encoding/json then produces the canonical form. Fields tagged "-" are intake-only (a
// citizen ID number in clear, sealed before it is recorded).
type Fact interface {
	EventType() string
	// Validate checks the fact on its own; today is the civil date of the check.
	Validate(today time.Time) error
}

// PersonRef names the person a fact is about: by ID number at intake, by person key once resolved.
type PersonRef struct {
	IDNumber string `json:"-"`
	Person   string `json:"-"`
}

// Ref returns the reference itself, so that facts embedding it satisfy PersonFact.
func (r *PersonRef) Ref() *PersonRef { return r }

func (r *PersonRef) validate(today time.Time) error {
	if r.Person != "" {
		return nil
	}
	return ValidateCitizenID("id_number", r.IDNumber, today)
}

// PersonFact is a fact about one person.
type PersonFact interface {
	Fact
	Ref() *PersonRef
}

// PersonRegistered registers an insured person (参保人员登记).
type PersonRegistered struct {
	PersonRef
	Birth        string `json:"birth"`    // YYYY-MM-DD, from the ID number
	IDIndex      string `json:"id_index"` // keyed hash of the ID number (I7)
	IDSealed     []byte `json:"id_sealed"`
	Name         string `json:"name"`
	Phone        string `json:"phone,omitempty"`
	Region       string `json:"region"`
	RegisteredOn string `json:"registered_on"` // YYYY-MM-DD
	Sex          string `json:"sex"`
}

func (*PersonRegistered) EventType() string { return TypePersonRegistered }

func (f *PersonRegistered) Validate(today time.Time) error {
	if err := ValidateCitizenID("id_number", f.IDNumber, today); err != nil {
		return err
	}
	if err := validateName("name", f.Name); err != nil {
		return err
	}
	if err := ValidateRegion("region", f.Region); err != nil {
		return err
	}
	return validateDate("registered_on", f.RegisteredOn, today)
}

// PersonChanged changes a person's registration: name, ID number (public security correction), phone, or
// status ("deceased" with DeathDate, "active").
type PersonChanged struct {
	PersonRef
	DeathDate   string `json:"death_date,omitempty"`
	NewIDNumber string `json:"-"`
	// IDIndex and IDSealed are the new ID number's keyed hash and sealed form, Birth and Sex what it says: the
	// store derives them from NewIDNumber (a correction of the number may correct the date of birth).
	IDIndex  string `json:"id_index,omitempty"`
	IDSealed []byte `json:"id_sealed,omitempty"`
	Birth    string `json:"birth,omitempty"`
	Sex      string `json:"sex,omitempty"`
	Name     string `json:"name,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Reason   string `json:"reason"`
	Status   string `json:"status,omitempty"`
}

func (*PersonChanged) EventType() string { return TypePersonChanged }

func (f *PersonChanged) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if f.NewIDNumber != "" {
		if err := ValidateCitizenID("new_id_number", f.NewIDNumber, today); err != nil {
			return err
		}
		if f.NewIDNumber == f.IDNumber {
			return Invalid("new_id_number", "new_id_differs", "the new ID number is the same as the old one")
		}
	}
	if f.Name != "" {
		if err := validateName("name", f.Name); err != nil {
			return err
		}
	}
	switch f.Status {
	case "", "active":
	case "deceased":
		if err := validateDate("death_date", f.DeathDate, today); err != nil {
			return err
		}
	default:
		return Invalid("status", "person_status", "status %q is not one of active, deceased", f.Status)
	}
	if f.NewIDNumber == "" && f.Name == "" && f.Phone == "" && f.Status == "" {
		return Invalid("", "change_empty", "a change must change at least one of name, new_id_number, phone, status")
	}
	return requireText("reason", f.Reason)
}

// EmployerRegistered registers an employer (用人单位登记).
type EmployerRegistered struct {
	CreditCode    string `json:"-"` // carried in the event envelope
	IndustryClass int    `json:"industry_class"`
	Name          string `json:"name"`
	Region        string `json:"region"`
	RegisteredOn  string `json:"registered_on"`
}

func (*EmployerRegistered) EventType() string { return TypeEmployerRegistered }

func (f *EmployerRegistered) Validate(today time.Time) error {
	if err := ValidateUSCC("credit_code", f.CreditCode); err != nil {
		return err
	}
	if err := validateName("name", f.Name); err != nil {
		return err
	}
	if f.IndustryClass < 1 || f.IndustryClass > 8 {
		return Invalid("industry_class", "industry_class_range", "work-injury industry class must be 1 to 8, not %d", f.IndustryClass)
	}
	if err := ValidateRegion("region", f.Region); err != nil {
		return err
	}
	return validateDate("registered_on", f.RegisteredOn, today)
}

// EmployerChanged changes an employer's name, class or status ("active", "deregistered").
type EmployerChanged struct {
	CreditCode    string `json:"-"`
	IndustryClass int    `json:"industry_class,omitempty"`
	Name          string `json:"name,omitempty"`
	Reason        string `json:"reason"`
	Status        string `json:"status,omitempty"`
}

func (*EmployerChanged) EventType() string { return TypeEmployerChanged }

func (f *EmployerChanged) Validate(today time.Time) error {
	if err := ValidateUSCC("credit_code", f.CreditCode); err != nil {
		return err
	}
	switch f.Status {
	case "", "active", "deregistered":
	default:
		return Invalid("status", "employer_status", "status %q is not one of active, deregistered", f.Status)
	}
	if f.Name == "" && f.Status == "" && f.IndustryClass == 0 {
		return Invalid("", "change_empty", "a change must change at least one of name, industry_class, status")
	}
	return requireText("reason", f.Reason)
}

// EnrolmentStarted starts an insurance relationship (参保关系) for one insurance type, through an employer or
// as flexible employment (灵活就业) when Employer is empty.
type EnrolmentStarted struct {
	PersonRef
	Employer string `json:"employer,omitempty"`
	From     string `json:"from"`
	Type     string `json:"type"`
}

func (*EnrolmentStarted) EventType() string { return TypeEnrolmentStarted }

func (f *EnrolmentStarted) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if f.Employer != "" {
		if err := ValidateUSCC("employer", f.Employer); err != nil {
			return err
		}
	}
	if err := ValidateInsuranceType("type", f.Type); err != nil {
		return err
	}
	return validateDate("from", f.From, today)
}

// EnrolmentStopped ends an insurance relationship.
type EnrolmentStopped struct {
	PersonRef
	Employer string `json:"employer,omitempty"`
	Reason   string `json:"reason"`
	To       string `json:"to"`
	Type     string `json:"type"`
}

func (*EnrolmentStopped) EventType() string { return TypeEnrolmentStopped }

func (f *EnrolmentStopped) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := ValidateInsuranceType("type", f.Type); err != nil {
		return err
	}
	if err := validateDate("to", f.To, today); err != nil {
		return err
	}
	return requireText("reason", f.Reason)
}

// ContributionPosted records one month of one insurance type for one person (R2.2). Only the raw facts are
// recorded — the declared wage, the state and days late; the base, the amounts, the account credit and the late
// fee are computed by the rules (R6.4).
type ContributionPosted struct {
	PersonRef
	Employer string `json:"employer,omitempty"`
	LateDays int    `json:"late_days,omitempty"`
	Period   Period `json:"period"`
	Status   string `json:"status"`
	Type     string `json:"type"`
	Wage     int64  `json:"wage"` // declared monthly wage in fen, before clamping to floor and ceiling
}

func (*ContributionPosted) EventType() string { return TypeContributionPosted }

func (f *ContributionPosted) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if f.Employer != "" {
		if err := ValidateUSCC("employer", f.Employer); err != nil {
			return err
		}
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if f.Period > MakePeriod(today.Year(), int(today.Month())) {
		return Invalid("period", "period_not_future", "period %s is in the future", f.Period)
	}
	if err := ValidateInsuranceType("type", f.Type); err != nil {
		return err
	}
	switch f.Status {
	case StatusPaid, StatusDue, StatusArrears:
	default:
		return Invalid("status", "contribution_status", "status %q is not one of paid, due, arrears", f.Status)
	}
	if f.Wage <= 0 {
		return Invalid("wage", "wage_positive", "declared wage must be more than 0")
	}
	if f.LateDays < 0 {
		return Invalid("late_days", "late_days_non_negative", "days late cannot be negative")
	}
	return nil
}

// SubsidyGranted records a subsidy received (补贴), e.g. for flexible employment.
type SubsidyGranted struct {
	PersonRef
	Amount int64  `json:"amount"`
	Kind   string `json:"kind"`
	Period Period `json:"period"`
	Type   string `json:"type"`
}

func (*SubsidyGranted) EventType() string { return TypeSubsidyGranted }

func (f *SubsidyGranted) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if err := ValidateInsuranceType("type", f.Type); err != nil {
		return err
	}
	if f.Amount <= 0 {
		return Invalid("amount", "amount_positive", "subsidy amount must be more than 0")
	}
	return requireText("kind", f.Kind)
}

// Eligibility kinds (待遇资格).
var EligibilityKinds = []string{"retirement", "unemployment", "work_injury", "maternity", "medical"}

// EligibilityGranted records a benefit eligibility decision (待遇资格认定).
type EligibilityGranted struct {
	PersonRef
	Decision string `json:"decision"` // decision document number
	From     string `json:"from"`
	Kind     string `json:"kind"`
	To       string `json:"to,omitempty"`
}

func (*EligibilityGranted) EventType() string { return TypeEligibilityGranted }

func (f *EligibilityGranted) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if !contains(EligibilityKinds, f.Kind) {
		return Invalid("kind", "eligibility_kind", "kind %q is not one of %v", f.Kind, EligibilityKinds)
	}
	if err := validateDate("from", f.From, today.AddDate(1, 0, 0)); err != nil {
		return err
	}
	if f.To != "" {
		if err := validateDate("to", f.To, today.AddDate(100, 0, 0)); err != nil {
			return err
		}
	}
	return requireText("decision", f.Decision)
}

// BenefitPaid records one benefit payment (待遇发放).
type BenefitPaid struct {
	PersonRef
	Amount int64  `json:"amount"`
	Kind   string `json:"kind"`
	Period Period `json:"period"`
}

func (*BenefitPaid) EventType() string { return TypeBenefitPaid }

func (f *BenefitPaid) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if !contains(EligibilityKinds, f.Kind) {
		return Invalid("kind", "benefit_kind", "kind %q is not one of %v", f.Kind, EligibilityKinds)
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if f.Amount <= 0 {
		return Invalid("amount", "amount_positive", "benefit amount must be more than 0")
	}
	return nil
}

// DeemedRecorded records a deemed contribution period (视同缴费年限), e.g. years in a state unit before 1998.
type DeemedRecorded struct {
	PersonRef
	Basis string `json:"basis"`
	From  Period `json:"from"`
	To    Period `json:"to"`
}

func (*DeemedRecorded) EventType() string { return TypeDeemedRecorded }

func (f *DeemedRecorded) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := f.From.Validate("from"); err != nil {
		return err
	}
	if err := f.To.Validate("to"); err != nil {
		return err
	}
	if f.To < f.From {
		return Invalid("to", "period_order", "to (%s) is before from (%s)", f.To, f.From)
	}
	return requireText("basis", f.Basis)
}

// AccountTransferred moves a personal account balance in from or out to another region (转移接续).
type AccountTransferred struct {
	PersonRef
	Amount      int64  `json:"amount"`
	Direction   string `json:"direction"` // "in" or "out"
	OtherRegion string `json:"other_region"`
	Period      Period `json:"period"`
}

func (*AccountTransferred) EventType() string { return TypeAccountTransferred }

func (f *AccountTransferred) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if f.Direction != "in" && f.Direction != "out" {
		return Invalid("direction", "transfer_direction", "direction must be in or out")
	}
	if err := ValidateRegion("other_region", f.OtherRegion); err != nil {
		return err
	}
	if err := f.Period.Validate("period"); err != nil {
		return err
	}
	if f.Amount < 0 {
		return Invalid("amount", "amount_non_negative", "transfer amount cannot be negative")
	}
	return nil
}

// OtherRecorded is any other information that reflects a person's rights (R2.5): a kind and named attributes,
// so new kinds need no schema change.
type OtherRecorded struct {
	PersonRef
	Attributes map[string]string `json:"attributes"`
	Kind       string            `json:"kind"`
}

func (*OtherRecorded) EventType() string { return TypeOtherRecorded }

func (f *OtherRecorded) Validate(today time.Time) error {
	if err := f.validate(today); err != nil {
		return err
	}
	if err := requireText("kind", f.Kind); err != nil {
		return err
	}
	if len(f.Attributes) == 0 {
		return Invalid("attributes", "attributes_required", "at least one attribute is required")
	}
	for k := range f.Attributes {
		if k == "" || len(k) > 64 {
			return Invalid("attributes", "attribute_name", "attribute names must be 1 to 64 characters")
		}
	}
	return nil
}

// EventVoided withdraws an earlier event without replacing it; the event's own Supersedes names it.
type EventVoided struct {
	Reason string `json:"reason"`
}

func (*EventVoided) EventType() string { return TypeEventVoided }

func (f *EventVoided) Validate(time.Time) error { return requireText("reason", f.Reason) }

// ValidateInsuranceType checks an insurance type name.
func ValidateInsuranceType(field, t string) error {
	if !contains(InsuranceTypes, t) {
		return Invalid(field, "insurance_type", "insurance type %q is not one of pension, medical, unemployment, work_injury, maternity", t)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func validateName(field, s string) error {
	n := len([]rune(s))
	if n == 0 || n > 50 {
		return Invalid(field, "name_length", "name must be 1 to 50 characters")
	}
	return nil
}

func requireText(field, s string) error {
	if s == "" {
		return Invalid(field, "required", "%s is required", field)
	}
	if len([]rune(s)) > 500 {
		return Invalid(field, "text_length", "%s must be at most 500 characters", field)
	}
	return nil
}

func validateDate(field, s string, notAfter time.Time) error {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return Invalid(field, "date_format", "%q is not a date written YYYY-MM-DD", s)
	}
	if d.Year() < 1950 || d.After(notAfter) {
		return Invalid(field, "date_range", "date %s is outside 1950-01-01 to %s", s, notAfter.Format("2006-01-02"))
	}
	return nil
}

// RuleSetAdopted records a rule set (业务规则) as adopted: its text in the rule-set file format. The rules
// engine parses and checks it when the event is applied; a text it refuses records nothing.
type RuleSetAdopted struct {
	Body string `json:"body"`
}

func (*RuleSetAdopted) EventType() string { return TypeRuleSetAdopted }

func (f *RuleSetAdopted) Validate(time.Time) error {
	if f.Body == "" {
		return Invalid("body", "required", "the rule set text is required")
	}
	return nil
}

// NewFact returns an empty fact of an event type, for decoding; nil for an unknown type.
func NewFact(eventType string) Fact {
	switch eventType {
	case TypePersonRegistered:
		return &PersonRegistered{}
	case TypePersonChanged:
		return &PersonChanged{}
	case TypeEmployerRegistered:
		return &EmployerRegistered{}
	case TypeEmployerChanged:
		return &EmployerChanged{}
	case TypeEnrolmentStarted:
		return &EnrolmentStarted{}
	case TypeEnrolmentStopped:
		return &EnrolmentStopped{}
	case TypeContributionPosted:
		return &ContributionPosted{}
	case TypeSubsidyGranted:
		return &SubsidyGranted{}
	case TypeEligibilityGranted:
		return &EligibilityGranted{}
	case TypeBenefitPaid:
		return &BenefitPaid{}
	case TypeDeemedRecorded:
		return &DeemedRecorded{}
	case TypeAccountTransferred:
		return &AccountTransferred{}
	case TypeOtherRecorded:
		return &OtherRecorded{}
	case TypeRuleSetAdopted:
		return &RuleSetAdopted{}
	case TypeEventVoided:
		return &EventVoided{}
	case TypeMaintenanceLogged:
		return &MaintenanceLogged{}
	case TypeTransferredOut:
		return &TransferredOut{}
	case TypeTransferredIn:
		return &TransferredIn{}
	}
	return nil
}

// TypeMaintenanceLogged is the maintenance log entry (维护日志, R12) recorded with every maintenance action.
const TypeMaintenanceLogged = "maintenance.logged"

// Correction wraps a fact that supersedes an earlier event — a correction by procedure (R11.1). The event at
// Seq stays in the journal and in every proof; the projections show Fact in its place. With an EventVoided as
// Fact the earlier event is withdrawn without replacement.
type Correction struct {
	Seq  int64
	Fact Fact
}

func (c *Correction) EventType() string { return c.Fact.EventType() }

func (c *Correction) Validate(today time.Time) error {
	if c.Seq < 0 {
		return Invalid("supersedes", "supersedes_seq", "the event to correct must be named by its number (0 or more)")
	}
	return c.Fact.Validate(today)
}

// MaintenanceChange is one change of a maintenance action: the event corrected (absent for a supplement) and
// the data before and after.
type MaintenanceChange struct {
	After      json.RawMessage `json:"after"`
	Before     json.RawMessage `json:"before,omitempty"`
	Supersedes *int64          `json:"supersedes,omitempty"`
	Type       string          `json:"type"`
}

// MaintenanceLogged is the maintenance log entry of one maintenance action (R12): what changed (before and
// after), why, how it was handled, who was responsible and who reviewed it. It is recorded in the same append as
// the changes, so it is as tamper-evident as they are.
type MaintenanceLogged struct {
	Changes     []MaintenanceChange `json:"changes"`
	Draft       string              `json:"draft"`
	Method      string              `json:"method"`
	Person      string              `json:"person,omitempty"`
	Reason      string              `json:"reason"`
	Responsible string              `json:"responsible"`
	Reviewers   []string            `json:"reviewers"`
}

func (*MaintenanceLogged) EventType() string { return TypeMaintenanceLogged }

func (f *MaintenanceLogged) Validate(time.Time) error {
	if len(f.Changes) == 0 {
		return Invalid("changes", "required", "a maintenance log entry records at least one change")
	}
	if err := requireText("reason", f.Reason); err != nil {
		return err
	}
	if err := requireText("method", f.Method); err != nil {
		return err
	}
	if f.Responsible == "" || len(f.Reviewers) == 0 {
		return Invalid("reviewers", "required", "a maintenance log entry names the person responsible and the reviewers")
	}
	return nil
}
