// Package access decides who outside the agency may read a person's record, and how much of it (Q1, Q6, R4.2):
// proxies holding a written authorisation on file (授权委托), for a limited time; and other bodies —
// government and judicial bodies and other units — under an application that states their credentials, purpose,
// legal basis and the fields wanted, approved by an approver for a limited time and limited fields. Every read
// it serves is written to the query log first (Q7), naming the authorisation or application; a read that
// cannot be logged is not served. Bulk export of personal data exists only through an approved application.
package access

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Field groups: the parts of a record that an authorisation or application may grant.
const (
	FieldIdentity          = "identity"           // name, masked ID number, sex, birth date
	FieldRegistration      = "registration"       // region, registration date, status, death date
	FieldEnrolments        = "enrolments"         // insurance relationships
	FieldContributions     = "contributions"      // monthly contributions
	FieldSubsidies         = "subsidies"          // subsidies received
	FieldBenefits          = "benefits"           // eligibilities and benefit payments
	FieldAccount           = "account"            // personal account year by year and balance
	FieldContributionYears = "contribution_years" // contribution months and years per insurance type
)

// FieldGroups lists every field group in display order.
var FieldGroups = []string{FieldIdentity, FieldRegistration, FieldEnrolments, FieldContributions, FieldSubsidies, FieldBenefits,
	FieldAccount, FieldContributionYears}

// FieldNames are the groups' Chinese names, for printed lists.
var FieldNames = map[string]string{FieldIdentity: "身份信息", FieldRegistration: "参保登记", FieldEnrolments: "参保关系",
	FieldContributions: "缴费记录", FieldSubsidies: "补贴", FieldBenefits: "待遇资格与领取", FieldAccount: "个人账户",
	FieldContributionYears: "缴费年限"}

// ParseFields checks a list of field groups — each known, none twice, at least one — and returns it in the order
// of FieldGroups. field names the input for errors.
func ParseFields(field string, in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, record.Invalid(field, "fields_required", "name at least one field group: %s", strings.Join(FieldGroups, ", "))
	}
	seen := map[string]bool{}
	for i, f := range in {
		f = strings.TrimSpace(f)
		if !slices.Contains(FieldGroups, f) {
			return nil, record.Invalid(fmt.Sprintf("%s[%d]", field, i), "field_group", "%q is not a field group; the groups are %s", f, strings.Join(FieldGroups, ", "))
		}
		seen[f] = true
	}
	var out []string
	for _, f := range FieldGroups {
		if seen[f] {
			out = append(out, f)
		}
	}
	return out, nil
}

// Restrict returns the parts of a record that fields grant, by group name, with the person key always: what a
// proxy or another body is shown. Groups not granted are absent, not empty.
func Restrict(v *store.PersonView, fields []string) map[string]any {
	out := map[string]any{"person": v.Person, "fields": fields}
	for _, f := range fields {
		switch f {
		case FieldIdentity:
			out[f] = map[string]string{"name": v.Name, "id_number_masked": v.IDMasked, "sex": v.Sex, "birth": v.Birth}
		case FieldRegistration:
			out[f] = map[string]string{"region": v.Region, "registered_on": v.RegisteredOn, "status": v.Status, "death_date": v.DeathDate}
		case FieldEnrolments:
			out[f] = v.Enrolments
		case FieldContributions:
			out[f] = v.Contributions
		case FieldSubsidies:
			out[f] = v.Subsidies
		case FieldBenefits:
			out[f] = map[string]any{"eligibilities": v.Eligibilities, "payments": v.Benefits}
		case FieldAccount:
			if v.Derived != nil {
				out[f] = map[string]any{"years": v.Derived.AccountYears, "balance": v.Derived.AccountBalance}
			}
		case FieldContributionYears:
			if v.Derived != nil {
				out[f] = map[string]any{"months": v.Derived.ContributionMonths, "contribution_index": v.Derived.ContributionIndex}
			}
		}
	}
	return out
}

// Columns returns the header of a flat export of fields: one row per person.
func Columns(fields []string) []string {
	h := []string{"人员编号 person"}
	for _, f := range fields {
		switch f {
		case FieldIdentity:
			h = append(h, "姓名 name", "公民身份号码 id_number_masked", "性别 sex", "出生日期 birth")
		case FieldRegistration:
			h = append(h, "参保地 region", "登记日期 registered_on", "状态 status", "死亡日期 death_date")
		case FieldEnrolments:
			h = append(h, "参保关系 enrolments")
		case FieldContributions:
			for _, t := range record.InsuranceTypes {
				h = append(h, "实缴月数 months_paid."+t, "缴费合计 paid_total."+t)
			}
		case FieldSubsidies:
			h = append(h, "补贴合计 subsidies_total")
		case FieldBenefits:
			h = append(h, "待遇资格 eligibilities", "待遇领取合计 benefits_total")
		case FieldAccount:
			h = append(h, "个人账户余额 account_balance")
		case FieldContributionYears:
			for _, t := range record.InsuranceTypes {
				h = append(h, "缴费月数 contribution_months."+t)
			}
		}
	}
	return h
}

// Row returns one person's row of a flat export of fields, matching Columns.
func Row(v *store.PersonView, fields []string) []string {
	row := []string{v.Person}
	for _, f := range fields {
		switch f {
		case FieldIdentity:
			row = append(row, v.Name, v.IDMasked, v.Sex, v.Birth)
		case FieldRegistration:
			row = append(row, v.Region, v.RegisteredOn, v.Status, v.DeathDate)
		case FieldEnrolments:
			var parts []string
			for _, e := range v.Enrolments {
				parts = append(parts, e.Type+" "+e.From+"–"+e.To+" "+e.Employer)
			}
			row = append(row, strings.Join(parts, "; "))
		case FieldContributions:
			months := map[string]map[record.Period]bool{}
			sums := map[string]record.Fen{}
			for _, c := range v.Contributions {
				if c.Status != record.StatusPaid {
					continue
				}
				if months[c.Type] == nil {
					months[c.Type] = map[record.Period]bool{}
				}
				months[c.Type][c.Period] = true
				sums[c.Type] += c.EmployerAmt + c.IndividualAmt
			}
			for _, t := range record.InsuranceTypes {
				row = append(row, strconv.Itoa(len(months[t])), sums[t].String())
			}
		case FieldSubsidies:
			var sum record.Fen
			for _, s := range v.Subsidies {
				sum += s.Amount
			}
			row = append(row, sum.String())
		case FieldBenefits:
			var kinds []string
			for _, e := range v.Eligibilities {
				kinds = append(kinds, e.Kind+" "+e.From)
			}
			sort.Strings(kinds)
			var sum record.Fen
			for _, b := range v.Benefits {
				sum += b.Amount
			}
			row = append(row, strings.Join(kinds, "; "), sum.String())
		case FieldAccount:
			bal := record.Fen(0)
			if v.Derived != nil {
				bal = v.Derived.AccountBalance
			}
			row = append(row, bal.String())
		case FieldContributionYears:
			total := map[string]int{}
			if v.Derived != nil {
				for _, m := range v.Derived.ContributionMonths {
					total[m.Type] = m.Total
				}
			}
			for _, t := range record.InsuranceTypes {
				row = append(row, strconv.Itoa(total[t]))
			}
		}
	}
	return row
}
