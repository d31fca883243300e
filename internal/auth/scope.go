package auth

import (
	"slices"
	"strings"

	"sirec/internal/record"
)

// Scope is one permission a request carries. A session has every scope its user's posts allow (ScopesOf); an
// API token has the scopes it was created with, and never more than its user's posts allow at the time of use.
type Scope string

// The scopes.
const (
	// ScopePersonsRead allows reading insured persons' rights records: registration, enrolments,
	// contributions, benefits, personal account and contribution years.
	ScopePersonsRead Scope = "persons:read"
	// ScopeEmployersRead allows reading employers' registrations and their contributions.
	ScopeEmployersRead Scope = "employers:read"
	// ScopeDraftsRead allows reading drafts: collected information waiting for review.
	ScopeDraftsRead Scope = "drafts:read"
	// ScopeDraftsWrite allows submitting collected information as a draft for review (采集). Nothing becomes
	// record without the review stages (R7).
	ScopeDraftsWrite Scope = "drafts:write"
	// ScopeReviewInitial allows deciding drafts at the initial review stage (初审).
	ScopeReviewInitial Scope = "review:initial"
	// ScopeReviewReview allows deciding drafts at the review stage (审核).
	ScopeReviewReview Scope = "review:review"
	// ScopeReviewRecheck allows deciding drafts at the re-check stage (复核).
	ScopeReviewRecheck Scope = "review:recheck"
	// ScopeReviewApprove allows the final approval (审批), after which a draft is recorded.
	ScopeReviewApprove Scope = "review:approve"
	// ScopeMaintain allows proposing corrections and supplements of recorded data, with the maintenance log
	// entry that goes with them (R11, R12).
	ScopeMaintain Scope = "maintenance:write"
	// ScopeCalc allows using the calculator (contributions, personal account, pension, retirement); it reads
	// no one's record.
	ScopeCalc Scope = "calc"
	// ScopeLogsRead allows reading every log: authentication, query and maintenance logs (supervision).
	ScopeLogsRead Scope = "logs:read"
	// ScopeUsersAdmin allows managing users: add, grant and revoke posts, disable, enable, set passwords,
	// manage API tokens. It allows reading no record.
	ScopeUsersAdmin Scope = "users:admin"
	// ScopeStoreVerify allows running verification of the journal, checkpoints and projections and reading
	// its report. It allows reading no record.
	ScopeStoreVerify Scope = "store:verify"
	// ScopeStoreBackup allows taking backups and testing that they restore (R9.2, R9.3).
	ScopeStoreBackup Scope = "store:backup"
	// ScopeFeedsWrite allows importing other departments' feeds and reconciling them with the record (核对, R5.2).
	// Nothing becomes record this way: each difference becomes a work item.
	ScopeFeedsWrite Scope = "feeds:write"
	// The submission scopes of service institutions under agreement (R5.3): each allows submitting one kind of
	// information, which is checked and lands as a draft for review.
	ScopeSubmitMedical  Scope = "submit:medical"          // 定点医疗机构: medical settlements
	ScopeSubmitPharmacy Scope = "submit:pharmacy"         // 定点零售药店: pharmacy settlements
	ScopeSubmitRehab    Scope = "submit:rehabilitation"   // 工伤康复机构: work-injury rehabilitation
	ScopeSubmitDevice   Scope = "submit:assistive_device" // 辅助器具配置机构: assistive-device fittings
	ScopeSubmitBank     Scope = "submit:bank"             // 金融机构: failed benefit payments
)

// ScopeInfo describes a scope.
type ScopeInfo struct {
	Scope  Scope
	Allows string // what it allows, in English
}

// Scopes lists every scope and what it allows. Token scopes are validated against it.
var Scopes = []ScopeInfo{
	{ScopePersonsRead, "read insured persons' rights records"},
	{ScopeEmployersRead, "read employers' registrations and contributions"},
	{ScopeDraftsRead, "read drafts waiting for review"},
	{ScopeDraftsWrite, "submit collected information as drafts for review"},
	{ScopeReviewInitial, "decide drafts at initial review (初审)"},
	{ScopeReviewReview, "decide drafts at review (审核)"},
	{ScopeReviewRecheck, "decide drafts at re-check (复核)"},
	{ScopeReviewApprove, "approve drafts so that they are recorded (审批)"},
	{ScopeMaintain, "propose corrections and supplements, with their maintenance log"},
	{ScopeCalc, "use the calculator"},
	{ScopeLogsRead, "read all logs (supervision)"},
	{ScopeUsersAdmin, "manage users, posts and API tokens"},
	{ScopeStoreVerify, "verify the journal and projections"},
	{ScopeStoreBackup, "take and test backups"},
	{ScopeFeedsWrite, "import other departments' feeds and reconcile them with the record"},
	{ScopeSubmitMedical, "submit medical settlements (service institution)"},
	{ScopeSubmitPharmacy, "submit pharmacy settlements (service institution)"},
	{ScopeSubmitRehab, "submit work-injury rehabilitation records (service institution)"},
	{ScopeSubmitDevice, "submit assistive-device fittings (service institution)"},
	{ScopeSubmitBank, "report failed benefit payments (bank)"},
}

// Known reports whether s is one of Scopes.
func (s Scope) Known() bool {
	return slices.ContainsFunc(Scopes, func(i ScopeInfo) bool { return i.Scope == s })
}

// ParseScopes parses a comma- or space-separated list of scopes, refusing unknown and repeated ones (field
// "scopes").
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, Scope(f))
	}
	return out, validateScopes(out)
}

func validateScopes(scopes []Scope) error {
	if len(scopes) == 0 {
		return record.Invalid("scopes", "required", "give at least one scope")
	}
	for i, s := range scopes {
		if !s.Known() {
			return record.Invalid("scopes", "scope_known", "unknown scope %q; the scopes are %s", s, scopeNames())
		}
		if slices.Contains(scopes[:i], s) {
			return record.Invalid("scopes", "unique", "scope %s is listed twice", s)
		}
	}
	return nil
}

func scopeNames() string {
	names := make([]string, len(Scopes))
	for i, s := range Scopes {
		names[i] = string(s.Scope)
	}
	return strings.Join(names, ", ")
}

func joinScopes(scopes []Scope) string {
	s := make([]string, len(scopes))
	for i, sc := range scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, " ")
}

func splitScopes(s string) []Scope {
	var out []Scope
	for _, f := range strings.Fields(s) {
		out = append(out, Scope(f))
	}
	return out
}
