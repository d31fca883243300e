// Package review is the way a proposed fact becomes record (R5.3, R6.1–R6.3, R7): a draft, made at the front
// desk from original documents with those documents attached, goes through the review chain of its business
// type — initial review 初审, review 审核, re-check 复核, approval 审批 — each stage by a different person
// holding that stage's post, never by its maker; only the final approval appends its facts to the journal (I1).
package review

import (
	"fmt"
	"sort"
	"strings"

	"sirec/internal/record"
)

// Stages, in order, and the post each needs.
const (
	StageInitialReview = "initial_review" // 初审
	StageReview        = "review"         // 审核
	StageRecheck       = "recheck"        // 复核
	StageApproval      = "approval"       // 审批
)

// Stages lists every stage in its order.
var Stages = []string{StageInitialReview, StageReview, StageRecheck, StageApproval}

// StagePost is the post (role) that may act at each stage.
var StagePost = map[string]string{
	StageInitialReview: "initial_reviewer",
	StageReview:        "reviewer",
	StageRecheck:       "rechecker",
	StageApproval:      "approver",
}

// StageNames are the stages' Chinese names, for messages and pages.
var StageNames = map[string]string{StageInitialReview: "初审", StageReview: "审核", StageRecheck: "复核", StageApproval: "审批"}

// MakerPost is the post that makes drafts (采集/经办).
const MakerPost = "collector"

// MaintainerPost makes maintenance drafts (数据维护, R11.1).
const MaintainerPost = "maintainer"

// Maintenance is the business type of corrections and supplements by procedure (R11.1): its facts may
// supersede recorded events, and it must state its reason and handling method; its approval also records the
// maintenance log entry (R12).
const Maintenance = "maintenance"

// Kind is a business type: the fact types a draft of it may hold and its default review chain.
type Kind struct {
	Name    string
	Title   string   // Chinese name
	Types   []string // event types its facts may have
	Default []string // default chain
}

var all4 = []string{StageInitialReview, StageReview, StageRecheck, StageApproval}

// Kinds are the business types, by name. Registrations, eligibility and benefits — and everything that changes a
// person's years or account — take all four stages by default; a single month's contribution and a monthly batch,
// checked row by row by the rules, take initial review and approval. Chains can be changed per kind (SetChain).
var Kinds = map[string]Kind{}

func init() {
	for _, k := range []Kind{
		{"person_registration", "参保人员登记", []string{record.TypePersonRegistered, record.TypeEnrolmentStarted}, all4},
		{"person_change", "参保人员信息变更", []string{record.TypePersonChanged}, all4},
		{"employer_registration", "用人单位登记", []string{record.TypeEmployerRegistered}, all4},
		{"employer_change", "用人单位变更", []string{record.TypeEmployerChanged}, all4},
		{"enrolment_start", "参保关系建立", []string{record.TypeEnrolmentStarted}, all4},
		{"enrolment_stop", "参保关系终止", []string{record.TypeEnrolmentStopped}, all4},
		{"contribution", "单笔缴费", []string{record.TypeContributionPosted}, []string{StageInitialReview, StageApproval}},
		{"contribution_batch", "月度缴费批量", []string{record.TypeContributionPosted}, []string{StageInitialReview, StageApproval}},
		{"subsidy", "补贴", []string{record.TypeSubsidyGranted}, all4},
		{"eligibility", "待遇资格认定", []string{record.TypeEligibilityGranted}, all4},
		{"benefit_payment", "待遇发放", []string{record.TypeBenefitPaid}, all4},
		{"deemed_period", "视同缴费年限", []string{record.TypeDeemedRecorded}, all4},
		{"account_transfer_in", "个人账户转入", []string{record.TypeAccountTransferred}, all4},
		{"other", "其他权益信息", []string{record.TypeOtherRecorded}, all4},
		{"rule_set", "业务规则", []string{record.TypeRuleSetAdopted}, all4},
		{KindTransferOut, "转移接续（转出）", []string{record.TypeAccountTransferred, record.TypeTransferredOut}, all4},
		{KindTransferIn, "转移接续（转入）", []string{record.TypePersonRegistered, record.TypePersonChanged, record.TypeDeemedRecorded,
			record.TypeAccountTransferred, record.TypeTransferredIn}, all4},
		{Maintenance, "数据维护（更正、补充）", []string{record.TypePersonChanged, record.TypeEmployerChanged,
			record.TypeEnrolmentStarted, record.TypeEnrolmentStopped, record.TypeContributionPosted, record.TypeSubsidyGranted,
			record.TypeEligibilityGranted, record.TypeBenefitPaid, record.TypeDeemedRecorded, record.TypeAccountTransferred,
			record.TypeOtherRecorded, record.TypeEventVoided}, all4},
	} {
		Kinds[k.Name] = k
	}
}

// ValidateChain checks a chain: one or more stages, in the order of Stages, each once, ending with approval.
func ValidateChain(field string, chain []string) error {
	if len(chain) == 0 {
		return record.Invalid(field, "chain_empty", "a review chain needs at least the approval stage")
	}
	last := -1
	for _, st := range chain {
		i := indexOf(Stages, st)
		if i < 0 {
			return record.Invalid(field, "chain_stage", "%q is not a stage; stages are %s", st, strings.Join(Stages, ", "))
		}
		if i <= last {
			return record.Invalid(field, "chain_order", "stages must follow the order %s, each once", strings.Join(Stages, " → "))
		}
		last = i
	}
	if chain[len(chain)-1] != StageApproval {
		return record.Invalid(field, "chain_approval", "a review chain must end with approval (审批)")
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func kindOf(name string) (Kind, error) {
	k, ok := Kinds[name]
	if !ok {
		names := make([]string, 0, len(Kinds))
		for n := range Kinds {
			names = append(names, n)
		}
		sort.Strings(names)
		return Kind{}, record.Invalid("kind", "business_kind", "%q is not a business type; the types are %s", name, strings.Join(names, ", "))
	}
	return k, nil
}

// makerPost is the post that makes drafts of a kind.
func makerPost(kind string) string {
	if p, ok := kindMaker[kind]; ok {
		return p
	}
	if kind == Maintenance {
		return MaintainerPost
	}
	return MakerPost
}

// DraftID formats a draft number for people: D000042.
func DraftID(id int64) string { return fmt.Sprintf("D%06d", id) }
