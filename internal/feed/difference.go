package feed

import (
	"slices"

	"sirec/internal/record"
)

// Severities of a difference, as the work items take them.
const (
	High   = "high"   // a person's rights are likely wrong (money, years, benefits)
	Medium = "medium" // the record is likely incomplete or out of date
	Low    = "low"    // worth a look
)

// DifferenceKind is one kind of difference a reconciliation reports.
type DifferenceKind struct {
	Name     string
	Severity string   // the usual severity; a few kinds are graver in some feeds
	Feeds    []string // the feed kinds that report it
	Title    string   // 中文
	English  string
}

// The kinds of difference.
const (
	DiffPersonNotRegistered           = "person_not_registered"
	DiffContributionMissingInRecord   = "contribution_missing_in_record"
	DiffContributionNotPaidInRecord   = "contribution_not_paid_in_record"
	DiffAmountDiffers                 = "amount_differs"
	DiffContributionMissingInFeed     = "contribution_missing_in_feed"
	DiffEmployerNotRegistered         = "employer_not_registered"
	DiffEmployerDeregistered          = "employer_deregistered"
	DiffEmployerMissingInRecord       = "employer_contribution_missing_in_record"
	DiffEmployerAmountDiffers         = "employer_amount_differs"
	DiffEmployerMissingInFeed         = "employer_contribution_missing_in_feed"
	DiffEmployerStatusConflict        = "employer_status_conflict"
	DiffEmployerNameDiffers           = "employer_name_differs"
	DiffContributionAfterDeregistered = "contribution_after_deregistration"
	DiffEnrolmentOpenAfterDeregister  = "enrolment_open_after_deregistration"
	DiffEmployerAbsentFromFeed        = "employer_missing_in_feed"
	DiffDeathNotRecorded              = "death_not_recorded"
	DiffDeathDateDiffers              = "death_date_differs"
	DiffBenefitAfterDeath             = "benefit_after_death"
	DiffContributionAfterDeath        = "contribution_after_death"
	DiffIDChangeNotRecorded           = "id_change_not_recorded"
	DiffDuplicateIdentity             = "duplicate_identity"
	DiffNameDiffers                   = "name_differs"
	DiffEnrolmentMissing              = "enrolment_missing"
	DiffEnrolmentNotStopped           = "enrolment_not_stopped"
	DiffPostMissingInFeed             = "post_missing_in_feed"
)

var (
	tax      = []string{KindTax}
	market   = []string{KindMarket}
	deaths   = []string{KindCivilAffairs, KindPublicSecurity}
	police   = []string{KindPublicSecurity}
	staffing = []string{KindStaffing}
)

// DifferenceKinds lists every kind of difference, feed by feed.
var DifferenceKinds = []DifferenceKind{
	{DiffPersonNotRegistered, High, []string{KindTax, KindStaffing}, "未参保登记：部门报送的人员在本机构没有参保登记", "the person the department reports is not registered here"},
	{DiffContributionMissingInRecord, High, tax, "记录缺少缴费：税务已征收，本机构没有该月该险种的缴费", "the tax bureau collected a month the record does not hold"},
	{DiffContributionNotPaidInRecord, Medium, tax, "缴费状态不一致：税务已征收，本机构记为应缴或欠缴", "the tax bureau collected a month the record holds as due or in arrears"},
	{DiffAmountDiffers, High, tax, "金额不一致：缴费基数或单位、个人缴纳额与税务征收不同", "the base or the amounts differ from what the tax bureau collected"},
	{DiffContributionMissingInFeed, Medium, tax, "税务缺少缴费：本机构记为已缴，税务报送中没有", "the record holds a paid month the tax bureau did not report"},
	{DiffEmployerNotRegistered, High, []string{KindTax, KindMarket, KindStaffing}, "单位未参保登记：部门报送的单位在本机构没有登记", "the employer the department reports is not registered here"},
	{DiffEmployerDeregistered, Medium, tax, "注销单位仍在缴费：税务为本机构已注销的单位征收", "the tax bureau collected for an employer the record holds as deregistered"},
	{DiffEmployerMissingInRecord, High, tax, "单位缴费缺失：税务已征收单位该月该险种，本机构没有已缴记录", "the tax bureau collected an employer's month the record holds nothing paid for"},
	{DiffEmployerAmountDiffers, High, tax, "单位金额不一致：单位合计与税务征收不同", "an employer's totals differ from what the tax bureau collected"},
	{DiffEmployerMissingInFeed, Medium, tax, "税务缺少单位缴费：本机构记为已缴，税务报送中没有", "the record holds an employer's paid month the tax bureau did not report"},
	{DiffEmployerStatusConflict, High, market, "单位状态冲突：市场监管与本机构登记的存续、注销状态不同", "market regulation and the record disagree whether the employer exists"},
	{DiffEmployerNameDiffers, Low, market, "单位名称不一致", "the employer's name differs"},
	{DiffContributionAfterDeregistered, High, market, "注销后缴费：单位注销月份之后仍有缴费记录", "contributions for months after the employer was deregistered"},
	{DiffEnrolmentOpenAfterDeregister, Medium, market, "注销后参保关系未终止", "insurance relationships with a deregistered employer are still open"},
	{DiffEmployerAbsentFromFeed, Low, market, "市场监管名录中没有：本机构存续的单位不在完整名录中", "an employer active in the record is not in the complete list"},
	{DiffDeathNotRecorded, High, deaths, "死亡未登记：部门报送死亡，本机构记录仍为正常", "the department reports a death the record does not hold"},
	{DiffDeathDateDiffers, Medium, deaths, "死亡日期不一致", "the date of death differs"},
	{DiffBenefitAfterDeath, High, deaths, "死亡后领取待遇：死亡月份之后仍有待遇发放", "benefits paid for months after the reported death"},
	{DiffContributionAfterDeath, Medium, deaths, "死亡后缴费：死亡月份之后仍有缴费", "contributions for months after the reported death"},
	{DiffIDChangeNotRecorded, High, police, "身份号码变更未登记：本机构仍以原号码登记", "the record still holds the old ID number of a change"},
	{DiffDuplicateIdentity, High, police, "重复身份：新旧两个身份号码在本机构登记为两个人", "the old and the new ID number are registered as two persons"},
	{DiffNameDiffers, Low, deaths, "姓名不一致", "the name differs"},
	{DiffEnrolmentMissing, High, staffing, "编制人员未参保：没有该单位的养老保险参保关系", "a post holder has no pension enrolment with the institution"},
	{DiffEnrolmentNotStopped, Medium, staffing, "编制已结束，参保关系未终止", "the post ended but the enrolment with the institution is open"},
	{DiffPostMissingInFeed, Low, staffing, "编制名册中没有：该单位在本机构参保的人员不在编制名册中", "a person enrolled with the institution is not in its list of posts"},
}

// DifferenceKindOf returns the named kind of difference.
func DifferenceKindOf(name string) (DifferenceKind, bool) {
	i := slices.IndexFunc(DifferenceKinds, func(k DifferenceKind) bool { return k.Name == name })
	if i < 0 {
		return DifferenceKind{}, false
	}
	return DifferenceKinds[i], true
}

// DifferenceNames lists the kinds of difference one feed kind reports.
func DifferenceNames(feedKind string) []string {
	var out []string
	for _, k := range DifferenceKinds {
		if slices.Contains(k.Feeds, feedKind) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Difference is one difference a reconciliation found between a feed and the record.
type Difference struct {
	N        int64         `json:"n"`
	Kind     string        `json:"kind"`
	Severity string        `json:"severity"`
	Line     int64         `json:"line,omitempty"`      // the feed's line, when a row of it is concerned
	Person   string        `json:"person,omitempty"`    // person key, when a registered person is concerned
	IDMasked string        `json:"id_masked,omitempty"` // the ID number, masked (I7)
	Employer string        `json:"employer,omitempty"`
	Period   record.Period `json:"period,omitempty"`
	Type     string        `json:"type,omitempty"`
	Seq      int64         `json:"seq,omitempty"` // the recorded event concerned, when one is
	Feed     string        `json:"feed_value,omitempty"`
	Record   string        `json:"record_value,omitempty"`
	Detail   string        `json:"detail"`
	// Key names the difference by what it concerns, never by its wording: the same difference found again has
	// the same key, and so the same work item.
	Key string `json:"key"`
}
